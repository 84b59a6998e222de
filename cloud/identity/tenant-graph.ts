/**
 * A tenant's identity graph, cached per store and tenant and rebuilt only when the edges' fingerprint
 * (store.edgesVersion) changes, so an erasure or an unmerge shows at the next call. Segments, returning
 * customers and flows share it.
 */
import type { CloudStore } from '../store/cloud-store.js';
import { buildIdentityGraph, type GraphRules, type IdentityGraph } from './graph.js';

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
