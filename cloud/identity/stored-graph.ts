/**
 * The identity graph as the database keeps it (issue 15): every identifier is a row with its raw
 * component and its profile id, kept up to date inside the transaction that stores or removes edges
 * (graph-upkeep.ts). Readers ask for the profile of some nodes or the members of some profiles, and for
 * the figures from counters the upkeep keeps: nothing loads the whole graph.
 *
 * The assignment is the one graph.ts's canonical builder gives for the whole graph, for the rules the
 * database keeps (its meta table): a caller asking under other rules gets the in-memory build instead
 * (profile-lookup.ts).
 */
import { createHash, createHmac } from 'node:crypto';
import type { ConsentEdge } from './consent.js';
import type { GraphRules, NodeId, NodeKind, RefusalReason } from './graph.js';

/** What the figures of /v1/graph are made of, before k-anonymity (graph-figures.ts). */
export interface GraphCounts {
  identifiers: Record<NodeKind, number>;
  edges: number;
  profiles: number;
  quarantinedDevices: number;
  refused: Record<RefusalReason, number>;
  /** Profiles by number of identifiers, ascending. */
  profileSizes: { size: number; profiles: number }[];
}

/** The read side, per tenant. Every answer is one snapshot of the database. */
export interface StoredGraph {
  /** The fingerprint (graphRulesKey) of the rules the stored assignment is for. */
  rulesKey(): Promise<string>;
  /** The profile of each node that is in one (nodes in none are absent). */
  profileOf(tenant: string, nodes: readonly NodeId[]): Promise<Map<NodeId, string>>;
  /** The members of each profile that exists, sorted (code-unit order, as graph.ts sorts them). */
  members(tenant: string, profiles: readonly string[]): Promise<Map<string, NodeId[]>>;
  /** Which of the nodes are quarantined shared devices. */
  quarantined(tenant: string, nodes: readonly NodeId[]): Promise<Set<NodeId>>;
  /** Every edge touching one of the nodes (a profile's consent reads its members' edges only). */
  edgesOf(tenant: string, nodes: readonly NodeId[]): Promise<ConsentEdge[]>;
  counts(tenant: string): Promise<GraphCounts>;
}

/** A fingerprint of the rules: a digest, so the meta table never holds a blocked value in the clear. */
export function graphRulesKey(r: GraphRules): string {
  return createHash('sha256').update(JSON.stringify([r.maxPersonsPerDevice, r.maxComponentSize, [...r.blocked].sort()])).digest('hex');
}

/** The rules as the meta table keeps them (blocked values are hashed identifiers already), and back. */
export function rulesText(r: GraphRules): string {
  return JSON.stringify({ maxPersonsPerDevice: r.maxPersonsPerDevice, maxComponentSize: r.maxComponentSize, blocked: [...r.blocked].sort() });
}

export function rulesFromText(text: string): GraphRules {
  const o = JSON.parse(text) as { maxPersonsPerDevice: number; maxComponentSize: number; blocked: string[] };
  return { maxPersonsPerDevice: o.maxPersonsPerDevice, maxComponentSize: o.maxComponentSize, blocked: new Set(o.blocked) };
}

/** The key a tenant's profile ids are made with, from the database's: ids differ across tenants. */
export function tenantKeyOf(databaseKey: Uint8Array, tenant: string): Uint8Array {
  return new Uint8Array(createHmac('sha256', databaseKey).update(`omniloop/v1/profile-key|${tenant}`).digest());
}
