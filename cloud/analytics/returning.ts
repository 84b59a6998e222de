/**
 * Returning customers: profiles (stitched across days through link events) seen on more than one
 * store-day in a period. A daily Consumer-ID alone cannot return — by design it is unlinkable from one
 * day to the next — so only profiles count here. k-anonymous like every count of people.
 */
import type { CloudStore } from '../store/cloud-store.js';
import { DEFAULT_GRAPH_RULES, type GraphRules } from '../identity/graph.js';
import { suppress } from './visits.js';
import { daysBetween } from './period.js';
import { profiledVisits } from '../reports/period-flows.js';
import { EXACT, type ReportOptions } from '../reports/rollups.js';

export interface ReturningFigures {
  from: string;
  to: string;
  /** Profiles seen in the period. */
  profiles: number | null;
  /** Of those, seen on two or more days. */
  returning: number | null;
  /** Seen in two or more stores in the period. */
  multiStore: number | null;
}

export async function returningProfiles(store: CloudStore, tenant: string, from: string, to: string, k: number, rules: GraphRules = DEFAULT_GRAPH_RULES, opts: ReportOptions = EXACT): Promise<ReturningFigures> {
  // The visits of the period's devices that are in a profile only: the others cannot return.
  const { visits, profileOf } = await profiledVisits(store, tenant, daysBetween(from, to), rules, opts);
  return returningOf(from, to, visits, profileOf, k);
}

/** The figures from what a period's devices did (sightings or visits: a store and a day each) and their profiles (pure). */
export function returningOf(from: string, to: string, seen: Iterable<{ epoch: string; store: string; cid: string }>, profileOf: (epoch: string, cid: string) => string | undefined, k: number): ReturningFigures {
  const days = new Map<string, Set<string>>();
  const stores = new Map<string, Set<string>>();
  for (const r of seen) {
    const p = profileOf(r.epoch, r.cid);
    if (!p) continue;
    (days.get(p) ?? days.set(p, new Set()).get(p)!).add(r.epoch);
    (stores.get(p) ?? stores.set(p, new Set()).get(p)!).add(r.store);
  }
  const count = (m: Map<string, Set<string>>) => [...m.values()].filter((s) => s.size > 1).length;
  return { from, to, profiles: suppress(days.size, k), returning: suppress(count(days), k), multiStore: suppress(count(stores), k) };
}
