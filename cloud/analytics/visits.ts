/**
 * Visits from sightings (pure). A device's sightings in one store on one store-day, in time order,
 * form visits; a silence longer than `gapMs` closes one. A visit is a *visitor* when it lasted or came
 * close enough to count (dwell or signal), else a *passer-by*. Every figure that counts people is
 * suppressed below the k-anonymity threshold.
 */

export interface SightingRow {
  store: string;
  epoch: string;
  cid: string;
  first: number;
  last: number;
  frames: number;
  rssiMax: number | null;
  /** Where the row says (a day's rows do; the people estimate counts known phones by WiFi). */
  source?: 'wifi' | 'ble';
  /** The address class the agent saw (a day's rows say): `associated` is a phone connected to the store's WiFi. */
  addressClass?: string;
}

export interface Visit {
  store: string;
  epoch: string;
  cid: string;
  start: number;
  end: number;
  frames: number;
  rssiMax: number | null;
  visitor: boolean;
}

export interface VisitRules {
  /** A silence longer than this ends a visit. */
  gapMs: number;
  /** A visit this long is a visitor... */
  visitorMinDwellMs: number;
  /** ...and so is one this close (strongest signal at least this many dBm). */
  visitorMinRssi: number;
}

export const DEFAULT_RULES: VisitRules = { gapMs: 10 * 60_000, visitorMinDwellMs: 3 * 60_000, visitorMinRssi: -65 };

export function buildVisits(rows: SightingRow[], rules: VisitRules = DEFAULT_RULES): Visit[] {
  const byDevice = new Map<string, SightingRow[]>();
  for (const r of rows) {
    const k = `${r.store}|${r.epoch}|${r.cid}`;
    let list = byDevice.get(k);
    if (!list) byDevice.set(k, (list = []));
    list.push(r);
  }
  const visits: Visit[] = [];
  for (const list of byDevice.values()) {
    list.sort((a, b) => a.first - b.first);
    let cur: Visit | null = null;
    for (const r of list) {
      if (cur && r.first - cur.end <= rules.gapMs) {
        cur.end = Math.max(cur.end, r.last);
        cur.frames += r.frames;
        if (r.rssiMax !== null && (cur.rssiMax === null || r.rssiMax > cur.rssiMax)) cur.rssiMax = r.rssiMax;
        continue;
      }
      if (cur) visits.push(cur);
      cur = { store: r.store, epoch: r.epoch, cid: r.cid, start: r.first, end: r.last, frames: r.frames, rssiMax: r.rssiMax, visitor: false };
    }
    if (cur) visits.push(cur);
  }
  for (const v of visits) v.visitor = isVisitor(v, rules);
  return visits.sort((a, b) => a.start - b.start);
}

/** A visit counts as a visitor's when it lasted or came close enough; else it is a passer-by's. */
export function isVisitor(v: { start: number; end: number; rssiMax: number | null }, rules: VisitRules = DEFAULT_RULES): boolean {
  return v.end - v.start >= rules.visitorMinDwellMs || (v.rssiMax !== null && v.rssiMax >= rules.visitorMinRssi);
}

/** k-anonymity: a count of people from 1 to k-1 is not shown (null), so nobody can be singled out; 0 reveals no one. */
export function suppress(n: number, k: number): number | null {
  return n > 0 && n < k ? null : n;
}

/**
 * A series whose total is shown elsewhere: its small values are hidden, and where exactly one is, the
 * smallest shown non-zero value is hidden too, so the total minus the rest cannot reveal it.
 */
export function suppressSeries(values: readonly number[], k: number): (number | null)[] {
  const out = values.map((n) => suppress(n, k));
  if (out.filter((v) => v === null).length === 1) {
    let smallest = -1;
    for (let i = 0; i < out.length; i++) if (out[i] !== null && out[i]! > 0 && (smallest < 0 || out[i]! < out[smallest]!)) smallest = i;
    if (smallest >= 0) out[smallest] = null;
  }
  return out;
}

export const DWELL_BUCKETS_MIN = [1, 5, 15, 30, 60] as const;

export interface StoreDayFigures {
  store: string;
  epoch: string;
  uniqueVisitors: number | null;
  passersBy: number | null;
  visits: number | null;
  /** The zone the hours are in: the store's (from its agents' status), else UTC. */
  timezone: string;
  /** Unique visitors whose visit touched each local hour (0..23). */
  footfallByHour: (number | null)[];
  /** Visitors' visits by dwell: <1, 1-5, 5-15, 15-30, 30-60, >=60 minutes. */
  dwellHistogram: (number | null)[];
  medianDwellMinutes: number | null;
  /** Devices also seen in another store of the tenant on the same store-day. */
  crossStore: number | null;
}

/** The local hour of an instant in a zone. */
function hourIn(fmt: Intl.DateTimeFormat, ms: number): number {
  return Number(fmt.format(new Date(ms))) % 24;
}

/**
 * A store-day's figures before k-anonymity: what the report rollups keep (reports/rollups.ts), so the
 * threshold is applied when they are shown, with whatever k the reader asks for.
 */
export interface RawStoreDay {
  store: string;
  epoch: string;
  timezone: string;
  uniqueVisitors: number;
  passersBy: number;
  visits: number;
  footfallByHour: number[];
  dwellHistogram: number[];
  /** The median visitor visit's dwell, rounded to a tenth of a minute (null without visitors). */
  medianDwellMinutes: number | null;
  crossStore: number;
}

export function storeDayFigures(visits: Visit[], k: number, timezoneOf: (store: string) => string = () => 'UTC'): StoreDayFigures[] {
  return rawStoreDays(visits, timezoneOf).map((r) => shownStoreDay(r, k));
}

/** The figures of every store-day among the visits, counted exactly (pure). */
export function rawStoreDays(visits: Visit[], timezoneOf: (store: string) => string = () => 'UTC'): RawStoreDay[] {
  const groups = new Map<string, Visit[]>();
  const storesOf = new Map<string, Set<string>>(); // epoch|cid -> stores
  for (const v of visits) {
    const g = `${v.store}|${v.epoch}`;
    let list = groups.get(g);
    if (!list) groups.set(g, (list = []));
    list.push(v);
    const d = `${v.epoch}|${v.cid}`;
    let s = storesOf.get(d);
    if (!s) storesOf.set(d, (s = new Set()));
    s.add(v.store);
  }
  const out: RawStoreDay[] = [];
  for (const [g, list] of groups) {
    const [store, epoch] = g.split('|') as [string, string];
    const visitors = list.filter((v) => v.visitor);
    const people = new Set(visitors.map((v) => v.cid));
    const passers = new Set(list.filter((v) => !v.visitor).map((v) => v.cid));
    for (const c of people) passers.delete(c);
    const timezone = timezoneOf(store);
    const fmt = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour: '2-digit', hourCycle: 'h23' });
    const hours = Array.from({ length: 24 }, () => new Set<string>());
    for (const v of visitors) {
      for (let h = hourIn(fmt, v.start), end = hourIn(fmt, v.end); ; h = (h + 1) % 24) {
        hours[h]!.add(v.cid);
        if (h === end) break;
      }
    }
    const dwellMin = visitors.map((v) => (v.end - v.start) / 60_000).sort((a, b) => a - b);
    const hist = Array.from({ length: DWELL_BUCKETS_MIN.length + 1 }, () => 0);
    for (const m of dwellMin) {
      const i = DWELL_BUCKETS_MIN.findIndex((b) => m < b);
      hist[i === -1 ? DWELL_BUCKETS_MIN.length : i]!++;
    }
    out.push({
      store,
      epoch,
      timezone,
      uniqueVisitors: people.size,
      passersBy: passers.size,
      visits: visitors.length,
      footfallByHour: hours.map((h) => h.size),
      dwellHistogram: hist,
      medianDwellMinutes: dwellMin.length ? Math.round(dwellMin[Math.floor(dwellMin.length / 2)]! * 10) / 10 : null,
      crossStore: [...people].filter((c) => (storesOf.get(`${epoch}|${c}`)?.size ?? 0) > 1).length,
    });
  }
  return out.sort((a, b) => a.epoch.localeCompare(b.epoch) || a.store.localeCompare(b.store));
}

/** A store-day's figures as shown: every count of people below k hidden. */
export function shownStoreDay(r: RawStoreDay, k: number): StoreDayFigures {
  return {
    store: r.store,
    epoch: r.epoch,
    timezone: r.timezone,
    uniqueVisitors: suppress(r.uniqueVisitors, k),
    passersBy: suppress(r.passersBy, k),
    visits: suppress(r.visits, k),
    footfallByHour: r.footfallByHour.map((n) => suppress(n, k)),
    // Its buckets sum to the visits shown beside it: one hidden bucket would be their difference.
    dwellHistogram: suppressSeries(r.dwellHistogram, k),
    medianDwellMinutes: r.uniqueVisitors >= k ? r.medianDwellMinutes : null,
    crossStore: suppress(r.crossStore, k),
  };
}

/** Zones checked once per process: a formatter per agent on every report cost more than the report. */
const zoneChecks = new Map<string, boolean>();
function isZone(tz: string): boolean {
  let ok = zoneChecks.get(tz);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en-GB', { timeZone: tz });
      ok = true;
    } catch {
      ok = false; // not a zone: ignored
    }
    if (zoneChecks.size < 1000) zoneChecks.set(tz, ok);
  }
  return ok;
}

/** Each store's time zone as its agents report it in their status (the first valid one wins). */
export function storeTimezones(agents: { store: string; status: Record<string, unknown> }[]): (store: string) => string {
  const zones = new Map<string, string>();
  for (const a of agents) {
    const tz = a.status.timezone;
    if (typeof tz !== 'string' || zones.has(a.store)) continue;
    if (isZone(tz)) zones.set(a.store, tz);
  }
  return (store) => zones.get(store) ?? 'UTC';
}
