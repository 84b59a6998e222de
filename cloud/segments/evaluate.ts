/**
 * Segments from the store.
 *   - segmentsOfCids: the segments of the devices present in a store *now* — called every few seconds, so
 *     it reads only those devices' profiles' Consumer-IDs of the days within the longest window (one
 *     lookup per device-day), never the whole tenant;
 *   - segmentMembers: every profile of every segment (export, counts) — reads each day of the window.
 * Both share the tenant's identity graph, cached (identity/tenant-graph.ts): an erasure or an unmerge
 * shows at the next call.
 */
import type { CloudStore } from '../store/cloud-store.js';
import type { GraphRules } from '../identity/graph.js';
import { tenantGraph, type GraphFreshness } from '../identity/tenant-graph.js';
import { buildVisits, suppress, type SightingRow } from '../analytics/visits.js';
import { daysBetween } from '../analytics/period.js';
import { InputError } from '../../shared/errors.js';
import { dayProblem, visitsBySubject, windowStart } from './activity.js';
import { longestWindow, segmentsOf, type SegmentRule } from './rules.js';

function checkDay(day: string): void {
  const problem = dayProblem(day);
  if (problem) throw new InputError(problem);
}

const node = (epoch: string, cid: string) => `cid:${epoch}:${cid}`;

/**
 * The segments, on `day`, of each device (its Consumer-ID of that day): the subject is the device's
 * profile when it has one, else the device's Consumer-ID of the day alone. Every asked cid is in the
 * answer, with no segment when none matches.
 */
export async function segmentsOfCids(store: CloudStore, tenant: string, day: string, cids: string[], rules: SegmentRule[], graphRules: GraphRules, fresh?: GraphFreshness): Promise<Map<string, string[]>> {
  checkDay(day);
  const asked = [...new Set(cids)];
  const out = new Map<string, string[]>(asked.map((c) => [c, []]));
  const within = longestWindow(rules);
  if (!asked.length || within === 0) return out;
  const g = await tenantGraph(store, tenant, graphRules, fresh);
  const from = windowStart(day, within);
  const keys: { epoch: string; cid: string }[] = [];
  const seenProfiles = new Set<string>();
  for (const cid of asked) {
    const p = g.profileOf.get(node(day, cid));
    if (!p) {
      keys.push({ epoch: day, cid });
      continue;
    }
    if (seenProfiles.has(p)) continue;
    seenProfiles.add(p);
    for (const m of g.profiles.get(p)!) {
      if (!m.startsWith('cid:')) continue;
      const epoch = m.slice(4, 14);
      if (epoch >= from && epoch <= day) keys.push({ epoch, cid: m.slice(15) });
    }
  }
  const rows = await store.sightingsOfCids(tenant, keys);
  const bySubject = visitsBySubject(buildVisits(rows), (epoch, cid) => g.profileOf.get(node(epoch, cid)) ?? node(epoch, cid));
  for (const cid of asked) {
    const visits = bySubject.get(g.profileOf.get(node(day, cid)) ?? node(day, cid));
    if (visits) out.set(cid, segmentsOf(visits, day, rules));
  }
  return out;
}

/** Every profile in each segment on `day` (sorted ids; every rule present, possibly empty). */
export async function segmentMembers(store: CloudStore, tenant: string, day: string, rules: SegmentRule[], graphRules: GraphRules): Promise<Map<string, string[]>> {
  checkDay(day);
  const out = new Map<string, string[]>(rules.map((r) => [r.name, []]));
  const within = longestWindow(rules);
  if (within === 0) return out;
  const g = await tenantGraph(store, tenant, graphRules);
  if (!g.profiles.size) return out;
  const rows: SightingRow[] = [];
  for (const d of daysBetween(windowStart(day, within), day)) {
    for (const r of await store.sightingsOfDay(tenant, d)) if (g.profileOf.has(node(r.epoch, r.cid))) rows.push(r);
  }
  const bySubject = visitsBySubject(buildVisits(rows), (epoch, cid) => g.profileOf.get(node(epoch, cid))!);
  for (const [profile, visits] of [...bySubject].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    for (const name of segmentsOf(visits, day, rules)) out.get(name)!.push(profile);
  }
  return out;
}

/** Profiles per segment, k-anonymous like every count of people. */
export function segmentCounts(members: Map<string, string[]>, k: number): { name: string; profiles: number | null }[] {
  return [...members].map(([name, ids]) => ({ name, profiles: suppress(ids.length, k) }));
}

/** The tenant's latest store-day with data (what a dashboard shows by default), or today (UTC) without any. */
export async function latestDay(store: CloudStore, tenant: string): Promise<string> {
  let latest = '';
  for (const r of await store.tenantDays()) if (r.tenant === tenant && r.epoch > latest) latest = r.epoch;
  return latest || new Date().toISOString().slice(0, 10);
}
