/**
 * Segments from the store.
 *   - segmentsOfCids: the segments of the devices present in a store *now* — called every few seconds, so
 *     it reads only those devices' profiles' Consumer-IDs of the days within the longest window (one
 *     lookup per device-day), never the whole tenant;
 *   - segmentMembers: every profile of every segment (export, counts) — reads each day of the window.
 * Both share the tenant's identity graph, cached per store and tenant and rebuilt only when the edges'
 * fingerprint (store.edgesVersion) changes, so an erasure or an unmerge shows at the next call.
 */
import type { CloudStore } from '../store/cloud-store.js';
import { buildIdentityGraph, type GraphRules, type IdentityGraph } from '../identity/graph.js';
import { buildVisits, suppress, type SightingRow } from '../analytics/visits.js';
import { daysBetween } from '../analytics/period.js';
import { InputError } from '../../shared/errors.js';
import { dayProblem, visitsBySubject, windowStart } from './activity.js';
import { longestWindow, segmentsOf, type SegmentRule } from './rules.js';

interface CachedGraph {
  version: string;
  rulesKey: string;
  graph: Promise<IdentityGraph>;
  /** When it was last known to match the edges (the caller's clock). */
  verifiedMs: number;
}

/**
 * How far a caller may trust a cached graph without asking whether the edges changed: in-store
 * activation, every few seconds while tills post links, would otherwise rebuild the graph almost every
 * round. Exports and counts never pass one: they must see an erasure at once.
 */
export interface GraphFreshness {
  reuseForMs: number;
  nowMs: number;
}

const graphs = new WeakMap<CloudStore, Map<string, CachedGraph>>();

function rulesKey(r: GraphRules): string {
  return JSON.stringify([r.maxPersonsPerDevice, r.maxComponentSize, [...r.blocked].sort()]);
}

/** The tenant's identity graph, from the cache while its edges have not changed. */
export async function tenantGraph(store: CloudStore, tenant: string, rules: GraphRules, fresh?: GraphFreshness): Promise<IdentityGraph> {
  let perTenant = graphs.get(store);
  if (!perTenant) graphs.set(store, (perTenant = new Map()));
  const key = rulesKey(rules);
  const hit = perTenant.get(tenant);
  const nowMs = fresh?.nowMs ?? Date.now();
  const age = hit ? nowMs - hit.verifiedMs : -1;
  if (fresh && hit && hit.rulesKey === key && age >= 0 && age < fresh.reuseForMs) return hit.graph;
  // The fingerprint is read before the edges: a change in between only makes the next call rebuild.
  const version = await store.edgesVersion(tenant);
  if (hit && hit.version === version && hit.rulesKey === key) {
    hit.verifiedMs = nowMs;
    return hit.graph;
  }
  const graph = store.edges(tenant).then((edges) => buildIdentityGraph(edges, rules));
  const entry: CachedGraph = { version, rulesKey: key, graph, verifiedMs: nowMs };
  perTenant.set(tenant, entry);
  graph.catch(() => {
    if (perTenant.get(tenant) === entry) perTenant.delete(tenant);
  });
  return graph;
}

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
