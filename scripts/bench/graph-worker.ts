/**
 * Stitching an identity graph of ~1M identifiers: 250k people, each with an e-mail, some a phone and a
 * loyalty card, and daily device ids over several days; plus shared store tablets. Prints one JSON line.
 */
import { buildIdentityGraph, DEFAULT_GRAPH_RULES, type Edge } from '../../cloud/identity/graph.js';
import { mulberry32 } from '../lib/prng.js';

function edges(): { edges: Edge[]; identifiers: number } {
  const rnd = mulberry32(42);
  const out: Edge[] = [];
  const ids = new Set<string>();
  const hex = (n: number) => n.toString(16).padStart(32, '0');
  let ts = 1_795_400_000_000;
  const add = (a: string, b: string) => {
    ids.add(a);
    ids.add(b);
    out.push({ a, b, ts: ts++, batchId: 'bench', store: 's1' });
  };
  for (let p = 0; p < 250_000; p++) {
    const hem = `hem:${hex(p)}${hex(p)}`;
    if (rnd() < 0.4) add(hem, `hph:${hex(p + 1e7)}${hex(p)}`);
    if (rnd() < 0.2) add(hem, `loy:${hex(p + 2e7)}${hex(p)}`);
    const days = 1 + Math.floor(rnd() * 5);
    for (let d = 0; d < days; d++) add(`cid:2026-11-${String(20 + d).padStart(2, '0')}:${hex(p * 8 + d)}`, hem);
  }
  for (let t = 0; t < 50; t++) for (let k = 0; k < 20; k++) add(`cid:2026-11-20:${hex(9e9 + t)}`, `hem:${hex(Math.floor(rnd() * 250_000))}${hex(0)}`);
  return { edges: out, identifiers: ids.size };
}

const { edges: list, identifiers } = edges();
const t0 = performance.now();
const g = buildIdentityGraph(list, DEFAULT_GRAPH_RULES);
const ms = performance.now() - t0;
process.stdout.write(JSON.stringify({ identifiers, edges: list.length, profiles: g.profiles.size, quarantined: g.quarantined.size, ms, maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
