/**
 * What the identity graph looks like, for HQ (pure): identifiers by kind, edges, profiles and their
 * sizes, quarantined shared devices, refused merges by rule. Counts of profiles are counts of people:
 * k-anonymous.
 */
import { suppress } from '../analytics/visits.js';
import { kindOf, type Edge, type IdentityGraph, type NodeKind, type RefusalReason } from './graph.js';
import type { GraphCounts } from './stored-graph.js';

export interface GraphFigures {
  /** Identifiers by kind; a kind with fewer than k is hidden (null): one hashed e-mail is one person. */
  identifiers: Record<NodeKind, number | null>;
  edges: number;
  profiles: number | null;
  quarantinedDevices: number;
  refused: Record<RefusalReason, number>;
  /** Profiles by number of identifiers (2, 3, ...). */
  profileSizes: { size: number; profiles: number | null }[];
}

export function graphFigures(edges: readonly Edge[], g: IdentityGraph, k: number): GraphFigures {
  return figuresOfCounts(graphCounts(edges, g), k);
}

/** The counts of an in-memory graph, as the stored graph answers them (its counters and bounded queries). */
export function graphCounts(edges: readonly Edge[], g: IdentityGraph): GraphCounts {
  const identifiers: Record<NodeKind, number> = { cid: 0, hem: 0, hph: 0, loy: 0, net: 0 };
  const seen = new Set<string>();
  for (const e of edges) {
    for (const n of [e.a, e.b]) {
      if (seen.has(n)) continue;
      seen.add(n);
      identifiers[kindOf(n)]++;
    }
  }
  const refused: Record<RefusalReason, number> = { blocked: 0, 'shared-device': 0, 'two-loyalty-ids': 0, 'component-too-large': 0 };
  for (const r of g.refused) refused[r.reason]++;
  const bySize = new Map<number, number>();
  for (const members of g.profiles.values()) bySize.set(members.length, (bySize.get(members.length) ?? 0) + 1);
  return {
    identifiers,
    edges: edges.length,
    profiles: g.profiles.size,
    quarantinedDevices: g.quarantined.size,
    refused,
    profileSizes: [...bySize].sort((a, b) => a[0] - b[0]).map(([size, profiles]) => ({ size, profiles })),
  };
}

/** The figures HQ shows, k-anonymous: a kind or a size with fewer than k is hidden. */
export function figuresOfCounts(c: GraphCounts, k: number): GraphFigures {
  return {
    identifiers: Object.fromEntries(Object.entries(c.identifiers).map(([kind, n]) => [kind, suppress(n, k)])) as Record<NodeKind, number | null>,
    edges: c.edges,
    profiles: suppress(c.profiles, k),
    quarantinedDevices: c.quarantinedDevices,
    refused: c.refused,
    profileSizes: c.profileSizes.map(({ size, profiles }) => ({ size, profiles: suppress(profiles, k) })),
  };
}
