/** A tenant's store-day figures from the store: every store's visits and people, in each store's own hours. */
import type { CloudStore } from '../store/cloud-store.js';
import { peopleFigures, type PeopleFigures } from './people.js';
import { buildVisits, storeDayFigures, storeTimezones, type StoreDayFigures } from './visits.js';

/** A store-day: visitors, dwell and flows from the known phones, and people heard, estimated for all. */
export interface DayFigures extends StoreDayFigures {
  people: PeopleFigures;
}

/**
 * Cross-store figures need every store of the day, so all are computed even when one `store` is asked
 * for; the zones come from the agents' status. A store whose agents heard only randomizing phones has
 * no visits of known phones, and still its people.
 */
export async function dayFigures(store: CloudStore, tenant: string, day: string, k: number, only?: string): Promise<DayFigures[]> {
  const zoneOf = storeTimezones((await store.agents()).filter((a) => a.tenant === tenant));
  const rows = await store.sightingsOfDay(tenant, day);
  const estimates = await store.estimatesOfDay(tenant, day, only);
  const known = storeDayFigures(buildVisits(rows), k, zoneOf);
  const stores = new Set([...known.map((f) => f.store), ...estimates.map((e) => e.store)]);
  const out: DayFigures[] = [];
  for (const name of [...stores].sort()) {
    if (only && name !== only) continue;
    const base = known.find((f) => f.store === name) ?? emptyStoreDay(name, day, zoneOf(name));
    const people = peopleFigures(
      rows.filter((r) => r.store === name),
      estimates.filter((e) => e.store === name),
      k,
      base.timezone,
    );
    out.push({ ...base, people });
  }
  return out;
}

/** A store-day nobody was heard in: every figure zero, people included. */
export function emptyDayFigures(store: string, epoch: string, timezone: string): DayFigures {
  return { ...emptyStoreDay(store, epoch, timezone), people: { estimated: 0, known: 0, connected: 0, knownShare: null, arrivalsByHour: Array(24).fill(0), bleDevices: 0, method: null } };
}

/** A store-day with no visit of a known phone: every figure of them is zero. */
export function emptyStoreDay(store: string, epoch: string, timezone: string): StoreDayFigures {
  return { store, epoch, timezone, uniqueVisitors: 0, passersBy: 0, visits: 0, footfallByHour: Array(24).fill(0), dwellHistogram: Array(6).fill(0), medianDwellMinutes: null, crossStore: 0 };
}
