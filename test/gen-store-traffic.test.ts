/**
 * The demo's multi-store traffic generator: deterministic per seed, frames inside their periods and in
 * time order, read back by the project's own capture reader and edge pipeline with exactly the planned
 * malformed frames, and the behaviour HQ will judge — stable devices across stores and days, identify
 * events inside visits with stable identifiers, weak passers-by, plausible dwell and arrival curves,
 * a busy live period — checked on what was decoded, against the generator's own plan. The phones behave
 * as today's do: per-model element sets, randomized addresses rotating per burst or scan with the
 * sequence number restarting, a few percent with a global address, BLE private addresses rotating every
 * 5-15 minutes; and the per-store-day ground truth of people matches the frames written.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCaptureFile } from '../agents/capture/file-reader.js';
import { AddressClass, Source, WifiFrame, macFirstOctet } from '../agents/decode/observation.js';
import { EdgePipeline } from '../agents/pipeline/edge-pipeline.js';
import { StoreNetworkWatcher } from '../agents/pipeline/store-networks.js';
import { Pseudonymizer } from '../agents/pseudonymize/pseudonymizer.js';
import { buildVisits, type SightingRow } from '../cloud/analytics/visits.js';
import { StoreDayClock } from '../shared/identity/store-day.js';
import { parseMac } from '../shared/identity/mac.js';
import { buildPopulation, DEFAULT_GLOBAL_SHARE, GUEST_AP_BASE, GUEST_SSID, generateStoreTraffic, macText, planTraffic, stayFrames, type Stay, type StayFrame, type StoreTraffic, type TrafficOptions, type TrafficTruth } from '../scripts/gen-store-traffic.js';
import { PHONE_MODELS } from '../scripts/lib/phone-models.js';

const TZ = 'Europe/Berlin';
const DAY = 86_400_000;
const MIN = 60_000;
const TODAY = Date.parse('2026-11-23T00:00:00+01:00'); // a Monday, local midnight
const LIVE_START = TODAY + 14.5 * 3_600_000;
const STORES = ['berlin-1', 'hamburg-1', 'munich-1'];

interface Obs {
  ts: number;
  mac: number;
  rssi: number;
  cls: AddressClass;
  beacon: boolean;
  wifi: boolean;
  /** A WiFi probe request (not a guest WiFi phone's frame to the store's AP). */
  probe: boolean;
  seq: number;
  /** WiFi: the elements as `id:hex`, the DS Parameter Set's channel masked; '' for BLE. */
  ies: string;
  ssidLen: number;
  /** BLE payload shape. */
  companyId: number;
  adLen: number;
  txPower: number;
}

function ieKey(buf: Uint8Array, off: number, len: number): string {
  const parts: string[] = [];
  for (let p = off; p + 2 <= off + len; ) {
    const id = buf[p]!;
    const l = buf[p + 1]!;
    parts.push(id === 3 ? '3:ch' : `${id}:${Buffer.from(buf.subarray(p + 2, p + 2 + l)).toString('hex')}`);
    p += 2 + l;
  }
  return parts.join(' ');
}

interface Decoded {
  t: StoreTraffic;
  frames: number;
  malformed: number;
  others: number;
  linktypes: number[];
  corrupt: boolean;
  truncated: boolean;
  obs: Obs[];
  ordered: boolean;
  minTs: number;
  maxTs: number;
}

function decode(t: StoreTraffic): Decoded {
  const pseudo = new Pseudonymizer({ secret: new Uint8Array(32), tenant: 't', timezone: TZ });
  const obs: Obs[] = [];
  let last = -Infinity;
  let ordered = true;
  let minTs = Infinity;
  let maxTs = -Infinity;
  // As the demo's agents do: the chain's guest WiFi watched (the stores' access points listed).
  const guest = new StoreNetworkWatcher([{ ssid: GUEST_SSID, bssids: Array.from({ length: 10 }, (_, i) => macText(GUEST_AP_BASE + i)) }]);
  const pipeline = new EdgePipeline(pseudo, (o) => {
    const wifi = o.source === Source.Wifi;
    obs.push({
      ts: o.tsMs,
      mac: o.mac,
      rssi: o.rssi,
      cls: o.addressClass,
      beacon: o.ibeaconUuidOff >= 0 || o.eddystoneNsOff >= 0,
      wifi,
      probe: wifi && o.frame === WifiFrame.ProbeRequest,
      seq: o.seq,
      ies: wifi ? ieKey(o.buf, o.ieOff, o.ieLen) : '',
      ssidLen: o.ssidLen,
      companyId: o.companyId,
      adLen: o.adLen,
      txPower: o.txPower,
    });
  }, guest);
  const read = readCaptureFile(t.file, (linktype, buf, off, caplen, origLen, tsMs) => {
    if (tsMs < last) ordered = false;
    last = tsMs;
    minTs = Math.min(minTs, tsMs);
    maxTs = Math.max(maxTs, tsMs);
    pipeline.onRecord(linktype, buf, off, caplen, origLen, tsMs);
  });
  const c = pipeline.counters;
  return { t, frames: c.frames, malformed: c.malformed, others: c.ignored + c.unsupported + c.optedOut, linktypes: read.linktypes, corrupt: read.corrupt !== null, truncated: read.truncated !== null, obs, ordered, minTs, maxTs };
}

/** HQ's view: 60-s sightings per stable address (no beacons), then HQ's own visit rules. */
function hqVisits(files: Decoded[], keep: (o: Obs) => boolean) {
  const clock = new StoreDayClock(TZ);
  const rows = new Map<string, SightingRow>();
  for (const f of files) {
    for (const o of f.obs) {
      if (o.beacon || !keep(o)) continue;
      const epoch = clock.dayOf(o.ts);
      const k = `${f.t.store}|${epoch}|${o.mac}|${Math.floor(o.ts / MIN)}`;
      const r = rows.get(k);
      if (!r) rows.set(k, { store: f.t.store, epoch, cid: String(o.mac), first: o.ts, last: o.ts, frames: 1, rssiMax: o.rssi });
      else {
        r.last = Math.max(r.last, o.ts);
        r.frames++;
        r.rssiMax = Math.max(r.rssiMax!, o.rssi);
      }
    }
  }
  return buildVisits([...rows.values()]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Owner {
  person: number;
  kind: Stay['kind'];
  device: StayFrame['device'];
}

/** Every address the generator planned, with whose device it is (from its own stays, all periods). */
function owners(plan: ReturnType<typeof planTraffic>): Map<number, Owner> {
  const m = new Map<number, Owner>();
  for (const pp of plan.periods) for (const st of pp.stays) for (const f of stayFrames(plan.people, st)) m.set(f.mac, { person: st.person, kind: st.kind, device: f.device });
  return m;
}
const stable = (cls: AddressClass) => cls === AddressClass.WifiGlobal || cls === AddressClass.BlePublic || cls === AddressClass.BleStatic;

describe('gen-store-traffic', () => {
  let root: string;
  let opts: TrafficOptions;
  let res: { traffic: StoreTraffic[]; truth: TrafficTruth };
  let decoded: Decoded[];
  let plan: ReturnType<typeof planTraffic>;
  let own: Map<number, Owner>;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'gen-store-traffic-'));
    opts = {
      stores: STORES,
      customers: 900,
      seed: 42,
      timezone: TZ,
      periods: [
        { name: 'history', startMs: TODAY - 7 * DAY, endMs: TODAY },
        { name: 'live', startMs: LIVE_START, endMs: LIVE_START + 3 * MIN },
      ],
      outDir: join(root, 'a'),
      busy: true,
    };
    res = generateStoreTraffic(opts);
    decoded = res.traffic.map(decode);
    plan = planTraffic(opts);
    own = owners(plan);
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const files = (period: string) => decoded.filter((d) => d.t.period === period);

  it('writes one pcapng per store and period, named as promised', () => {
    expect(res.traffic.map((t) => `${t.store}-${t.period}`).sort()).toEqual(STORES.flatMap((s) => [`${s}-history`, `${s}-live`]).sort());
    for (const t of res.traffic) expect(t.file).toBe(join(opts.outDir, `${t.store}-${t.period}.pcapng`));
    expect(readdirSync(opts.outDir).sort()).toEqual(res.traffic.map((t) => `${t.store}-${t.period}.pcapng`).sort());
  });

  it('is deterministic per seed: same files and events; another seed differs', () => {
    const again = generateStoreTraffic({ ...opts, outDir: join(root, 'b') });
    expect(again.truth).toEqual(res.truth);
    expect(again.traffic.map((t) => ({ ...t, file: '' }))).toEqual(res.traffic.map((t) => ({ ...t, file: '' })));
    for (let i = 0; i < res.traffic.length; i++) expect(readFileSync(again.traffic[i]!.file).equals(readFileSync(res.traffic[i]!.file))).toBe(true);
    const other = generateStoreTraffic({ ...opts, seed: 43, outDir: join(root, 'c') });
    expect(readFileSync(other.traffic[0]!.file).equals(readFileSync(res.traffic[0]!.file))).toBe(false);
    expect(other.truth.optedOutMacs).not.toEqual(res.truth.optedOutMacs);
  });

  it('decodes cleanly with the edge pipeline: only the planned malformed frames, in time order, inside the period', () => {
    for (const d of decoded) {
      const p = opts.periods.find((x) => x.name === d.t.period)!;
      expect(d.corrupt || d.truncated).toBe(false);
      expect(d.linktypes).toEqual([127, 256]);
      expect(d.frames).toBe(d.t.frames);
      expect(d.malformed).toBe(d.t.malformed);
      expect(d.others).toBe(0);
      expect(d.obs.length).toBe(d.frames - d.malformed);
      expect(d.malformed).toBeLessThanOrEqual(Math.max(3, d.frames * 0.003));
      expect(d.ordered).toBe(true);
      // Timestamps come back through pcapng's microsecond units: allow that rounding.
      expect(d.minTs).toBeGreaterThanOrEqual(p.startMs - 0.001);
      expect(d.maxTs).toBeLessThan(p.endMs);
    }
    const all = decoded.reduce((n, d) => n + d.malformed, 0);
    expect(all).toBe(res.truth.malformed);
    expect(all).toBeGreaterThan(0); // the robustness share is really there
    expect(res.truth.frames).toBe(decoded.reduce((n, d) => n + d.frames, 0));
  });

  it('has both sources: randomized phones, a few with a global address, rotating BLE, bands and the stores\' fixed beacons', () => {
    const h = files('history');
    const macs = (f: (o: Obs) => boolean) => new Set(h.flatMap((d) => d.obs.filter(f).map((o) => o.mac))).size;
    const global = macs((o) => o.cls === AddressClass.WifiGlobal);
    const randomized = macs((o) => o.cls === AddressClass.WifiRandomized);
    // A few percent of phones keep a global address; the rest rotate, many addresses per visit.
    expect(global).toBeGreaterThan(5);
    expect(randomized).toBeGreaterThan(global * 50);
    expect(macs((o) => o.cls === AddressClass.BleRpa)).toBeGreaterThan(1000);
    expect(macs((o) => o.cls === AddressClass.BleNrpa)).toBe(0);
    // Fitness bands keep a public or static address, as watches did.
    expect(macs((o) => (o.cls === AddressClass.BlePublic || o.cls === AddressClass.BleStatic) && !o.beacon)).toBeGreaterThan(30);
    // Two iBeacons and one Eddystone-UID per store, the same devices in every period, different per store.
    for (const store of STORES) {
      const per = decoded.filter((d) => d.t.store === store).map((d) => [...new Set(d.obs.filter((o) => o.beacon).map((o) => o.mac))].sort());
      expect(per[0]!.length).toBe(3);
      for (const p of per) expect(p).toEqual(per[0]);
    }
    expect(new Set(decoded.flatMap((d) => d.obs.filter((o) => o.beacon).map((o) => o.mac))).size).toBe(3 * STORES.length);
    // Every decoded address is one the generator planned for someone (or a beacon).
    expect(decoded.flatMap((d) => d.obs.filter((o) => !o.beacon && !own.has(o.mac)))).toEqual([]);
  });

  it('probes with a global address on a few percent of phones only (globalShare), opted-out customers always', () => {
    const customers = plan.people;
    const global = customers.filter((p) => p.globalMac !== null);
    const share = global.filter((p) => !p.optedOut).length / customers.length;
    expect(share).toBeGreaterThan(0.02);
    expect(share).toBeLessThan(0.07);
    expect(Math.abs(share - DEFAULT_GLOBAL_SHARE)).toBeLessThan(0.02);
    for (const p of global) expect(PHONE_MODELS[p.model]!.globalAddress).toBe(true);
    for (const p of customers.filter((x) => x.globalMac === null)) expect(PHONE_MODELS[p.model]!.globalAddress).toBe(false);
    for (const p of customers.filter((x) => x.optedOut)) expect(p.globalMac).not.toBeNull();
    // Only phones with a global address ever ask for a network by name.
    for (const p of customers.filter((x) => x.directed)) expect(p.globalMac).not.toBeNull();
    expect(decoded.flatMap((d) => d.obs.filter((o) => o.cls === AddressClass.WifiRandomized && o.ssidLen !== 0))).toEqual([]);
    // The option moves it, deterministically.
    const none = buildPopulation({ ...opts, globalShare: 0 });
    expect(none.filter((p) => p.globalMac !== null).every((p) => p.optedOut)).toBe(true);
    const many = buildPopulation({ ...opts, globalShare: 0.3 });
    const manyShare = many.filter((p) => p.globalMac !== null).length / many.length;
    expect(manyShare).toBeGreaterThan(0.25);
    expect(manyShare).toBeLessThan(0.35);
    expect(() => planTraffic({ ...opts, globalShare: 2 })).toThrow(/globalShare/);
  });

  it('gives every phone model its own information elements, identical on every phone of the model', () => {
    const byModel = new Map<string, Set<string>>();
    for (const d of decoded) {
      for (const o of d.obs) {
        if (!o.probe || o.ssidLen !== 0) continue;
        const model = PHONE_MODELS[plan.people[own.get(o.mac)!.person]!.model]!.id;
        if (!byModel.has(model)) byModel.set(model, new Set());
        byModel.get(model)!.add(o.ies);
      }
    }
    expect(byModel.size).toBeGreaterThanOrEqual(11);
    for (const [model, sets] of byModel) expect([...sets], model).toHaveLength(1);
    const sets = [...byModel.values()].map((x) => [...x][0]!);
    expect(new Set(sets).size).toBe(sets.length);
    // Realistic order: wildcard SSID, rates, extended rates, DS Parameter Set, then capabilities and vendors.
    for (const ies of sets) {
      const ids = ies.split(' ').map((e) => Number(e.split(':')[0]));
      expect(ids.slice(0, 4)).toEqual([0, 1, 50, 3]);
      expect(ids).toContain(45); // HT capabilities
      expect(ids).toContain(127); // extended capabilities
      expect(ids.indexOf(221) < 0 || ids.indexOf(221) > ids.indexOf(45)).toBe(true);
    }
    // The vendors of the table are there: Apple, Microsoft WPS (type 4), Broadcom, Qualcomm, Wi-Fi Alliance.
    const all = sets.join(' ');
    for (const v of ['221:0017f20a', '221:0050f204', '221:00101802', '221:8cfdf001', '221:506f9a16']) expect(all).toContain(v);
  });

  it('rotates randomized addresses per burst (iOS) or per scan (Android), the sequence number restarting with each', () => {
    const h = plan.periods.find((p) => p.period.name === 'history')!.stays.filter((s) => s.kind === 'visit');
    let iosBursts = 0;
    let iosAddresses = 0;
    let restarts = 0;
    let continued = 0;
    const checked = new Set<string>();
    const wrong: string[] = [];
    for (const st of h) {
      const p = plan.people[st.person]!;
      const model = PHONE_MODELS[p.model]!;
      // Probe bursts (a guest WiFi phone's frames to the store's AP are no burst: burst -1).
      const wifi = stayFrames(plan.people, st).filter((f) => f.source === 'wifi' && f.burst >= 0);
      const bursts = new Set(wifi.map((f) => f.burst)).size;
      const addresses = new Set(wifi.map((f) => f.mac)).size;
      if (p.globalMac !== null) {
        expect(addresses).toBe(1);
        continue;
      }
      if (model.id.startsWith('iphone')) {
        iosBursts += bursts;
        iosAddresses += addresses;
      }
      if (model.rotation.perBurst === 1) expect(addresses).toBe(bursts); // a new address per scan
      for (let i = 1; i < wifi.length; i++) {
        const a = wifi[i - 1]!;
        const b = wifi[i]!;
        const step = (b.seq - a.seq + 4096) % 4096;
        if (a.mac === b.mac) {
          // Counting up within an address (the unheard channels in between skip a few).
          if (step < 1 || step > 16) wrong.push(`${model.id} same address: +${step}`);
        } else if (model.rotation.seq === 'restart') {
          if (step <= 255) wrong.push(`${model.id} new address: +${step}`); // restarted at a random value
          restarts++;
        } else {
          if (step > 16) wrong.push(`${model.id} new address, counting on: +${step}`); // older phones keep counting
          continued++;
        }
        checked.add(model.id);
      }
      // Every randomized address is locally administered and unicast.
      for (const f of wifi) if ((macFirstOctet(f.mac) & 0x03) !== 0x02) wrong.push(`${model.id} address ${macText(f.mac)}`);
    }
    expect(wrong).toEqual([]);
    expect(iosAddresses / iosBursts).toBeGreaterThan(0.5);
    expect(restarts).toBeGreaterThan(1000);
    expect(continued).toBeGreaterThan(10);
    expect(checked.size).toBeGreaterThanOrEqual(10);
    // What the file holds is what was planned: the decoded sequence numbers, frame by frame.
    const seqs = new Map<string, number>();
    for (const d of files('history')) for (const o of d.obs) if (o.wifi) seqs.set(`${o.mac}|${Math.round(o.ts * 1000)}`, o.seq);
    const period = opts.periods[0]!;
    let compared = 0;
    let differ = 0;
    for (const st of h.slice(0, 200)) {
      for (const f of stayFrames(plan.people, st)) {
        if (f.source !== 'wifi' || f.ts < period.startMs || f.ts >= period.endMs) continue;
        if (seqs.get(`${f.mac}|${Math.round(f.ts * 1000)}`) !== f.seq) differ++;
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(1000);
    expect(differ).toBe(0);
  });

  it('rotates BLE private addresses every 5-15 minutes per device, keeping its payload shape', () => {
    const h = plan.periods.find((p) => p.period.name === 'history')!.stays.filter((s) => s.kind === 'visit');
    const lifetimes: number[] = [];
    for (const st of h) {
      const frames = stayFrames(plan.people, st).filter((f) => f.source === 'ble');
      for (const device of ['phoneBle', 'wearable'] as const) {
        const fs = frames.filter((f) => f.device === device);
        const firstSeen: number[] = [];
        for (let i = 0; i < fs.length; i++) if (i === 0 || fs[i]!.mac !== fs[i - 1]!.mac) firstSeen.push(fs[i]!.ts);
        // Between the first frames of two full lifetimes (one sampling interval either way).
        for (let i = 2; i < firstSeen.length; i++) lifetimes.push(firstSeen[i]! - firstSeen[i - 1]!);
        expect(new Set(fs.map((f) => f.mac)).size).toBe(firstSeen.length); // an address never comes back
      }
    }
    expect(lifetimes.length).toBeGreaterThan(100);
    for (const l of lifetimes) {
      expect(l).toBeGreaterThan(5 * MIN - 40_000);
      expect(l).toBeLessThan(15 * MIN + 40_000);
    }
    // Decoded: private addresses are resolvable (top bits 01); one payload shape per device.
    const shape = new Map<string, Set<string>>();
    let rpa = 0;
    for (const d of files('history')) {
      for (const o of d.obs) {
        if (o.wifi || o.beacon) continue;
        const w = own.get(o.mac)!;
        if (o.cls === AddressClass.BleRpa) rpa++;
        const k = `${w.person}|${w.device}`;
        if (!shape.has(k)) shape.set(k, new Set());
        shape.get(k)!.add(`${o.companyId}|${o.adLen}|${o.txPower}`);
      }
    }
    expect(rpa).toBeGreaterThan(10_000);
    // Every rotating device's address decodes as resolvable (top bits 01), every band's as stable.
    const rotating = (o: Obs) => own.get(o.mac)!.device === 'phoneBle' || plan.people[own.get(o.mac)!.person]!.wearable?.mac === null;
    const ble = files('history').flatMap((d) => d.obs.filter((o) => !o.wifi && !o.beacon));
    expect(ble.filter((o) => rotating(o) !== (o.cls === AddressClass.BleRpa && macFirstOctet(o.mac) >> 6 === 1))).toEqual([]);
    for (const [k, v] of shape) expect([...v], k).toHaveLength(1);
    const companies = new Set([...shape.values()].map((v) => Number([...v][0]!.split('|')[0])));
    for (const c of [0x004c, 0x0075, 0x00e0, 0x0087]) expect(companies.has(c)).toBe(true);
  });

  it('follows stable devices (global phones, fitness bands) across stores and days, exactly as planned', () => {
    const clock = new StoreDayClock(TZ);
    const where = new Map<number, { stores: Set<string>; days: Set<string> }>();
    for (const d of files('history')) {
      for (const o of d.obs) {
        if (o.beacon || !stable(o.cls)) continue;
        let w = where.get(o.mac);
        if (!w) where.set(o.mac, (w = { stores: new Set(), days: new Set() }));
        w.stores.add(d.t.store);
        w.days.add(clock.dayOf(o.ts));
      }
    }
    // The plan says the same: every stable device's stores and days, from the stays' frames.
    const history = opts.periods[0]!;
    const planned = new Map<number, { stores: Set<string>; days: Set<string> }>();
    for (const st of plan.periods.find((p) => p.period.name === 'history')!.stays) {
      for (const f of stayFrames(plan.people, st)) {
        const cls = own.get(f.mac)!;
        const p = plan.people[cls.person]!;
        if (f.ts < history.startMs || f.ts >= history.endMs) continue;
        if (f.mac !== p.globalMac && f.mac !== p.wearable?.mac) continue;
        let w = planned.get(f.mac);
        if (!w) planned.set(f.mac, (w = { stores: new Set(), days: new Set() }));
        w.stores.add(STORES[st.store]!);
        w.days.add(clock.dayOf(f.ts));
      }
    }
    expect(where).toEqual(planned);
    const multiStore = [...where.values()].filter((w) => w.stores.size > 1).length;
    const multiDay = [...where.values()].filter((w) => w.days.size > 1).length;
    expect(multiStore).toBeGreaterThanOrEqual(3);
    expect(multiDay).toBeGreaterThanOrEqual(10);
    // The live period's stable devices are history's: the same population.
    const live = new Set(files('live').flatMap((d) => d.obs.filter((o) => !o.beacon && stable(o.cls)).map((o) => o.mac)));
    expect([...live].filter((m) => where.has(m)).length).toBeGreaterThan(live.size / 2);
    expect(res.truth.multiStoreCustomers).toBeGreaterThan(0);
    expect(res.truth.returningCustomers).toBeGreaterThan(res.truth.multiStoreCustomers / 2);
  });

  it('puts identify events inside visits of the right store, with each customer\'s stable identifiers', () => {
    const events = res.traffic.flatMap((t) => t.identifies);
    expect(events.length).toBeGreaterThan(10);
    const byStore = new Map(decoded.map((d) => [`${d.t.store}|${d.t.period}`, d]));
    const optedOut = new Set(res.truth.optedOutMacs);
    const person = new Map<string, string>(); // any identifier -> email
    let randomized = 0;
    let connected = 0;
    for (const t of res.traffic) {
      const p = opts.periods.find((x) => x.name === t.period)!;
      expect(t.identifies.map((e) => e.tsMs)).toEqual([...t.identifies].map((e) => e.tsMs).sort((a, b) => a - b));
      for (const e of t.identifies) {
        expect(e.store).toBe(t.store);
        expect(Number.isInteger(e.tsMs) && e.tsMs >= p.startMs && e.tsMs < p.endMs).toBe(true);
        expect(optedOut.has(e.mac)).toBe(false);
        const mac = parseMac(e.mac);
        expect(e.mac).toBe(macText(mac));
        // The device is in this store at that moment (a probe burst within the millisecond)...
        const here = byStore.get(`${t.store}|${t.period}`)!.obs.filter((o) => o.mac === mac);
        expect(here.some((o) => o.ts >= e.tsMs && o.ts < e.tsMs + 1)).toBe(true);
        // ...and within a visit: seen minutes around it, nowhere else.
        for (const d of decoded) if (d.t.store !== t.store) expect(d.obs.some((o) => o.mac === mac && Math.abs(o.ts - e.tsMs) < 30 * MIN)).toBe(false);
        const ids = [e.email, e.phone, e.loyaltyId].filter((x) => x !== undefined);
        if (e.connected) {
          // The captive portal: the phone's per-network address, connected to the guest WiFi; its e-mail.
          connected++;
          expect(macFirstOctet(mac) & 0x02).toBe(2);
          expect(ids).toEqual([e.email]);
          expect(here.some((o) => o.ts >= e.tsMs && o.ts < e.tsMs + 1 && o.cls === AddressClass.WifiAssociated && !o.probe)).toBe(true);
        } else if (macFirstOctet(mac) & 0x02) {
          randomized++;
          expect(ids.length).toBe(2); // a randomized address cannot be linked: two identifiers
        } else expect(ids.length).toBeGreaterThanOrEqual(1);
        if (e.email) expect(e.email).toMatch(/^customer-\d+@example\.com$/);
        if (e.phone) expect(e.phone).toMatch(/^\+49 30 \d{7}$/);
        if (e.loyaltyId) expect(e.loyaltyId).toMatch(/^OL-\d{8}$/);
      }
    }
    expect(randomized).toBeGreaterThan(0);
    expect(connected).toBeGreaterThan(0);
    // The same customer always gives the same identifiers (from the population the generator drew).
    const people = plan.people;
    for (const e of events) {
      const p = people.find((x) => (e.email && x.email === e.email) || (e.loyaltyId && x.loyaltyId === e.loyaltyId) || (e.phone && x.phone === e.phone))!;
      expect(p).toBeDefined();
      if (e.email) expect(e.email).toBe(p.email);
      if (e.phone) expect(e.phone).toBe(p.phone);
      if (e.loyaltyId) expect(e.loyaltyId).toBe(p.loyaltyId);
      if (p.globalMac !== null) expect(e.mac).toBe(macText(p.globalMac));
      person.set(e.email ?? e.loyaltyId ?? e.phone!, p.email);
    }
    // Several customers identify on more than one day: the cloud can stitch their days.
    const days = new Map<string, Set<number>>();
    for (const e of events) {
      const k = person.get(e.email ?? e.loyaltyId ?? e.phone!)!;
      if (!days.has(k)) days.set(k, new Set());
      days.get(k)!.add(Math.floor(e.tsMs / DAY));
    }
    expect([...days.values()].filter((d) => d.size > 1).length).toBeGreaterThanOrEqual(2);
  });

  it('keeps consent stable per customer, with the reported handful changing their mind once', () => {
    const byPerson = new Map<string, boolean[]>();
    for (const e of res.traffic.flatMap((t) => t.identifies).sort((a, b) => a.tsMs - b.tsMs)) {
      const p = plan.people.find((x) => x.email === e.email || (e.loyaltyId !== undefined && x.loyaltyId === e.loyaltyId))!;
      if (!byPerson.has(p.email)) byPerson.set(p.email, []);
      byPerson.get(p.email)!.push(e.consent.marketing);
    }
    let changed = 0;
    for (const seq of byPerson.values()) {
      const switches = seq.filter((c, i) => i > 0 && c !== seq[i - 1]).length;
      expect(switches).toBeLessThanOrEqual(1);
      changed += switches;
    }
    expect(changed).toBe(res.truth.consentChanges);
    expect(changed).toBeGreaterThanOrEqual(1);
    const yes = plan.people.filter((p) => p.kind !== 'staff' && p.consent).length / plan.people.filter((p) => p.kind !== 'staff').length;
    expect(yes).toBeGreaterThan(0.6);
    expect(yes).toBeLessThan(0.8);
  });

  it('never writes e-mails, phones or loyalty ids to disk', () => {
    for (const t of res.traffic) {
      const bytes = readFileSync(t.file).toString('latin1');
      expect(bytes.includes('@example.com')).toBe(false);
      expect(bytes.includes('OL-')).toBe(false);
      expect(bytes.includes('+49 30')).toBe(false);
    }
  });

  it('returns opted-out customers\' stable phones, which are really in the captures', () => {
    expect(res.truth.optedOutMacs.length).toBeGreaterThanOrEqual(2);
    expect(res.truth.optedOutMacs.length).toBeLessThanOrEqual(3);
    const seen = new Set(decoded.flatMap((d) => d.obs.map((o) => o.mac)));
    for (const m of res.truth.optedOutMacs) {
      expect(m).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      expect(macFirstOctet(parseMac(m)) & 0x03).toBe(0); // global, unicast
      expect(seen.has(parseMac(m))).toBe(true);
    }
  });

  it('shows passers-by weak and brief, visitors close; HQ judges them exactly as planned', () => {
    const h = files('history');
    const range = { passerBy: [Infinity, -Infinity, 0], other: [Infinity, -Infinity, 0] };
    for (const d of h) {
      for (const o of d.obs) {
        if (o.beacon) continue;
        const r = range[plan.people[own.get(o.mac)!.person]!.kind === 'passerBy' ? 'passerBy' : 'other'];
        r[0] = Math.min(r[0]!, o.rssi);
        r[1] = Math.max(r[1]!, o.rssi);
        r[2]!++;
      }
    }
    // Every device of a passer-by weak, every device of a visitor (or staff) between -75 and -40 dBm.
    expect(range.passerBy[0]).toBeGreaterThanOrEqual(-88);
    expect(range.passerBy[1]).toBeLessThanOrEqual(-72);
    expect(range.passerBy[2]).toBeGreaterThan(1000);
    expect(range.other[0]).toBeGreaterThanOrEqual(-75);
    expect(range.other[1]).toBeLessThanOrEqual(-40);

    // Stable devices in history (global phones, bands): every planned visit and staff shift with a frame
    // of the device is one HQ visitor visit, every pass one pass-by.
    const period = opts.periods[0]!;
    const expected = { visitor: 0, passerBy: 0 };
    for (const st of plan.periods.find((p) => p.period.name === 'history')!.stays) {
      const p = plan.people[st.person]!;
      const heard = new Set(stayFrames(plan.people, st).filter((f) => f.ts >= period.startMs && f.ts < period.endMs && (f.mac === p.globalMac || f.mac === p.wearable?.mac)).map((f) => f.mac));
      expected[st.kind === 'pass' ? 'passerBy' : 'visitor'] += heard.size;
    }
    const visits = hqVisits(h, (o) => stable(o.cls));
    expect(expected.visitor).toBeGreaterThan(100);
    expect(expected.passerBy).toBeGreaterThan(100);
    expect(visits.filter((v) => v.visitor).length).toBe(expected.visitor);
    expect(visits.filter((v) => !v.visitor).length).toBe(expected.passerBy);

    // Dwell of customers' visits (staff excluded) as HQ measures it: most 5-30 min, some longer.
    const staff = new Set(plan.people.filter((p) => p.kind === 'staff').flatMap((p) => [p.globalMac, p.wearable?.mac]).map(String));
    const dwell = hqVisits(h, (o) => stable(o.cls))
      .filter((v) => v.visitor && !staff.has(v.cid))
      .map((v) => (v.end - v.start) / MIN);
    expect(dwell.length).toBeGreaterThan(60);
    expect(median(dwell)).toBeGreaterThan(5);
    expect(median(dwell)).toBeLessThan(30);
    const long = dwell.filter((m) => m >= 30).length / dwell.length;
    expect(long).toBeGreaterThan(0.03);
    expect(long).toBeLessThan(0.3);
    expect(Math.max(...dwell)).toBeLessThanOrEqual(95);
  });

  it('follows a daily curve in opening hours: lunch and after-work peaks over a quiet morning, closed on Sunday', () => {
    const hour = new Intl.DateTimeFormat('en-GB', { timeZone: TZ, hour: '2-digit', hourCycle: 'h23' });
    const weekday = new Intl.DateTimeFormat('en-GB', { timeZone: TZ, weekday: 'short' });
    const byHour = Array.from({ length: 24 }, () => 0);
    const visits = plan.periods.find((p) => p.period.name === 'history')!.stays.filter((s) => s.kind === 'visit');
    for (const s of visits) {
      byHour[Number(hour.format(new Date(s.start)))]!++;
      expect(weekday.format(new Date(s.start))).not.toBe('Sun');
    }
    expect(byHour.slice(0, 9).concat(byHour.slice(20)).every((n) => n === 0)).toBe(true);
    expect(byHour[12]! + byHour[13]!).toBeGreaterThan(1.5 * (byHour[9]! + byHour[10]!));
    expect(byHour[17]! + byHour[18]!).toBeGreaterThan(1.5 * (byHour[9]! + byHour[10]!));
  });

  it('packs the busy live period: dozens present at once in every store, short visits', () => {
    for (const d of files('live')) {
      const mid = LIVE_START + 1.5 * MIN;
      const present = new Set(d.obs.filter((o) => !o.beacon && o.rssi > -72 && Math.abs(o.ts - mid) <= 30_000).map((o) => `${o.mac}`));
      expect(present.size).toBeGreaterThanOrEqual(24);
    }
    const visits = hqVisits(files('live'), (o) => stable(o.cls));
    const customers = visits.filter((v) => v.visitor && v.end - v.start < 30 * MIN);
    expect(customers.length).toBeGreaterThan(20);
    expect(median(customers.map((v) => v.end - v.start))).toBeLessThan(4 * MIN);
    expect(res.traffic.filter((t) => t.period === 'live').reduce((n, t) => n + t.identifies.length, 0)).toBeGreaterThan(0);
  });

  it('reports a consistent ground truth', () => {
    const t = res.truth;
    expect(Object.values(t.customersByKind).reduce((a, b) => a + b, 0)).toBe(opts.customers);
    expect(Object.keys(t.customersByKind).sort()).toEqual(['multiStore', 'occasional', 'passerBy', 'regular', 'staff']);
    expect(t.passersBy).toBeGreaterThan(t.customersByKind.passerBy! / 2);
    expect(t.passersBy).toBeLessThanOrEqual(t.customersByKind.passerBy!);
    expect(t.visitors).toBeLessThanOrEqual(opts.customers - t.customersByKind.passerBy! - t.customersByKind.staff!);
    expect(t.visits).toBeGreaterThan(t.visitors);
    expect(t.identifies).toBe(res.traffic.reduce((n, x) => n + x.identifies.length, 0));
  });

  it('counts people per store-day as a door counter would, against the addresses a naive count sees, consistent with the frames', () => {
    const clock = new StoreDayClock(TZ, 0);
    const hourOf = new Intl.DateTimeFormat('en-GB', { timeZone: TZ, hour: '2-digit', hourCycle: 'h23' });
    interface Tally { wifi: Set<number>; ble: Set<number>; first: Map<number, number>; staff: Set<number>; global: Set<number>; wifiPhones: Set<number> }
    const seen = new Map<string, Tally>();
    for (const d of decoded) {
      for (const o of d.obs) {
        const k = `${d.t.store}|${clock.dayOf(o.ts)}`;
        let t = seen.get(k);
        if (!t) seen.set(k, (t = { wifi: new Set(), ble: new Set(), first: new Map(), staff: new Set(), global: new Set(), wifiPhones: new Set() }));
        (o.wifi ? t.wifi : t.ble).add(o.mac);
        if (o.beacon) continue;
        const pi = own.get(o.mac)!.person;
        if (o.wifi) t.wifiPhones.add(pi);
        if (plan.people[pi]!.kind === 'staff') {
          t.staff.add(pi);
          continue;
        }
        t.first.set(pi, Math.min(t.first.get(pi) ?? Infinity, o.ts));
        if (o.cls === AddressClass.WifiGlobal) t.global.add(pi);
      }
    }
    const truth = res.truth.people;
    expect(Object.keys(truth).sort()).toEqual([...STORES].sort());
    let n = 0;
    let people = 0;
    let wifiAddresses = 0;
    let global = 0;
    for (const [k, t] of seen) {
      const [store, day] = k.split('|') as [string, string];
      const f = truth[store]![day]!;
      expect(f, k).toBeDefined();
      n++;
      const visitors = [...t.first.keys()].filter((pi) => plan.people[pi]!.kind !== 'passerBy');
      const arrivals = Array<number>(24).fill(0);
      const passes = Array<number>(24).fill(0);
      for (const [pi, ts] of t.first) (plan.people[pi]!.kind === 'passerBy' ? passes : arrivals)[Number(hourOf.format(new Date(ts)))]!++;
      expect(f, k).toEqual({
        people: t.first.size,
        visitors: visitors.length,
        passersBy: t.first.size - visitors.length,
        staff: t.staff.size,
        globalPhones: t.global.size,
        wifiPhones: t.wifiPhones.size,
        wifiAddresses: t.wifi.size,
        bleAddresses: t.ble.size,
        arrivalsByHour: arrivals,
        passersByHour: passes,
      });
      expect(f.people).toBe(f.visitors + f.passersBy);
      expect(f.arrivalsByHour.reduce((a, b) => a + b, 0)).toBe(f.visitors);
      expect(f.passersByHour.reduce((a, b) => a + b, 0)).toBe(f.passersBy);
      expect(f.arrivalsByHour.slice(0, 9).concat(f.arrivalsByHour.slice(20)).every((x) => x === 0)).toBe(true);
      people += f.people;
      wifiAddresses += f.wifiAddresses;
      global += f.globalPhones;
    }
    expect(n).toBe(Object.values(truth).reduce((a, days) => a + Object.keys(days).length, 0));
    // Days in order; every store open day of the history is there (and the live day).
    for (const days of Object.values(truth)) expect(Object.keys(days)).toEqual(Object.keys(days).sort());
    expect(Object.keys(truth[STORES[0]!]!)).toHaveLength(8);
    // What the analyst sees: a naive count of addresses is several times the people; few keep a global one.
    expect(wifiAddresses).toBeGreaterThan(3 * people);
    expect(global).toBeGreaterThan(0);
    expect(global).toBeLessThan(0.1 * people);
    // The same people as the plan: the customers with a frame written per store and date.
    const sunday = truth[STORES[0]!]![clock.dayOf(TODAY - DAY)]!;
    expect(sunday.visitors).toBe(0); // closed: only passers-by
    expect(sunday.passersBy).toBeGreaterThan(0);
  });

  it('rejects what would write outside outDir or mean nothing', () => {
    expect(() => generateStoreTraffic({ ...opts, stores: ['../x'] })).toThrow(/store name/);
    expect(() => generateStoreTraffic({ ...opts, periods: [{ name: 'p', startMs: 10, endMs: 10 }] })).toThrow(/after startMs/);
    expect(() => generateStoreTraffic({ ...opts, timezone: 'Mars/Olympus' })).toThrow();
  });

  it('generates 3 stores x 1,200 customers x 14 days quickly and compactly', () => {
    const t0 = performance.now();
    const big = generateStoreTraffic({
      ...opts,
      customers: 1200,
      seed: 7,
      periods: [
        { name: 'history', startMs: TODAY - 14 * DAY, endMs: TODAY },
        { name: 'live', startMs: LIVE_START, endMs: LIVE_START + 3 * MIN },
      ],
      outDir: join(root, 'big'),
    });
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(15_000);
    const history = big.traffic.filter((t) => t.period === 'history').reduce((n, t) => n + t.frames, 0);
    expect(history).toBeGreaterThan(50_000);
    expect(history).toBeLessThan(300_000);
  });
});
