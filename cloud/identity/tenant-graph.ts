/**
 * A tenant's identity graph built in memory from every edge — the canonical reference the stored graph
 * (stored-graph.ts) is kept equal to, and what readers use under rules other than the database's
 * (graph-reads.ts). It holds the whole graph: V8's Map limit ends it near 17M identifiers.
 *
 * Cached per store and tenant and rebuilt only when the edges' fingerprint
 * (store.edgesVersion) changes, so an erasure or an unmerge shows at the next call. Segments, returning
 * customers, flows, profiles and the API's graph figures share it; callers that ask while it is being
 * built wait for that one build (20 parallel profile requests used to build 20 graphs, issue 14,
 * finding 9). The edges stay with it, for consent and figures: the memory of one load, not one per request.
 * Profile ids are keyed with the database's profile key, per tenant.
 */
import type { CloudStore } from '../store/cloud-store.js';
import { buildIdentityGraph, type Edge, type GraphRules, type IdentityGraph } from './graph.js';
import { consentIndex, type ConsentIndex } from './consent.js';
import { tenantKeyOf } from './stored-graph.js';

export interface GraphAndEdges {
  graph: IdentityGraph;
  edges: readonly (Edge & { marketing: boolean })[];
  /** Every person's latest consent decisions: one pass over the edges on first use, then kept (a profile's is a look-up). */
  consent(): ConsentIndex;
}

function graphAndEdges(graph: IdentityGraph, edges: GraphAndEdges['edges']): GraphAndEdges {
  let index: ConsentIndex | undefined;
  return { graph, edges, consent: () => (index ??= consentIndex(edges)) };
}

interface CachedGraph {
  version: string;
  rulesKey: string;
  built: Promise<GraphAndEdges>;
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

/** The key a tenant's profile ids are made with: derived from the database's, so ids differ across tenants. */
export async function tenantProfileKey(store: CloudStore, tenant: string): Promise<Uint8Array> {
  return tenantKeyOf(await store.profileKey(), tenant);
}

function rulesKey(r: GraphRules): string {
  return JSON.stringify([r.maxPersonsPerDevice, r.maxComponentSize, [...r.blocked].sort()]);
}

/** The tenant's identity graph, from the cache while its edges have not changed. */
export async function tenantGraph(store: CloudStore, tenant: string, rules: GraphRules, fresh?: GraphFreshness): Promise<IdentityGraph> {
  return (await tenantGraphAndEdges(store, tenant, rules, fresh)).graph;
}

/** The same with the edges it was built from (consent, figures). */
export async function tenantGraphAndEdges(store: CloudStore, tenant: string, rules: GraphRules, fresh?: GraphFreshness): Promise<GraphAndEdges> {
  let perTenant = graphs.get(store);
  if (!perTenant) graphs.set(store, (perTenant = new Map()));
  const key = rulesKey(rules);
  const hit = perTenant.get(tenant);
  const nowMs = fresh?.nowMs ?? Date.now();
  const age = hit ? nowMs - hit.verifiedMs : -1;
  if (fresh && hit && hit.rulesKey === key && age >= 0 && age < fresh.reuseForMs) return hit.built;
  // The fingerprint is read before the edges: a change in between only makes the next call rebuild.
  const version = await store.edgesVersion(tenant);
  // Looked up again after the await: a caller that got here first may be building this very version.
  const now = perTenant.get(tenant);
  if (now && now.version === version && now.rulesKey === key) {
    now.verifiedMs = nowMs;
    return now.built;
  }
  // Set before anything else is awaited: every later caller of this version waits for this build.
  const built = Promise.all([store.edges(tenant), tenantProfileKey(store, tenant)]).then(([edges, profileKey]) => graphAndEdges(buildIdentityGraph(edges, rules, profileKey), edges));
  const entry: CachedGraph = { version, rulesKey: key, built, verifiedMs: nowMs };
  perTenant.set(tenant, entry);
  built.catch(() => {
    if (perTenant.get(tenant) === entry) perTenant.delete(tenant);
  });
  return built;
}
