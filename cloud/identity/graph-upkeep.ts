/**
 * Keeping the stored identity graph equal to graph.ts's canonical build while edges come and go, one
 * raw component at a time (issue 15).
 *
 * Why it is exact. Call an edge *merging* when neither end is blocked nor a quarantined shared device;
 * the builder refuses every other edge before it looks at any component, and whether a device is
 * quarantined depends on that device's own edges alone. A *raw component* is a connected component of
 * the merging edges. Every decision the builder takes for a merging edge (already joined, two loyalty
 * ids, too large) reads only the state of the two components it joins, which are made of earlier
 * merging edges of the same raw component; the canonical order restricted to one raw component is that
 * component's own sorted order. So the build of the whole graph is the union of the builds of its raw
 * components, each over its merging edges only — and profile ids (the smallest member, keyed) come out
 * the same. The refusals add up too: blocked and shared-device ones are counted from the edges, the
 * other two per raw component.
 *
 * What a change costs. A link event merges the raw components of its ends (the smaller relabelled into
 * the larger). When its edges are later than every edge of those components — events arrive about in
 * time order — the builder's state before them is the stored profiles, so they are applied to those
 * (extend): only the profiles they touch are read. Otherwise the component is rebuilt: its rows and
 * merging edges, read by index, through buildIdentityGraph. An unmerge or an erasure re-splits the
 * components of the nodes that lost edges (the same read, and a union-find over it). Quarantined devices
 * and blocked values never join a raw component, so a store tablet that hundreds of people used connects
 * nothing; a raw component that is large anyway (a network token or an e-mail many share, not blocked)
 * costs its whole size only when an event into it comes late or an edge of it goes: that is where this
 * breaks down (README), and blocking the value is the cure. Each change also moves the counters of
 * /v1/graph (COUNTER), from what it already read.
 *
 * The code runs against GraphTables, synchronous (SQLite, inside better-sqlite3's transaction) or
 * asynchronous (PostgreSQL): written once as generators, driven by runSync or runAsync.
 */
import { buildIdentityGraph, isPerson, profileIdOf, type Edge, type GraphRules, type NodeId } from './graph.js';

export type Io<T> = T | Promise<T>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the driver feeds each yield its own result type
export type Step<T> = Generator<unknown, T, any>;

/** A node's row. `comp` is its raw component (null: alone); `persons` the people a device shares edges with. */
export interface NodeRow {
  id: number;
  node: NodeId;
  comp: number | null;
  profile: string | null;
  persons: number;
  /** Set by ensureNodes on the rows it inserted. */
  fresh?: boolean;
}

export interface EndPoints {
  a: NodeId;
  b: NodeId;
}

/** A raw component's row: its size, its refusals, the latest time among its merging edges. */
export interface CompInfo {
  size: number;
  refusedLoyalty: number;
  refusedSize: number;
  lastTs: number | null;
}

/**
 * The tables of one tenant, inside the caller's transaction. Writes take many rows, and may wait until
 * the next flush (PostgreSQL sends them together): a read sees every write made before the last flush.
 */
export interface GraphTables {
  /** Adds the nodes not there yet (alone, no profile) and returns the rows of all of them. */
  ensureNodes(nodes: readonly NodeId[]): Io<NodeRow[]>;
  nodes(nodes: readonly NodeId[]): Io<NodeRow[]>;
  /** The distinct people-identifiers each device shares an edge with, counted from the edges. */
  countPersons(devices: readonly NodeId[]): Io<Map<NodeId, number>>;
  setPersons(rows: readonly { id: number; persons: number }[]): Io<void>;
  comps(comps: readonly number[]): Io<Map<number, CompInfo>>;
  /** New, empty components. */
  createComps(n: number): Io<number[]>;
  saveComps(rows: readonly CompRow[]): Io<void>;
  deleteComps(comps: readonly number[]): Io<void>;
  /** Puts nodes into components (null: alone). */
  assign(rows: readonly { id: number; comp: number | null }[]): Io<void>;
  /** Moves every node of each `from` into its `to`. */
  relabel(moves: readonly { from: number; to: number }[]): Io<void>;
  /** The rows of the nodes of the components. */
  compNodes(comps: readonly number[]): Io<NodeRow[]>;
  /** Every edge between two of these nodes of one component (rows as compNodes gives them), with that component. */
  compEdges(nodes: readonly NodeRow[]): Io<CompEdge[]>;
  /** The rows of the members of each profile. */
  profileMembers(profiles: readonly string[]): Io<NodeRow[]>;
  setProfiles(changes: readonly ProfileChange[]): Io<void>;
  /** Every edge touching one of the nodes (a freed shared device's, to merge now). */
  edgesOf(nodes: readonly NodeId[]): Io<EndPoints[]>;
  /** Deletes the rows of those nodes no edge touches any more (at once); returns them as they were. */
  dropOrphans(nodes: readonly NodeId[]): Io<NodeRow[]>;
  /** Adds to the tenant's counters (the figures of /v1/graph): identifiers by kind, edges, profiles by size, refusals. */
  addCounts(deltas: ReadonlyMap<string, number>): Io<void>;
  /** Sends the writes that wait. */
  flush(): Io<void>;
}

export type CompRow = CompInfo & { comp: number };
export type CompEdge = Edge & { comp: number };
export type ProfileChange = { id: number; profile: string | null };

export interface Upkeep {
  rules: GraphRules;
  /** The tenant's profile key (stored-graph.ts tenantKeyOf). */
  profileKey: Uint8Array;
}

/** How components were brought up to date in this process: tests see both paths taken. */
export const upkeepPaths = { extended: 0, rebuilt: 0 };

/**
 * The counters a change moves, so /v1/graph reads a few rows instead of every node: `id:<kind>`,
 * `edges`, `size:<members>` (profiles of that size), `refused:loyalty`, `refused:size`.
 */
export const COUNTER = {
  identifiers: (n: NodeId) => `id:${n.slice(0, 3)}`,
  edges: 'edges',
  size: (k: number) => `size:${k}`,
  refusedLoyalty: 'refused:loyalty',
  refusedSize: 'refused:size',
} as const;

class Tally {
  readonly deltas = new Map<string, number>();
  add(key: string, n: number): void {
    if (n) this.deltas.set(key, (this.deltas.get(key) ?? 0) + n);
  }
  /** Profiles of the sizes `before` are gone, profiles of the sizes `after` are there. */
  profiles(before: Iterable<number>, after: Iterable<number>): void {
    for (const k of before) this.add(COUNTER.size(k), -1);
    for (const k of after) this.add(COUNTER.size(k), 1);
  }
  refusals(before: { refusedLoyalty: number; refusedSize: number }, after: { refusedLoyalty: number; refusedSize: number }): void {
    this.add(COUNTER.refusedLoyalty, after.refusedLoyalty - before.refusedLoyalty);
    this.add(COUNTER.refusedSize, after.refusedSize - before.refusedSize);
  }
  *write(t: GraphTables): Step<void> {
    for (const [k, n] of this.deltas) if (n === 0) this.deltas.delete(k);
    if (this.deltas.size) yield* io(t.addCounts(this.deltas));
  }
}

/** Sizes of the profiles among rows (every member of each is among them). */
function profileSizes(rows: Iterable<NodeRow>): number[] {
  const n = new Map<string, number>();
  for (const r of rows) if (r.profile !== null) n.set(r.profile, (n.get(r.profile) ?? 0) + 1);
  return [...n.values()];
}

function* io<T>(x: Io<T>): Step<T> {
  return (yield x) as T;
}

export function runSync<T>(g: Step<T>): T {
  let r = g.next();
  while (!r.done) {
    if (r.value instanceof Promise) throw new Error('graph upkeep: a synchronous store answered with a promise');
    r = g.next(r.value);
  }
  return r.value;
}

export async function runAsync<T>(g: Step<T>): Promise<T> {
  let r = g.next();
  while (!r.done) r = g.next(await r.value);
  return r.value;
}

const isDevice = (n: NodeId) => n.startsWith('cid:');

function quarantined(r: NodeRow, rules: GraphRules): boolean {
  return isDevice(r.node) && r.persons > rules.maxPersonsPerDevice;
}

function joins(r: NodeRow, rules: GraphRules): boolean {
  return !rules.blocked.has(r.node) && !quarantined(r, rules);
}

const byNode = (rows: readonly NodeRow[]) => new Map(rows.map((r) => [r.node, r]));
const unique = <T>(xs: Iterable<T>) => [...new Set(xs)];

/**
 * New edges (already in the edges table): their nodes join the graph and their components merge. New
 * edges later than everything in the components they touch (the usual case: events arrive about in
 * time order) extend the stored profiles as the builder would at the end of its canonical order,
 * reading only the profiles involved; any other is a rebuild of the component.
 */
export function* edgesAdded(t: GraphTables, edges: readonly Edge[], u: Upkeep): Step<void> {
  if (!edges.length) return;
  const tally = new Tally();
  tally.add(COUNTER.edges, edges.length);
  const names = unique(edges.flatMap((e) => [e.a, e.b]));
  const ensured = yield* io(t.ensureNodes(names));
  for (const r of ensured) if (r.fresh) tally.add(COUNTER.identifiers(r.node), 1);
  let rows = byNode(ensured);
  // A device that gains a person may cross the limit; one already over it stays over it.
  const gaining = unique(edges.flatMap((e) => [[e.a, e.b], [e.b, e.a]]).filter(([d, p]) => isDevice(d!) && isPerson(p!) && !quarantined(rows.get(d!)!, u.rules)).map(([d]) => d!));
  if (gaining.length) {
    const { newlyQuarantined } = yield* recount(t, rows, gaining, u);
    const leaving = newlyQuarantined.map((d) => ({ ...rows.get(d)! })).filter((r) => r.comp !== null);
    if (leaving.length) {
      // A newly shared device leaves its component, which may fall apart without it.
      yield* io(t.assign(leaving.map((r) => ({ id: r.id, comp: null }))));
      yield* io(t.setProfiles(leaving.filter((r) => r.profile !== null).map((r) => ({ id: r.id, profile: null }))));
      for (const c of unique(leaving.map((r) => r.comp!))) yield* resplit(t, c, u, tally, leaving.filter((r) => r.comp === c));
      yield* io(t.flush());
      rows = byNode(yield* io(t.nodes(names)));
    }
  }
  yield* merge(t, rows, edges, u, tally);
  yield* tally.write(t);
  yield* io(t.flush());
}

/**
 * Edges gone (already deleted from the edges table), given by their ends (a, b of each): nodes left
 * without edges go, the components they were in are split again, and a device no longer shared merges now.
 */
export function* edgesRemoved(t: GraphTables, ends: readonly NodeId[], u: Upkeep): Step<void> {
  const names = unique(ends);
  if (!names.length) return;
  const tally = new Tally();
  tally.add(COUNTER.edges, -ends.length / 2);
  const rows = byNode(yield* io(t.nodes(names)));
  const comps = unique([...rows.values()].filter((r) => r.comp !== null).map((r) => r.comp!));
  const { freed } = yield* recount(t, rows, names.filter((n) => isDevice(n) && rows.has(n)), u);
  const gone = yield* io(t.dropOrphans(names));
  for (const r of gone) tally.add(COUNTER.identifiers(r.node), -1);
  for (const c of comps) yield* resplit(t, c, u, tally, gone.filter((r) => r.comp === c));
  if (freed.length) {
    // Its edges are old ones: merged now, they are no extension of anything, so the components are rebuilt.
    yield* io(t.flush());
    const edges = yield* io(t.edgesOf(freed));
    const now = byNode(yield* io(t.nodes(unique(edges.flatMap((e) => [e.a, e.b])))));
    yield* merge(t, now, edges, u, tally);
  }
  yield* tally.write(t);
  yield* io(t.flush());
}

/** Recounts the people of devices; updates `rows` and the table. */
function* recount(t: GraphTables, rows: Map<NodeId, NodeRow>, devices: readonly NodeId[], u: Upkeep): Step<{ newlyQuarantined: NodeId[]; freed: NodeId[] }> {
  const newlyQuarantined: NodeId[] = [];
  const freed: NodeId[] = [];
  if (!devices.length) return { newlyQuarantined, freed };
  const counts = yield* io(t.countPersons(devices));
  const changed: { id: number; persons: number }[] = [];
  for (const d of devices) {
    const r = rows.get(d)!;
    const n = counts.get(d) ?? 0;
    if (n === r.persons) continue;
    const was = quarantined(r, u.rules);
    r.persons = n;
    changed.push({ id: r.id, persons: n });
    const is = quarantined(r, u.rules);
    if (is && !was) newlyQuarantined.push(d);
    if (was && !is) freed.push(d);
  }
  if (changed.length) yield* io(t.setPersons(changed));
  return { newlyQuarantined, freed };
}

/**
 * Merges the components the merging edges among `edges` connect (smaller into larger), then brings
 * each resulting component's profiles up to date: extended when the new edges (with their times) all
 * come after its edges, rebuilt otherwise. Every step is one call for all the components of the batch.
 */
function* merge(t: GraphTables, rows: Map<NodeId, NodeRow>, edges: readonly (EndPoints | Edge)[], u: Upkeep, tally: Tally): Step<void> {
  const merging = edges.filter((e) => e.a !== e.b && joins(rows.get(e.a)!, u.rules) && joins(rows.get(e.b)!, u.rules));
  if (!merging.length) return;
  // A union-find over today's components; a node alone stands for itself.
  const keyOf = (r: NodeRow) => (r.comp !== null ? `c${r.comp}` : `n${r.id}`);
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let p = parent.get(k) ?? k;
    while (p !== k) {
      k = p;
      p = parent.get(k) ?? k;
    }
    return k;
  };
  for (const e of merging) {
    const x = find(keyOf(rows.get(e.a)!));
    const y = find(keyOf(rows.get(e.b)!));
    if (x !== y) parent.set(x, y);
  }
  interface Group {
    rows: Set<NodeRow>;
    edges: (EndPoints | Edge)[];
    comps: number[];
    target: number;
    fast: boolean;
    base: CompInfo;
  }
  const byRoot = new Map<string, Group>();
  for (const e of merging) {
    const root = find(keyOf(rows.get(e.a)!));
    let g = byRoot.get(root);
    if (!g) byRoot.set(root, (g = { rows: new Set(), edges: [], comps: [], target: 0, fast: false, base: { size: 0, refusedLoyalty: 0, refusedSize: 0, lastTs: null } }));
    g.rows.add(rows.get(e.a)!).add(rows.get(e.b)!);
    g.edges.push(e);
  }
  const groups = [...byRoot.values()];
  const info = yield* io(t.comps(unique([...rows.values()].filter((r) => r.comp !== null).map((r) => r.comp!))));
  // The largest keeps its label: relabelling costs the size of what moves.
  for (const g of groups) g.comps = unique([...g.rows].filter((r) => r.comp !== null).map((r) => r.comp!)).sort((x, y) => info.get(y)!.size - info.get(x)!.size || x - y);
  const fresh = groups.filter((g) => !g.comps.length);
  const ids = fresh.length ? yield* io(t.createComps(fresh.length)) : [];
  fresh.forEach((g, i) => (g.target = ids[i]!));
  const moves: { from: number; to: number }[] = [];
  const assigns: { id: number; comp: number }[] = [];
  for (const g of groups) {
    if (g.comps.length) g.target = g.comps[0]!;
    for (const c of g.comps.slice(1)) moves.push({ from: c, to: g.target });
    for (const r of g.rows) {
      if (r.comp !== null) continue;
      assigns.push({ id: r.id, comp: (r.comp = g.target) });
      g.base.size++;
    }
    const before = g.comps.map((c) => info.get(c)!);
    const last = Math.max(-Infinity, ...before.map((c) => c.lastTs ?? Infinity));
    g.fast = g.edges.every((e) => 'ts' in e && typeof e.ts === 'number' && e.ts > last);
    for (const c of before) {
      g.base.size += c.size;
      g.base.refusedLoyalty += c.refusedLoyalty;
      g.base.refusedSize += c.refusedSize;
    }
  }
  if (moves.length) {
    yield* io(t.relabel(moves));
    yield* io(t.deleteComps(moves.map((m) => m.from)));
  }
  if (assigns.length) yield* io(t.assign(assigns));
  const changes: ProfileChange[] = [];
  const saves: CompRow[] = [];
  const fast = groups.filter((g) => g.fast);
  if (fast.length) {
    const profiles = unique(fast.flatMap((g) => [...g.rows].filter((r) => r.profile !== null).map((r) => r.profile!)));
    const members = profiles.length ? yield* io(t.profileMembers(profiles)) : [];
    const byProfile = new Map<string, NodeRow[]>();
    for (const r of members) (byProfile.get(r.profile!) ?? byProfile.set(r.profile!, []).get(r.profile!)!).push(r);
    for (const g of fast) extend(g.target, g.base, [...g.rows], byProfile, g.edges as Edge[], u, changes, saves, tally);
  }
  const slow = groups.filter((g) => !g.fast);
  if (slow.length) {
    // The refusals of the components merged into each: the rebuild counts them again from its edges.
    for (const g of slow) tally.refusals(g.base, { refusedLoyalty: 0, refusedSize: 0 });
    yield* rebuild(t, slow.map((g) => g.target), u, changes, saves, tally);
  }
  if (changes.length) yield* io(t.setProfiles(changes));
  yield* io(t.saveComps(saves));
}

/**
 * The builder's own steps for edges that come after every other edge of the component in the canonical
 * order: its state before them is the stored profiles (a profile is exactly a component of the
 * builder's union-find; a node in none is alone), so the new edges are applied to those, with the same
 * checks in the same order. Reads only the profiles the edges touch: a hot component costs no more.
 */
function extend(comp: number, base: CompInfo, ends: readonly NodeRow[], members: Map<string, NodeRow[]>, edges: readonly Edge[], u: Upkeep, changes: ProfileChange[], saves: CompRow[], tally: Tally): void {
  upkeepPaths.extended++;
  const sorted = [...edges].sort((x, y) => x.ts - y.ts || cmp(x.a, y.a) || cmp(x.b, y.b) || cmp(x.batchId, y.batchId));
  const rowOf = new Map(ends.map((r) => [r.node, r]));
  for (const r of ends) if (r.profile !== null) for (const m of members.get(r.profile) ?? []) rowOf.set(m.node, m);
  interface Part {
    members: NodeRow[];
    loyalty: NodeId | null;
    merged: boolean;
    /** The sizes of the stored profiles it is made of. */
    was: number[];
  }
  const partOf = new Map<string, Part>();
  const keyOf = (r: NodeRow) => r.profile ?? `n${r.id}`;
  for (const r of rowOf.values()) {
    const k = keyOf(r);
    let part = partOf.get(k);
    if (!part) partOf.set(k, (part = { members: [], loyalty: null, merged: false, was: [] }));
    part.members.push(r);
    if (r.node.startsWith('loy:')) part.loyalty = r.node;
  }
  const parent = new Map<Part, Part>();
  const find = (p: Part): Part => {
    while (parent.has(p)) p = parent.get(p)!;
    return p;
  };
  for (const [k, part] of partOf) if (!k.startsWith('n')) part.was.push(part.members.length);
  let { refusedLoyalty, refusedSize } = base;
  for (const e of sorted) {
    let a = find(partOf.get(keyOf(rowOf.get(e.a)!))!);
    let b = find(partOf.get(keyOf(rowOf.get(e.b)!))!);
    if (a === b) continue;
    if (a.loyalty !== null && b.loyalty !== null && a.loyalty !== b.loyalty) {
      refusedLoyalty++;
      continue;
    }
    if (a.members.length + b.members.length > u.rules.maxComponentSize) {
      refusedSize++;
      continue;
    }
    if (a.members.length < b.members.length) [a, b] = [b, a];
    parent.set(b, a);
    a.members.push(...b.members);
    a.loyalty ??= b.loyalty;
    a.merged = true;
    a.was.push(...b.was);
  }
  tally.refusals(base, { refusedLoyalty, refusedSize });
  for (const part of new Set([...partOf.values()].map(find))) {
    if (!part.merged) continue;
    tally.profiles(part.was, [part.members.length]);
    const id = profileIdOf(u.profileKey, part.members.reduce((m, r) => (r.node < m ? r.node : m), part.members[0]!.node));
    for (const r of part.members) if (r.profile !== id) changes.push({ id: r.id, profile: id });
  }
  saves.push({ comp, size: base.size, refusedLoyalty, refusedSize, lastTs: sorted[sorted.length - 1]!.ts });
}

/** Re-runs the canonical builder on components (their rows and merging edges, read in one go each). */
function* rebuild(t: GraphTables, comps: readonly number[], u: Upkeep, changes: ProfileChange[], saves: CompRow[], tally: Tally): Step<void> {
  yield* io(t.flush()); // the relabelling and assignments just made
  const rows = yield* io(t.compNodes(comps));
  const nodes = groupBy(rows, (r) => r.comp!);
  const edges = groupBy(yield* io(t.compEdges(rows)), (e) => e.comp);
  for (const c of comps) {
    const list = nodes.get(c) ?? [];
    // Every stored profile of a merged component lies within it: these are all their members.
    tally.profiles(profileSizes(list), build(c, list, edges.get(c) ?? [], u, changes, saves, tally));
  }
}

/** The canonical build of one component: the profiles that changed and the component's row; returns the sizes of its profiles. */
function build(comp: number, nodes: readonly NodeRow[], edges: readonly Edge[], u: Upkeep, changes: ProfileChange[], saves: CompRow[], tally: Tally): number[] {
  upkeepPaths.rebuilt++;
  const g = buildIdentityGraph(edges, u.rules, u.profileKey);
  for (const n of nodes) {
    const p = g.profileOf.get(n.node) ?? null;
    if (p !== n.profile) changes.push({ id: n.id, profile: p });
  }
  let refusedLoyalty = 0;
  let refusedSize = 0;
  for (const r of g.refused) {
    if (r.reason === 'two-loyalty-ids') refusedLoyalty++;
    else if (r.reason === 'component-too-large') refusedSize++;
  }
  tally.refusals({ refusedLoyalty: 0, refusedSize: 0 }, { refusedLoyalty, refusedSize });
  const lastTs = edges.reduce((m, e) => Math.max(m, e.ts), -Infinity);
  saves.push({ comp, size: nodes.length, refusedLoyalty, refusedSize, lastTs: Number.isFinite(lastTs) ? lastTs : null });
  return [...g.profiles.values()].map((m) => m.length);
}

/**
 * Splits a component that lost nodes or edges into its connected parts: the largest keeps the label,
 * the others get new ones (a part of one node is alone again), and each part is rebuilt.
 */
function* resplit(t: GraphTables, comp: number, u: Upkeep, tally: Tally, left: readonly NodeRow[]): Step<void> {
  yield* io(t.flush());
  const before = (yield* io(t.comps([comp]))).get(comp);
  const nodes = yield* io(t.compNodes([comp]));
  const edges = yield* io(t.compEdges(nodes));
  // The profiles it held: its rows now, and those that just left it (erased, or a device now shared).
  const was = profileSizes([...nodes, ...left]);
  if (before) tally.refusals(before, { refusedLoyalty: 0, refusedSize: 0 });
  const now: number[] = [];
  const index = new Map(nodes.map((n, i) => [n.node, i]));
  const parent = Int32Array.from(nodes, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  for (const e of edges) {
    const x = find(index.get(e.a)!);
    const y = find(index.get(e.b)!);
    if (x !== y) parent[x] = y;
  }
  const parts = [...groupBy(nodes.map((n, i) => ({ n, root: find(i) })), (x) => x.root).values()].map((xs) => xs.map((x) => x.n)).sort((x, y) => y.length - x.length);
  const keep = parts[0] && parts[0].length > 1 ? parts[0] : undefined;
  if (!keep) yield* io(t.deleteComps([comp]));
  const others = parts.filter((p) => p !== keep && p.length > 1);
  const labels = others.length ? yield* io(t.createComps(others.length)) : [];
  const assigns: { id: number; comp: number | null }[] = [];
  const changes: ProfileChange[] = [];
  const saves: CompRow[] = [];
  for (const part of parts) {
    if (part.length === 1) {
      const r = part[0]!;
      assigns.push({ id: r.id, comp: null });
      if (r.profile !== null) changes.push({ id: r.id, profile: null });
      continue;
    }
    const label = part === keep ? comp : labels[others.indexOf(part)]!;
    if (label !== comp) for (const r of part) assigns.push({ id: r.id, comp: label });
    const members = new Set(part.map((r) => r.node));
    now.push(...build(label, part, parts.length === 1 ? edges : edges.filter((e) => members.has(e.a)), u, changes, saves, tally));
  }
  tally.profiles(was, now);
  if (assigns.length) yield* io(t.assign(assigns));
  if (changes.length) yield* io(t.setProfiles(changes));
  if (saves.length) yield* io(t.saveComps(saves));
}

function groupBy<T, K>(xs: readonly T[], key: (x: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = out.get(k);
    if (list) list.push(x);
    else out.set(k, [x]);
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
