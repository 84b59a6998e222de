/**
 * Sightings: observations folded per (Consumer-ID, source) into time windows (default 60 s). A window
 * is keyed by its store-day too, so one never straddles midnight and a Consumer-ID never appears under
 * another day's key. Ephemeral addresses (randomized WiFi, private BLE) leave only per-window counts:
 * distinct addresses, and the estimated devices behind them (present, arriving), which is what counts
 * people on today's phones. Pure: observations in, closed windows out; the caller decides when time
 * has moved on.
 */
import { MAX_SIGHTING_CHANNELS } from '../../shared/wire/sightings-schema.js';
import { ADDRESS_CLASS_NAMES, Source, isEphemeral, type Observation } from '../decode/observation.js';
import { ESTIMATOR_VERSION, EphemeralDeviceEstimator, type WindowEstimate } from '../estimate/device-estimator.js';

export interface Sighting {
  cid: string;
  source: 'wifi' | 'ble';
  addressClass: string;
  first: number;
  last: number;
  frames: number;
  rssiMax: number | null;
  rssiMean: number | null;
  channels: number[];
  /** The beacon identity the device advertised, as its own Consumer-ID. */
  beacon?: { type: 'ibeacon' | 'eddystone'; cid: string };
}

export interface EphemeralCount {
  source: 'wifi' | 'ble';
  addressClass: string;
  devices: number;
  frames: number;
}

export interface ClosedWindow {
  /** Store-day of every Consumer-ID inside: the key epoch of the MQTT contract. */
  epoch: string;
  start: number;
  end: number;
  sightings: Sighting[];
  ephemeral: EphemeralCount[];
  /** Devices behind the ephemeral addresses, estimated (counts only, never a device). */
  estimate: WindowEstimate & { method: string };
}

interface Agg {
  s: Sighting;
  rssiSum: number;
  rssiN: number;
}

interface OpenWindow {
  epoch: string;
  start: number;
  end: number;
  byId: Map<string, Agg>;
  /** Per source|class: distinct addresses (in memory only) and frames. */
  ephemeral: Map<string, { devices: Set<number>; frames: number; source: 'wifi' | 'ble'; cls: string }>;
}

export interface BeaconIds {
  ibeacon(o: Observation): string;
  eddystone(o: Observation): string;
}

export class SightingAggregator {
  private readonly open = new Map<string, OpenWindow>();
  /** Latest observation time seen: windows that ended more than `lateMs` before it are complete. */
  private watermark = -Infinity;
  /** One estimator across windows: a device that stays is one arrival, not one per window. */
  private estimator: EphemeralDeviceEstimator | null = null;

  constructor(
    private readonly windowMs = 60_000,
    private readonly lateMs = 5_000,
  ) {}

  /**
   * Adds one observation; `cid` is null for ephemeral addresses, `day` and `dayEnd` the store-day of its
   * timestamp and when that day ends (a window is cut there).
   */
  add(o: Observation, cid: string | null, day: string, dayStart: number, dayEnd: number, beacons: BeaconIds): void {
    const ts = o.tsMs;
    if (ts > this.watermark) this.watermark = ts;
    const slot = Math.floor(ts / this.windowMs) * this.windowMs;
    const start = Math.max(slot, dayStart);
    const end = Math.min(slot + this.windowMs, dayEnd);
    const key = `${day}|${start}`;
    let w = this.open.get(key);
    if (!w) {
      w = { epoch: day, start, end, byId: new Map(), ephemeral: new Map() };
      this.open.set(key, w);
    }
    const source = o.source === Source.Wifi ? 'wifi' : 'ble';
    const beacon = o.ibeaconUuidOff >= 0 ? { type: 'ibeacon' as const, cid: beacons.ibeacon(o) } : o.eddystoneNsOff >= 0 ? { type: 'eddystone' as const, cid: beacons.eddystone(o) } : undefined;
    // A private address advertising a beacon is still a stable identity: the beacon's.
    const id = cid ?? beacon?.cid ?? null;
    if (id === null || (isEphemeral(o.addressClass) && !beacon)) {
      const cls = ADDRESS_CLASS_NAMES[o.addressClass];
      const ek = `${source}|${cls}`;
      let e = w.ephemeral.get(ek);
      if (!e) w.ephemeral.set(ek, (e = { devices: new Set(), frames: 0, source, cls }));
      e.devices.add(o.mac);
      e.frames++;
      (this.estimator ??= new EphemeralDeviceEstimator()).add(o);
      return;
    }
    const k = `${id}|${source}`;
    let a = w.byId.get(k);
    if (!a) {
      a = {
        s: { cid: id, source, addressClass: ADDRESS_CLASS_NAMES[o.addressClass], first: ts, last: ts, frames: 0, rssiMax: null, rssiMean: null, channels: [] },
        rssiSum: 0,
        rssiN: 0,
      };
      if (beacon) a.s.beacon = beacon;
      w.byId.set(k, a);
    }
    const s = a.s;
    s.frames++;
    if (ts < s.first) s.first = ts;
    if (ts > s.last) s.last = ts;
    if (!Number.isNaN(o.rssi)) {
      a.rssiSum += o.rssi;
      a.rssiN++;
      if (s.rssiMax === null || o.rssi > s.rssiMax) s.rssiMax = o.rssi;
    }
    // Capped as HQ caps it: one more channel would make HQ refuse the whole batch.
    if (o.channel && s.channels.length < MAX_SIGHTING_CHANNELS && !s.channels.includes(o.channel)) s.channels.push(o.channel);
  }

  /** Windows complete by the data's own clock (replay) or `nowMs` (live): every window when `all`. */
  takeClosed(nowMs = -Infinity, all = false): ClosedWindow[] {
    const horizon = Math.max(this.watermark, nowMs) - this.lateMs;
    const out: ClosedWindow[] = [];
    for (const [key, w] of this.open) {
      if (!all && w.end > horizon) continue;
      this.open.delete(key);
      out.push(close(w));
    }
    out.sort((a, b) => a.start - b.start);
    // In time order: the estimator attributes each device to the window it arrived in.
    if (this.estimator) for (const w of out) w.estimate = { method: ESTIMATOR_VERSION, ...rounded(this.estimator.closeWindow(w.end)) };
    return out;
  }

  get openWindows(): number {
    return this.open.size;
  }
}

function close(w: OpenWindow): ClosedWindow {
  const sightings = [...w.byId.values()].map((a) => {
    if (a.rssiN) a.s.rssiMean = Math.round((a.rssiSum / a.rssiN) * 10) / 10;
    a.s.first = Math.floor(a.s.first);
    a.s.last = Math.floor(a.s.last);
    a.s.channels.sort((x, y) => x - y);
    return a.s;
  });
  const ephemeral = [...w.ephemeral.values()].map((e) => ({ source: e.source, addressClass: e.cls, devices: e.devices.size, frames: e.frames }));
  const none = { present: 0, arrivals: 0 };
  return { epoch: w.epoch, start: w.start, end: w.end, sightings, ephemeral, estimate: { method: ESTIMATOR_VERSION, wifi: none, ble: none } };
}

/** Estimates are fractional; two decimals are plenty on the wire and keep sums over a day honest. */
function rounded(e: WindowEstimate): WindowEstimate {
  const r = (x: number) => Math.round(x * 100) / 100;
  return { wifi: { present: r(e.wifi.present), arrivals: r(e.wifi.arrivals) }, ble: { present: r(e.ble.present), arrivals: r(e.ble.arrivals) } };
}
