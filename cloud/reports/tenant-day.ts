/**
 * A tenant's store-day figures before k-anonymity (pure): what the report rollups keep per tenant-day.
 * Cross-store figures need every store of the day, so a tenant-day is computed whole; k is applied when
 * it is shown (shownDay), so the same rollup serves every reader's threshold.
 */
import type { EstimateRow } from '../store/cloud-store.js';
import { rawPeople, shownPeople, type PeopleFigures, type RawPeople } from '../analytics/people.js';
import { buildVisits, rawStoreDays, shownStoreDay, type RawStoreDay, type SightingRow, type StoreDayFigures } from '../analytics/visits.js';

/** A store-day: visitors, dwell and flows from the known phones, and people heard, estimated for all. */
export interface DayFigures extends StoreDayFigures {
  people: PeopleFigures;
}

export interface RawDayFigures extends RawStoreDay {
  people: RawPeople;
}

export interface RawTenantDay {
  epoch: string;
  /** Distinct Consumer-IDs of the day, every source (the /v1/stats figure). */
  cids: number;
  /** Every store with sightings or estimates that day, by name. */
  stores: RawDayFigures[];
}

/** The version of what a rollup holds: a rollup of another version is computed again when read. */
export const ROLLUP_VERSION = 1;

export function computeTenantDay(epoch: string, rows: readonly SightingRow[], estimates: readonly EstimateRow[], zoneOf: (store: string) => string): RawTenantDay {
  const known = rawStoreDays(buildVisits([...rows]), zoneOf);
  const names = [...new Set([...known.map((f) => f.store), ...estimates.map((e) => e.store)])].sort();
  const rowsOf = groupBy(rows, (r) => r.store);
  const estimatesOf = groupBy(estimates, (e) => e.store);
  const stores = names.map((name) => {
    const base = known.find((f) => f.store === name) ?? emptyRawStoreDay(name, epoch, zoneOf(name));
    return { ...base, people: rawPeople(rowsOf.get(name) ?? [], estimatesOf.get(name) ?? [], base.timezone) };
  });
  return { epoch, cids: new Set(rows.map((r) => r.cid)).size, stores };
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
