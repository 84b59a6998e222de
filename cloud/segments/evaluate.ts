/**
 * Segments from the store.
 *   - segmentsOfCids: the segments of the devices present in a store *now* — called every few seconds, so
 *     it reads only those devices' profiles' Consumer-IDs of the days within the longest window (one
 *     lookup per device-day), never the whole tenant;
 *   - segmentMembers: every profile of every segment (export, counts) — reads the window's devices that
 *     are in a profile (an index of them by day) and their sightings only.
 * Both read the tenant's identity graph as the database keeps it (identity/graph-reads.ts): the
 * profiles of the devices at hand and those profiles' members, so an erasure or an unmerge shows at the
 * next call and no call loads the whole graph.
 */
import type { CloudStore } from '../store/cloud-store.js';
import type { GraphRules } from '../identity/graph.js';
import type { GraphFreshness } from '../identity/tenant-graph.js';
import { profileLookup } from '../identity/graph-reads.js';
import { buildVisits, suppress } from '../analytics/visits.js';
import { daysBetween } from '../analytics/period.js';
import { profiledVisits } from '../reports/period-flows.js';
import { EXACT, type ReportOptions } from '../reports/rollups.js';
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
  const look = await profileLookup(store, tenant, graphRules, fresh);
  const from = windowStart(day, within);
  const members = await look.members([...new Set((await look.profileOf(asked.map((cid) => node(day, cid)))).values())]);
  // Every member's profile: the asked devices' and their other devices' (a profile erased in between has none).
  const profileOf = new Map<string, string>();
  for (const [p, list] of members) for (const m of list) profileOf.set(m, p);
  const keys: { epoch: string; cid: string }[] = [];
  const seenProfiles = new Set<string>();
  for (const cid of asked) {
    const p = profileOf.get(node(day, cid));
    if (!p) {
      keys.push({ epoch: day, cid });
      continue;
    }
    if (seenProfiles.has(p)) continue;
    seenProfiles.add(p);
    for (const m of members.get(p)!) {
      if (!m.startsWith('cid:')) continue;
      const epoch = m.slice(4, 14);
      if (epoch >= from && epoch <= day) keys.push({ epoch, cid: m.slice(15) });
    }
  }
  const rows = await store.sightingsOfCids(tenant, keys);
  const bySubject = visitsBySubject(buildVisits(rows), (epoch, cid) => profileOf.get(node(epoch, cid)) ?? node(epoch, cid));
  for (const cid of asked) {
    const visits = bySubject.get(profileOf.get(node(day, cid)) ?? node(day, cid));
    if (visits) out.set(cid, segmentsOf(visits, day, rules));
  }
  return out;
}

/** Every profile in each segment on `day` (sorted ids; every rule present, possibly empty). */
export async function segmentMembers(store: CloudStore, tenant: string, day: string, rules: SegmentRule[], graphRules: GraphRules, opts: ReportOptions = EXACT): Promise<Map<string, string[]>> {
  checkDay(day);
  const out = new Map<string, string[]>(rules.map((r) => [r.name, []]));
  const within = longestWindow(rules);
  if (within === 0) return out;
  // The window's devices that are in a profile, and their visits only: never the whole graph or day.
  const { visits, profileOf } = await profiledVisits(store, tenant, daysBetween(windowStart(day, within), day), graphRules, opts);
  const bySubject = visitsBySubject(visits, (epoch, cid) => profileOf(epoch, cid)!);
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
