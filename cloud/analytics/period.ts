/** A period of store-days: the days in it, and every sighting of a tenant in it. */
import type { CloudStore } from '../store/cloud-store.js';
import type { NodeId } from '../identity/graph.js';
import type { SightingRow } from './visits.js';

/** Longest period a query may span: a year of store-days. */
export const MAX_PERIOD_DAYS = 366;

/** Why `from`..`to` is not a period a query can span, or null when it is. */
export function periodProblem(from: string, to: string): string | null {
  for (const d of [from, to]) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(d) || Number.isNaN(Date.parse(`${d}T00:00:00Z`))) return `dates are YYYY-MM-DD, not ${JSON.stringify(d)}`;
    // Date.parse rolls 2026-02-30 over into March: a real date survives the round trip.
    if (new Date(Date.parse(`${d}T00:00:00Z`)).toISOString().slice(0, 10) !== d) return `${d} is not a date`;
  }
  if (to < from) return 'the period ends before it starts';
  if ((Date.parse(to) - Date.parse(from)) / 86_400_000 >= MAX_PERIOD_DAYS) return `a period spans at most ${MAX_PERIOD_DAYS} days`;
  return null;
}

export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`), end = Date.parse(`${to}T00:00:00Z`); t <= end && out.length < MAX_PERIOD_DAYS; t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

/** The sightings of every store-day from `from` to `to`, day by day (one query each: the store indexes by day). */
export async function sightingsOfPeriod(store: CloudStore, tenant: string, from: string, to: string): Promise<SightingRow[]> {
  const rows: SightingRow[] = [];
  for (const day of daysBetween(from, to)) for (const r of await store.sightingsOfDay(tenant, day)) rows.push(r);
  return rows;
}

/**
 * The sightings of the devices in a profile on the given store-days, with each device's profile, from a
 * graph built in memory (rules the database does not keep): read by the device index, so the days'
 * other sightings are never read.
 */
export async function profiledSightings(store: CloudStore, tenant: string, profiles: ReadonlyMap<NodeId, string>, days: readonly string[]): Promise<{ rows: SightingRow[]; profileOf: Map<NodeId, string> }> {
  const wanted = new Set(days);
  const profileOf = new Map([...profiles].filter(([n]) => n.startsWith('cid:') && wanted.has(n.slice(4, 14))));
  const keys = [...profileOf.keys()].map((n) => ({ epoch: n.slice(4, 14), cid: n.slice(15) }));
  return { rows: keys.length ? await store.sightingsOfCids(tenant, keys) : [], profileOf };
}
