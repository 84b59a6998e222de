/**
 * Profiles from the store: the tenant's identity graph as the database keeps it (graph-reads.ts), and one profile's
 * summary — its identifiers (all hashed), the days and stores its devices were seen in, its visits,
 * and its consent per purpose: the latest link event's decision, with when and where (consent.ts).
 */
import type { CloudStore } from '../store/cloud-store.js';
import { DEFAULT_GRAPH_RULES, type GraphRules, type NodeId } from './graph.js';
import { profileConsent, profileLookup } from './graph-reads.js';
import { buildVisits } from '../analytics/visits.js';
import { granted, type ProfileConsent } from './consent.js';

export interface ProfileSummary {
  profile: string;
  identifiers: { kind: string; value: string }[];
  days: string[];
  stores: string[];
  visits: number;
  visitorVisits: number;
  /** The current marketing decision (shorthand for `consent.marketing?.granted`). */
  marketingConsent: boolean;
  consent: ProfileConsent;
}

export async function findProfile(store: CloudStore, tenant: string, node: NodeId, rules: GraphRules = DEFAULT_GRAPH_RULES): Promise<ProfileSummary | null> {
  // Two indexed look-ups: the node's profile, the profile's members. No graph is built.
  const look = await profileLookup(store, tenant, rules);
  const id = node.startsWith('p_') ? node : (await look.profileOf([node])).get(node);
  const members = id ? (await look.members([id])).get(id) : undefined;
  if (!id || !members) return null;
  const cids = members.filter((m) => m.startsWith('cid:')).map((m) => ({ day: m.slice(4, 14), cid: m.slice(15) }));
  const days = [...new Set(cids.map((c) => c.day))].sort();
  // Only the profile's devices, by index: not every sighting of every day it was seen on.
  const rows = await store.sightingsOfCids(tenant, cids.map((c) => ({ epoch: c.day, cid: c.cid })));
  const visits = buildVisits(rows);
  const consent = await profileConsent(look, members); // its people's edges only
  return {
    profile: id,
    identifiers: members.map((m) => ({ kind: m.slice(0, 3), value: m.slice(4) })),
    days,
    stores: [...new Set(rows.map((r) => r.store))].sort(),
    visits: visits.length,
    visitorVisits: visits.filter((v) => v.visitor).length,
    marketingConsent: granted(consent, 'marketing'),
    consent,
  };
}

/**
 * Erases the profile that `node` belongs to (or just `node` when it is in none): every identifier,
 * edge and sighting of it, leaving suppression entries so a replay cannot bring it back.
 */
export async function eraseProfile(store: CloudStore, tenant: string, node: NodeId, rules: GraphRules = DEFAULT_GRAPH_RULES): Promise<{ identifiers: number; edges: number; sightings: number }> {
  const look = await profileLookup(store, tenant, rules); // the stored assignment: never stale
  const id = node.startsWith('p_') ? node : (await look.profileOf([node])).get(node);
  const members = (id && (await look.members([id])).get(id)) || (node.startsWith('p_') ? [] : [node]);
  const r = await store.erase(tenant, members);
  return { identifiers: members.length, ...r };
}
