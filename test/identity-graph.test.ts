/** The identity graph: profiles as components, the rules against over-merging, order independence. */
import { describe, expect, it } from 'vitest';
import { buildIdentityGraph, DEFAULT_GRAPH_RULES, type Edge } from '../cloud/identity/graph.js';
import { mulberry32 } from '../scripts/lib/prng.js';

let t = 0;
const edge = (a: string, b: string, ts = ++t): Edge => ({ a, b, ts, batchId: `ap-1:x:${ts}`, store: 'berlin-1' });
const cid = (n: number, day = '2026-11-23') => `cid:${day}:${n.toString(16).padStart(32, '0')}`;
const hem = (n: number) => `hem:${'e'.repeat(63)}${n}`;
const loy = (n: number) => `loy:${'1'.repeat(63)}${n}`;

function partition(g: ReturnType<typeof buildIdentityGraph>): string[] {
  return [...g.profiles.values()].map((m) => m.join(',')).sort();
}

describe('identity graph', () => {
  it('joins a device seen on two days, an e-mail and a loyalty card into one profile', () => {
    const g = buildIdentityGraph([edge(cid(1), hem(1)), edge(cid(1, '2026-11-30'), loy(1)), edge(hem(1), loy(1))]);
    expect(g.profiles.size).toBe(1);
    const [id, members] = [...g.profiles][0]!;
    expect(members).toHaveLength(4);
    expect(id).toMatch(/^p_[0-9a-f]{16}$/);
    expect(g.profileOf.get(cid(1))).toBe(id);
    expect(g.refused).toEqual([]);
  });

  it('never merges through a blocked value', () => {
    const blocked = new Set([hem(9)]);
    const g = buildIdentityGraph([edge(cid(1), hem(9)), edge(cid(2), hem(9)), edge(cid(1), hem(1))], { ...DEFAULT_GRAPH_RULES, blocked });
    expect(partition(g)).toEqual([[cid(1), hem(1)].sort().join(',')]);
    expect(g.refused.map((r) => r.reason)).toEqual(['blocked', 'blocked']);
  });

  it('quarantines a shared device instead of merging the people who used it', () => {
    const tablet = cid(99);
    const edges = [1, 2, 3, 4].map((p) => edge(tablet, hem(p)));
    const g = buildIdentityGraph([...edges, edge(cid(1), hem(1))]);
    expect(g.quarantined).toEqual(new Set([tablet]));
    expect(g.profileOf.has(tablet)).toBe(false);
    expect(g.profileOf.get(hem(2))).toBeUndefined(); // not merged with hem 1 through the tablet
    expect(g.refused.filter((r) => r.reason === 'shared-device')).toHaveLength(4);
  });

  it('keeps at most one loyalty id per profile', () => {
    const g = buildIdentityGraph([edge(cid(1), loy(1)), edge(cid(2), loy(2)), edge(cid(1), hem(1)), edge(hem(1), cid(2))]);
    expect(g.refused.map((r) => r.reason)).toEqual(['two-loyalty-ids']);
    expect(g.profileOf.get(loy(1))).not.toBe(g.profileOf.get(loy(2)));
  });

  it('caps the size of a component', () => {
    const chain = Array.from({ length: 10 }, (_, i) => edge(cid(i), cid(i + 1)));
    const g = buildIdentityGraph(chain, { ...DEFAULT_GRAPH_RULES, maxComponentSize: 5 });
    expect(Math.max(...[...g.profiles.values()].map((m) => m.length))).toBeLessThanOrEqual(5);
    expect(g.refused.some((r) => r.reason === 'component-too-large')).toBe(true);
  });

  it('gives the same profiles whatever order the edges arrive in', () => {
    const rnd = mulberry32(11);
    const edges: Edge[] = [];
    for (let i = 0; i < 400; i++) {
      const a = Math.floor(rnd() * 150);
      const kind = rnd();
      const b = kind < 0.4 ? hem(Math.floor(rnd() * 60)) : kind < 0.6 ? loy(Math.floor(rnd() * 30)) : cid(Math.floor(rnd() * 150));
      edges.push(edge(cid(a), b, Math.floor(rnd() * 50))); // many equal timestamps, on purpose
    }
    const rules = { ...DEFAULT_GRAPH_RULES, maxComponentSize: 25 };
    const reference = buildIdentityGraph(edges, rules);
    expect(reference.refused.length).toBeGreaterThan(0); // the rules are exercised
    for (let k = 0; k < 20; k++) {
      const shuffled = [...edges].sort(() => rnd() - 0.5);
      const g = buildIdentityGraph(shuffled, rules);
      expect(partition(g)).toEqual(partition(reference));
      expect([...g.profileOf].sort()).toEqual([...reference.profileOf].sort());
    }
  });

  it('unmerges when an edge is revoked (the graph is rebuilt without it)', () => {
    const edges = [edge(cid(1), hem(1)), edge(hem(1), cid(2)), edge(cid(2), loy(1))];
    expect(buildIdentityGraph(edges).profiles.size).toBe(1);
    const g = buildIdentityGraph(edges.filter((_, i) => i !== 1));
    expect(g.profiles.size).toBe(2);
  });
});
