/**
 * Cloud ingest throughput: batches of 500 sightings (the agent's default batch size) as JSON text,
 * validated and stored one transaction each, into SQLite or PostgreSQL. Prints one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingestMessage } from '../../cloud/ingest/ingest.js';
import type { CloudStore } from '../../cloud/store/cloud-store.js';
import { PostgresCloudStore } from '../../cloud/store/postgres-store.js';
import { SqliteCloudStore } from '../../cloud/store/sqlite-store.js';

const BATCHES = 200;
const PER_BATCH = 500;
const T = Date.parse('2026-11-23T08:00:00Z');

/** Link events: 500 per batch, each a device and a hashed e-mail (some with a phone). */
function linkPayloads(): { topic: string; payload: Buffer }[] {
  const out = [];
  for (let b = 1; b <= BATCHES; b++) {
    const links = Array.from({ length: PER_BATCH }, (_, i) => {
      const n = b * PER_BATCH + i;
      const l: Record<string, unknown> = { ts: T + n, cid: n.toString(16).padStart(32, '0'), hem: (n % 60_000).toString(16).padStart(64, '0'), consent: { marketing: n % 2 === 0 } };
      if (n % 3 === 0) l.hph = (n % 40_000).toString(16).padStart(64, 'f');
      return l;
    });
    const body = { schema: 'omniloop.links/1', tenant: 'bench', store: `s${b % 10}`, agent: 'a1', batchId: `a1:links:${b}`, seq: b, epoch: '2026-11-23', links };
    out.push({ topic: `omniloop/v1/bench/s${b % 10}/a1/links`, payload: Buffer.from(JSON.stringify(body)) });
  }
  return out;
}

function payloads(): { topic: string; payload: Buffer }[] {
  const out = [];
  for (let b = 1; b <= BATCHES; b++) {
    const sightings = Array.from({ length: PER_BATCH }, (_, i) => {
      const n = (b * PER_BATCH + i) % 40_000; // 40k devices, each seen many times
      return { cid: n.toString(16).padStart(32, '0'), source: 'wifi', addressClass: 'global', first: T + b * 60_000, last: T + b * 60_000 + 5_000, frames: 4, rssiMax: -55, rssiMean: -61.5, channels: [1, 6, 11] };
    });
    const body = { schema: 'omniloop.sightings/1', tenant: 'bench', store: `s${b % 10}`, agent: 'a1', batchId: `a1:bench:${b}`, seq: b, epoch: '2026-11-23', window: { start: T + b * 60_000, end: T + (b + 1) * 60_000, seconds: 60 }, sightings, ephemeral: [] };
    out.push({ topic: `omniloop/v1/bench/s${b % 10}/a1/sightings`, payload: Buffer.from(JSON.stringify(body)) });
  }
  return out;
}

async function run(kind: string, pgUrl: string | undefined): Promise<Record<string, number | string>> {
  const msgs = payloads();
  let store: CloudStore;
  let dir = '';
  const schema = `bench_${process.pid}`;
  if (kind === 'postgres') store = await PostgresCloudStore.open(pgUrl!, schema);
  else {
    dir = mkdtempSync(join(tmpdir(), 'omniloop-bench-cloud-'));
    store = new SqliteCloudStore(join(dir, 'cloud.db'));
  }
  const t0 = performance.now();
  for (const m of msgs) {
    const r = await ingestMessage(store, m.topic, m.payload);
    if (r !== 'stored') throw new Error(`batch not stored: ${r}`);
  }
  const ms = performance.now() - t0;
  const lmsgs = linkPayloads();
  const t1 = performance.now();
  for (const m of lmsgs) {
    const r = await ingestMessage(store, m.topic, m.payload);
    if (r !== 'stored') throw new Error(`link batch not stored: ${r}`);
  }
  const linkMs = performance.now() - t1;
  const stats = await store.stats();
  if (store instanceof PostgresCloudStore) await store.dropSchema();
  await store.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  const links = BATCHES * PER_BATCH;
  return { kind, batches: stats.batches, sightings: stats.sightings, ms, sightingsPerSec: stats.sightings / (ms / 1000), linksPerSec: links / (linkMs / 1000), maxRssMb: process.resourceUsage().maxRSS / 1024 };
}

const [kind, pgUrl] = process.argv.slice(2);
if (kind !== 'sqlite' && kind !== 'postgres') {
  process.stderr.write('usage: cloud-worker sqlite|postgres [POSTGRES_URL]\n');
  process.exit(2);
}
run(kind, pgUrl).then(
  (r) => process.stdout.write(JSON.stringify(r) + '\n'),
  (err: Error) => {
    process.stderr.write(`cloud-worker: ${err.message}\n`);
    process.exit(1);
  },
);
