/**
 * People on today's phones (pure). Most phones probe with rotating random addresses, so a store-day's
 * people are the phones known by a stable address (Consumer-IDs, counted exactly) plus the agents'
 * window estimates of the devices behind the ephemeral addresses (summed arrivals). Everything here is
 * people *heard*: inside and passing by, like the agents hear them; visitors and dwell stay on the known
 * phones, which say so. Every count below k is hidden, with a second one where a total would reveal it.
 */
import type { EstimateRow } from '../store/cloud-store.js';
import { suppress, suppressSeries, type SightingRow } from './visits.js';

export interface PeopleFigures {
  /** Distinct people heard (estimated): known phones exactly, plus the estimate for randomizing ones. */
  estimated: number | null;
  /** Of those, phones known by a stable WiFi address (a Consumer-ID): what visitors and dwell rest on. */
  known: number | null;
  /**
   * Of the known, phones connected to the store's WiFi (a per-network address seen associated): known
   * although they randomize, and the ones whose visits, returns and stores come from the guest network.
   */
  connected: number | null;
  /** known / estimated (0..1), rounded to a percent; null when either is hidden. */
  knownShare: number | null;
  /** People arriving in each local hour (0..23), known + estimated: what a door counter calls entries. */
  arrivalsByHour: (number | null)[];
  /** BLE devices (estimated): phones, watches, earbuds, tags — more devices than people, shown apart. */
  bleDevices: number | null;
  /** The agents' estimation method(s), or null when no agent of the store sent an estimate. */
  method: string | null;
}

/** A store-day's people before k-anonymity, as the report rollups keep them. */
export interface RawPeople {
  estimated: number;
  known: number;
  connected: number;
  arrivalsByHour: number[];
  bleDevices: number;
  method: string | null;
}

/** One store-day: its sightings (with source) and its agents' window estimates. */
export function peopleFigures(rows: readonly SightingRow[], estimates: readonly EstimateRow[], k: number, timezone: string): PeopleFigures {
  return shownPeople(rawPeople(rows, estimates, timezone), k);
}

/** The people of one store-day, counted (known) and estimated, before k-anonymity (pure). */
export function rawPeople(rows: readonly SightingRow[], estimates: readonly EstimateRow[], timezone: string): RawPeople {
  const fmt = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour: '2-digit', hourCycle: 'h23' });
  const hourOf = (ms: number) => Number(fmt.format(new Date(ms))) % 24;
  const byHour = Array.from({ length: 24 }, () => 0);

  // Known phones: a stable WiFi address, counted once, arriving at its first frame of the day.
  const firstSeen = new Map<string, number>();
  const stableBle = new Set<string>();
  const connected = new Set<string>();
  for (const r of rows) {
    if (r.source === 'ble') {
      stableBle.add(r.cid);
      continue;
    }
    if (r.addressClass === 'associated') connected.add(r.cid);
    const t = firstSeen.get(r.cid);
    if (t === undefined || r.first < t) firstSeen.set(r.cid, r.first);
  }
  for (const t of firstSeen.values()) byHour[hourOf(t)]!++;

  // Several agents in one store hear the same people: per window, the agent that heard the most.
  const windows = new Map<number, { wifi: number; ble: number }>();
  const methods = new Set<string>();
  for (const e of estimates) {
    methods.add(e.method);
    const w = windows.get(e.start);
    if (!w) windows.set(e.start, { wifi: e.wifiArrivals, ble: e.bleArrivals });
    else {
      w.wifi = Math.max(w.wifi, e.wifiArrivals);
      w.ble = Math.max(w.ble, e.bleArrivals);
    }
  }
  let wifiArrivals = 0;
  let bleArrivals = 0;
  const estimatedByHour = Array.from({ length: 24 }, () => 0);
  for (const [start, w] of windows) {
    wifiArrivals += w.wifi;
    bleArrivals += w.ble;
    estimatedByHour[hourOf(start)]! += w.wifi;
  }

  const known = firstSeen.size;
  return {
    estimated: Math.round(known + wifiArrivals),
    known,
    connected: connected.size,
    arrivalsByHour: byHour.map((n, h) => Math.round(n + estimatedByHour[h]!)),
    bleDevices: Math.round(stableBle.size + bleArrivals),
    method: methods.size ? [...methods].sort().join(',') : null,
  };
}

/** A store-day's people as shown: every count below k hidden, with a second one where a total would reveal it. */
export function shownPeople(r: RawPeople, k: number): PeopleFigures {
  const shownEstimated = suppress(r.estimated, k);
  const shownKnown = suppress(r.known, k);
  return {
    estimated: shownEstimated,
    known: shownKnown,
    // Hidden too when the rest of the known (known - connected) would be a count below k.
    connected: shownKnown !== null && r.known - r.connected > 0 && r.known - r.connected < k ? null : suppress(r.connected, k),
    knownShare: shownEstimated && shownKnown !== null ? Math.round((100 * shownKnown) / shownEstimated) / 100 : null,
    arrivalsByHour: suppressSeries(r.arrivalsByHour, k),
    bleDevices: suppress(r.bleDevices, k),
    method: r.method,
  };
}
