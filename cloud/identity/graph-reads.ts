/**
 * What readers ask of a tenant's identity graph — the profile of some nodes, the members of some
 * profiles, their people's consent, the figures — answered from the database's stored assignment
 * (stored-graph.ts), which is always current: an erasure or an unmerge shows at the next call, and no
 * reader loads every edge. A caller asking under other rules than the database keeps (a test, a
 * what-if) gets the in-memory canonical build instead (tenant-graph.ts), which holds the whole graph.
 */
import type { CloudStore } from '../store/cloud-store.js';
import { consentFromIndex, consentIndex, type ConsentIndex, type ProfileConsent } from './consent.js';
import { figuresOfCounts, graphFigures, type GraphFigures } from './graph-figures.js';
import { isPerson, type GraphRules, type NodeId } from './graph.js';
import { graphRulesKey } from './stored-graph.js';
import { tenantGraphAndEdges, type GraphFreshness } from './tenant-graph.js';

export interface ProfileLookup {
  /** The profile of each node that is in one. */
  profileOf(nodes: readonly NodeId[]): Promise<Map<NodeId, string>>;
  /** The members of each profile that exists, sorted. */
  members(profiles: readonly string[]): Promise<Map<string, NodeId[]>>;
  /** The latest decisions of the people among `nodes`, from their own edges. */
  consent(nodes: readonly NodeId[]): Promise<ConsentIndex>;
}

/** Whether the database keeps the graph for these rules. */
async function storedFor(store: CloudStore, rules: GraphRules): Promise<boolean> {
  return (await store.graph.rulesKey()) === graphRulesKey(rules);
}

export async function profileLookup(store: CloudStore, tenant: string, rules: GraphRules, fresh?: GraphFreshness): Promise<ProfileLookup> {
  if (await storedFor(store, rules)) {
    const g = store.graph;
    return {
      profileOf: (nodes) => g.profileOf(tenant, nodes),
      members: (profiles) => g.members(tenant, profiles),
      consent: async (nodes) => {
        const people = new Set(nodes.filter(isPerson));
        return consentIndex(await g.edgesOf(tenant, [...people]), (n) => people.has(n));
      },
    };
  }
  const cached = await tenantGraphAndEdges(store, tenant, rules, fresh);
  const { profileOf, profiles } = cached.graph;
  return {
    profileOf: async (nodes) => new Map(nodes.flatMap((n) => (profileOf.has(n) ? [[n, profileOf.get(n)!] as const] : []))),
    members: async (ids) => new Map(ids.flatMap((id) => (profiles.has(id) ? [[id, profiles.get(id)!] as const] : []))),
    consent: async () => cached.consent(),
  };
}

/** One profile's consent per purpose. */
export async function profileConsent(look: ProfileLookup, members: readonly NodeId[]): Promise<ProfileConsent> {
  return consentFromIndex(members, await look.consent(members));
}

/** The /v1/graph figures, k-anonymous: the stored graph's counters, kept by every change. */
export async function tenantGraphFigures(store: CloudStore, tenant: string, rules: GraphRules, k: number): Promise<GraphFigures> {
  if (await storedFor(store, rules)) return figuresOfCounts(await store.graph.counts(tenant), k);
  const { graph, edges } = await tenantGraphAndEdges(store, tenant, rules);
  return graphFigures(edges, graph, k);
}

/** The profile of every Consumer-ID among sighting rows (`cid:<epoch>:<cid>` → profile), in lookups of a bounded size. */
export async function profilesOfSightings(look: ProfileLookup, rows: readonly { epoch: string; cid: string }[]): Promise<Map<NodeId, string>> {
  const nodes = [...new Set(rows.map((r) => `cid:${r.epoch}:${r.cid}`))];
  const out = new Map<NodeId, string>();
  for (let i = 0; i < nodes.length; i += LOOKUP_CHUNK) for (const [n, p] of await look.profileOf(nodes.slice(i, i + LOOKUP_CHUNK))) out.set(n, p);
  return out;
}

/** Nodes per look-up: a PostgreSQL array parameter or a run of SQLite index look-ups, never a whole day at once. */
const LOOKUP_CHUNK = 10_000;
