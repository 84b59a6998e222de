/**
 * The identity graph (pure): identifiers are nodes — daily Consumer-IDs of devices, hashed e-mails,
 * hashed phones, keyed loyalty ids — and only identifiable link events make edges. Profiles are the
 * connected components (union-find), under rules against over-merging:
 *   - blocked values never join anything (test e-mails, a shop's own phone number);
 *   - a device linked to more than `maxPersonsPerDevice` people is a shared device (a store tablet):
 *     quarantined, its edges unused;
 *   - at most one loyalty id per profile: a merge that would join two is refused;
 *   - a component never grows past `maxComponentSize`: the merge is refused.
 * The graph does not depend on arrival order: the quarantine is computed over all edges, and edges are
 * applied in one canonical order (time, then ids), so any number of consumers in any order, and any
 * recomputation after an unmerge, give the same profiles.
 */
import { createHmac, randomBytes } from 'node:crypto';

/** `net`: a connected device's network token, long-lived (a device, not a person). */
export type NodeKind = 'cid' | 'hem' | 'hph' | 'loy' | 'net';

/** `kind:value` — for a cid the value includes its store-day: `cid:2026-11-23:<hex>`. */
export type NodeId = string;

export interface Edge {
  a: NodeId;
  b: NodeId;
  ts: number;
  /** Where the evidence came from: the batch id and store of the link event. */
  batchId: string;
  store: string;
}

export interface GraphRules {
  blocked: ReadonlySet<NodeId>;
  maxPersonsPerDevice: number;
  maxComponentSize: number;
}

export const DEFAULT_GRAPH_RULES: GraphRules = { blocked: new Set(), maxPersonsPerDevice: 3, maxComponentSize: 200 };

export type RefusalReason = 'blocked' | 'shared-device' | 'two-loyalty-ids' | 'component-too-large';

export interface IdentityGraph {
  /** Profile id of every node that is in a profile: the smallest node id of the component, keyed (profileIdOf). */
  profileOf: Map<NodeId, string>;
  profiles: Map<string, NodeId[]>;
  quarantined: Set<NodeId>;
  refused: { edge: Edge; reason: RefusalReason }[];
}

export function kindOf(node: NodeId): NodeKind {
  return node.slice(0, 3) as NodeKind;
}

/** Identifiers of a person (a device's daily cid and its network token are not). */
export const isPerson = (n: NodeId) => n.startsWith('hem:') || n.startsWith('hph:') || n.startsWith('loy:');

/**
 * Keys profile ids where a caller has no database's key (tests, benchmarks): random per process, so no
 * id is ever an unkeyed hash of an identifier. HQ passes its database's key (tenant-graph.ts).
 */
const PROCESS_PROFILE_KEY = new Uint8Array(randomBytes(32));

/** Graphs built in this process: tests count them to see that callers share one cached graph. */
export const graphBuilds = { count: 0 };

export function buildIdentityGraph(edges: readonly Edge[], rules: GraphRules = DEFAULT_GRAPH_RULES, profileKey: Uint8Array = PROCESS_PROFILE_KEY): IdentityGraph {
  graphBuilds.count++;
  const refused: IdentityGraph['refused'] = [];

  // Shared devices, over every edge regardless of order. Almost every device belongs to one person, so
  // a device holds that person's id and only grows a Set when a second one shows up.
  const personsOf = new Map<NodeId, NodeId | Set<NodeId>>();
  const quarantined = new Set<NodeId>();
  const note = (d: NodeId, p: NodeId) => {
    if (!d.startsWith('cid:') || !isPerson(p)) return;
    const cur = personsOf.get(d);
    if (cur === undefined) personsOf.set(d, p);
    else if (typeof cur === 'string') {
      if (cur !== p) personsOf.set(d, new Set([cur, p]));
    } else cur.add(p);
  };
  for (const e of edges) {
    note(e.a, e.b);
    note(e.b, e.a);
  }
  for (const [d, s] of personsOf) if (typeof s !== 'string' && s.size > rules.maxPersonsPerDevice) quarantined.add(d);

  // Canonical order.
  const sorted = [...edges].sort((x, y) => x.ts - y.ts || cmp(x.a, y.a) || cmp(x.b, y.b) || cmp(x.batchId, y.batchId));

  const index = new Map<NodeId, number>();
  const nodes: NodeId[] = [];
  const idx = (n: NodeId): number => {
    let i = index.get(n);
    if (i === undefined) {
      i = nodes.length;
      index.set(n, i);
      nodes.push(n);
    }
    return i;
  };
  for (const e of sorted) {
    idx(e.a);
    idx(e.b);
  }
  const parent = new Int32Array(nodes.length);
  const size = new Int32Array(nodes.length).fill(1);
  const loyalty = new Int32Array(nodes.length).fill(-1);
  for (let i = 0; i < nodes.length; i++) {
    parent[i] = i;
    if (nodes[i]!.startsWith('loy:')) loyalty[i] = i;
  }
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };

  const linked = new Uint8Array(nodes.length);
  for (const e of sorted) {
    if (rules.blocked.has(e.a) || rules.blocked.has(e.b)) {
      refused.push({ edge: e, reason: 'blocked' });
      continue;
    }
    if (quarantined.has(e.a) || quarantined.has(e.b)) {
      refused.push({ edge: e, reason: 'shared-device' });
      continue;
    }
    let ra = find(index.get(e.a)!);
    let rb = find(index.get(e.b)!);
    if (ra === rb) continue;
    if (loyalty[ra] !== -1 && loyalty[rb] !== -1 && loyalty[ra] !== loyalty[rb]) {
      refused.push({ edge: e, reason: 'two-loyalty-ids' });
      continue;
    }
    if (size[ra]! + size[rb]! > rules.maxComponentSize) {
      refused.push({ edge: e, reason: 'component-too-large' });
      continue;
    }
    if (size[ra]! < size[rb]!) [ra, rb] = [rb, ra];
    parent[rb] = ra;
    size[ra]! += size[rb]!;
    if (loyalty[ra] === -1) loyalty[ra] = loyalty[rb]!;
    linked[index.get(e.a)!] = 1;
    linked[index.get(e.b)!] = 1;
  }

  // Components of at least two linked nodes are profiles; their id is their smallest node id.
  const members = new Map<number, NodeId[]>();
  for (let i = 0; i < nodes.length; i++) {
    if (!linked[i]) continue;
    const r = find(i);
    let list = members.get(r);
    if (!list) members.set(r, (list = []));
    list.push(nodes[i]!);
  }
  const profileOf = new Map<NodeId, string>();
  const profiles = new Map<string, NodeId[]>();
  for (const list of members.values()) {
    list.sort(cmp);
    const id = profileIdOf(profileKey, list[0]!);
    profiles.set(id, list);
    for (const n of list) profileOf.set(n, id);
  }
  return { profileOf, profiles, quarantined, refused };
}

/**
 * A profile id: 64 bits of HMAC-SHA256 of the smallest node id under the profile key. Unkeyed, anyone
 * who knows an e-mail (hashed e-mails are plain SHA-256) could work out its profile's id and ask the
 * API for it (issue 14, finding 9); keyed, ids are stable for the database and say nothing.
 */
export function profileIdOf(profileKey: Uint8Array, smallest: NodeId): string {
  return `p_${createHmac('sha256', profileKey).update(smallest).digest('hex').slice(0, 16)}`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
