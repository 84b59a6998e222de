/**
 * A tenant's store-day figures before k-anonymity (pure): what the report rollups keep per tenant-day.
 * Cross-store figures need every store of the day, so a tenant-day is computed whole; k is applied when
 * it is shown (shownDay), so the same rollup serves every reader's threshold.
 */
import type { EstimateRow } from '../store/cloud-store.js';
import { rawPeople, shownPeople, type PeopleFigures, type RawPeople } from '../analytics/people.js';
import { buildVisits, isVisitor, rawStoreDays, shownStoreDay, type RawStoreDay, type SightingRow, type StoreDayFigures, type Visit } from '../analytics/visits.js';
import { rawFlows, type Flow } from '../analytics/flows.js';

/** A store-day: visitors, dwell and flows from the known phones, and people heard, estimated for all. */
export interface DayFigures extends StoreDayFigures {
  people: PeopleFigures;
}

export interface RawDayFigures extends RawStoreDay {
  people: RawPeople;
}

/**
 * One device's visits of a store-day (every store): what a rollup keeps for the devices a link named,
 * and the period reports read instead of their sightings. No identifier but the Consumer-ID of the day,
 * which the sightings hold too; erasure removes it with them.
 */
export interface DeviceDay {
  cid: string;
  /** [store, start, end, frames, rssiMax] per visit, in time order. */
  visits: [string, number, number, number, number | null][];
}

/** The visits of a day's devices that a link named, by cid: what a rollup keeps for the period reports. */
export type LinkedVisits = Record<string, DeviceDay['visits']>;

export function linkedVisits(devices: readonly DeviceDay[], linked: (cid: string) => boolean): LinkedVisits {
  const out: LinkedVisits = {};
  for (const d of devices) if (linked(d.cid)) out[d.cid] = d.visits;
  return out;
}

/** The day's devices now in a profile ([cid, profile], the graph's index) with their kept visits; one without visits that day has none. */
export function joinLinked(epoch: string, kept: LinkedVisits, profiled: readonly (readonly [string, string])[]): { profile: string; epoch: string; device: DeviceDay }[] {
  const out: { profile: string; epoch: string; device: DeviceDay }[] = [];
  for (const [cid, profile] of profiled) {
    const visits = kept[cid];
    if (visits) out.push({ profile, epoch, device: { cid, visits } });
  }
  return out;
}

/** A device-day's visits back as Visit records (visitor judged again by the same rules). */
export function visitsOfDevice(epoch: string, d: DeviceDay): Visit[] {
  return d.visits.map(([store, start, end, frames, rssiMax]) => ({ store, epoch, cid: d.cid, start, end, frames, rssiMax, visitor: isVisitor({ start, end, rssiMax }) }));
}

export interface RawTenantDay {
  epoch: string;
  /** Distinct Consumer-IDs of the day, every source (the /v1/stats figure). */
  cids: number;
  /** Every store with sightings or estimates that day, by name. */
  stores: RawDayFigures[];
  /** Devices whose next visit that day was in another store, per direction (a period's add up). */
  sameDayFlows: (Flow & { n: number })[];
}

/** The version of what a rollup holds: a rollup of another version is computed again when read. */
export const ROLLUP_VERSION = 2;

/** Every device's visits of the day (the rollup's device rows), from the day's visits. */
export function devicesOf(visits: readonly Visit[]): DeviceDay[] {
  const by = new Map<string, DeviceDay>();
  for (const v of visits) (by.get(v.cid) ?? by.set(v.cid, { cid: v.cid, visits: [] }).get(v.cid)!).visits.push([v.store, v.start, v.end, v.frames, v.rssiMax]);
  return [...by.values()];
}

export function computeTenantDay(epoch: string, rows: readonly SightingRow[], estimates: readonly EstimateRow[], zoneOf: (store: string) => string): RawTenantDay & { devices: DeviceDay[] } {
  const visits = buildVisits([...rows]);
  const known = rawStoreDays(visits, zoneOf);
  const names = [...new Set([...known.map((f) => f.store), ...estimates.map((e) => e.store)])].sort();
  const rowsOf = groupBy(rows, (r) => r.store);
  const estimatesOf = groupBy(estimates, (e) => e.store);
  const stores = names.map((name) => {
    const base = known.find((f) => f.store === name) ?? emptyRawStoreDay(name, epoch, zoneOf(name));
    return { ...base, people: rawPeople(rowsOf.get(name) ?? [], estimatesOf.get(name) ?? [], base.timezone) };
  });
  return { epoch, cids: new Set(rows.map((r) => r.cid)).size, stores, sameDayFlows: rawFlows(visits, () => undefined).sameDay, devices: devicesOf(visits) };
}

/** A store-day's figures as shown, every count of people below k hidden. */
export function shownDay(r: RawDayFigures, k: number): DayFigures {
  const { people, ...base } = r;
  return { ...shownStoreDay(base, k), people: shownPeople(people, k) };
}

/** A store-day nobody was heard in: every figure zero, people included. */
export function emptyDayFigures(store: string, epoch: string, timezone: string): DayFigures {
  return shownDay({ ...emptyRawStoreDay(store, epoch, timezone), people: { estimated: 0, known: 0, connected: 0, arrivalsByHour: Array(24).fill(0), bleDevices: 0, method: null } }, 1);
}

function emptyRawStoreDay(store: string, epoch: string, timezone: string): RawStoreDay {
  return { store, epoch, timezone, uniqueVisitors: 0, passersBy: 0, visits: 0, footfallByHour: Array(24).fill(0), dwellHistogram: Array(6).fill(0), medianDwellMinutes: null, crossStore: 0 };
}

function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) (m.get(key(x)) ?? m.set(key(x), []).get(key(x))!).push(x);
  return m;
}
