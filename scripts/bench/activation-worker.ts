/**
 * In-store activation at HQ scale: a tenant with 50,000 profiles (an e-mail and a device id on each of
 * 3 of the last 30 days, with their visits) in SQLite; each round evaluates the segments of the 1,500
 * devices present in 3 stores now. Baseline: evaluating every profile (segmentMembers), what a
 * non-incremental push would do each round. Prints one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { activationPushes } from '../../cloud/control/activation.js';
import { DEFAULT_GRAPH_RULES } from '../../cloud/identity/graph.js';
import { segmentMembers } from '../../cloud/segments/evaluate.js';
import { DEFAULT_SEGMENTS } from '../../cloud/segments/rules.js';
import { SqliteCloudStore } from '../../cloud/store/sqlite-store.js';
import type { SightingsBatch } from '../../shared/wire/sightings-schema.js';
import type { LinksBatch } from '../../shared/wire/links-schema.js';
import { mulberry32 } from '../lib/prng.js';

const PROFILES = 50_000;
const PRESENT = 1_500;
const STORES = ['s1', 's2', 's3'];
const DAY_MS = 86_400_000;
const NOW = Date.parse('2026-11-23T15:00:00Z');
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');

const dir = mkdtempSync(join(tmpdir(), 'omniloop-bench-act-'));
const store = new SqliteCloudStore(join(dir, 'cloud.db'));
const rnd = mulberry32(5);
let seq = 0;
const sightings = new Map<string, SightingsBatch['sightings']>();
const links = new Map<string, LinksBatch['links']>();
const push = <T>(m: Map<string, T[]>, key: string, v: T) => (m.get(key) ?? m.set(key, []).get(key)!).push(v);
for (let p = 0; p < PROFILES; p++) {
  // Three visits in the last 30 days; the first PRESENT people are in a store right now.
  for (let v = 0; v < 3; v++) {
    const t = v === 2 && p < PRESENT ? NOW - 10 * 60_000 : NOW - (1 + Math.floor(rnd() * 29)) * DAY_MS - Math.floor(rnd() * 8) * 3_600_000;
    const cid = hex(p * 4 + v, 32);
    const s = STORES[p < PRESENT ? p % 3 : Math.floor(rnd() * 3)]!;
    push(sightings, `${s}|${day(t)}`, { cid, source: 'wifi', addressClass: 'global', first: t, last: t + 12 * 60_000, frames: 20, rssiMax: -55, rssiMean: -60, channels: [6] });
    push(links, `${s}|${day(t)}`, { ts: t, cid, hem: hex(p, 64), consent: { marketing: true } });
  }
}
for (const [key, list] of sightings) {
  const [s, epoch] = key.split('|') as [string, string];
  for (let i = 0; i < list.length; i += 500) {
    seq++;
    await store.ingestSightings({ schema: 'omniloop.sightings/1', tenant: 'bench', store: s, agent: 'a1', batchId: `a1:x:${seq}`, seq, epoch, window: { start: NOW - 60_000, end: NOW, seconds: 60 }, sightings: list.slice(i, i + 500), ephemeral: [] }, NOW);
  }
}
for (const [key, list] of links) {
  const [s, epoch] = key.split('|') as [string, string];
  for (let i = 0; i < list.length; i += 500) {
    seq++;
    await store.ingestLinks({ schema: 'omniloop.links/1', tenant: 'bench', store: s, agent: 'a1', batchId: `a1:x:${seq}`, seq, epoch, links: list.slice(i, i + 500) }, NOW);
  }
}

const opts = { presenceMs: 5 * 60_000, rules: DEFAULT_SEGMENTS, graphRules: DEFAULT_GRAPH_RULES };
const time = async <T>(f: () => Promise<T>): Promise<[number, T]> => {
  const t0 = performance.now();
  const r = await f();
  return [performance.now() - t0, r];
};
const [coldMs, pushes] = await time(() => activationPushes(store, NOW, opts));
const warm: number[] = [];
for (let i = 0; i < 5; i++) warm.push((await time(() => activationPushes(store, NOW, opts)))[0]);
const [fullMs] = await time(() => segmentMembers(store, 'bench', day(NOW), DEFAULT_SEGMENTS, DEFAULT_GRAPH_RULES));
const present = pushes.reduce((n, p) => n + Object.keys(p.cids).length, 0);
await store.close();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(JSON.stringify({ profiles: PROFILES, present, stores: pushes.length, coldMs, warmMs: Math.min(...warm), fullMs, maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
