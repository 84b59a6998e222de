/**
 * What the identity graph looks like, for HQ (pure): identifiers by kind, edges, profiles and their
 * sizes, quarantined shared devices, refused merges by rule. Counts of profiles are counts of people:
 * k-anonymous.
 */
import { suppress } from '../analytics/visits.js';
import { kindOf, type Edge, type IdentityGraph, type NodeKind, type RefusalReason } from './graph.js';

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
    identifiers: Object.fromEntries(Object.entries(identifiers).map(([kind, n]) => [kind, suppress(n, k)])) as Record<NodeKind, number | null>,
    edges: edges.length,
    profiles: suppress(g.profiles.size, k),
    quarantinedDevices: g.quarantined.size,
    refused,
    profileSizes: [...bySize].sort((a, b) => a[0] - b[0]).map(([size, n]) => ({ size, profiles: suppress(n, k) })),
  };
}
