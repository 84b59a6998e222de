/**
 * The identity graph kept in the database (issue 15), at scale: loads N identifiers through the store's
 * own link ingest (people with e-mails, some phones and loyalty cards, a device per day over several
 * days; store tablets many people use), then measures single link events — a returning customer, a new
 * one, a tablet — as HQ stores them (one batch, one transaction, the graph kept inside it), profile
 * look-ups, the /v1/graph counts, and links into a hot raw component (a network token that many
 * customers' devices share), where the cost grows with the component. Prints one JSON line.
 *
 *   node dist/scripts/bench/graph-store-worker.js sqlite|postgres IDENTIFIERS [POSTGRES_URL] [--keep DIR]
 *
 * HQ's memory is this process's: with SQLite the database's page cache is in it too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CloudStore } from '../../cloud/store/cloud-store.js';
import { PostgresCloudStore } from '../../cloud/store/postgres-store.js';
import { SqliteCloudStore } from '../../cloud/store/sqlite-store.js';
import { findProfile } from '../../cloud/identity/profiles.js';
import type { LinksBatch } from '../../shared/wire/links-schema.js';
import { mulberry32 } from '../lib/prng.js';
import pg from 'pg';

const DAYS = ['2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23', '2026-11-24'];
const NEW_DAY = '2026-11-25';
const LINKS_PER_BATCH = 1000;
/** Identifiers per person on average: an e-mail, 0.4 phones, 0.2 loyalty ids, 3 daily devices. */
const PER_PERSON = 4.6;

const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');
const hem = (p: number) => hex(p, 64);
const hph = (p: number) => hex(p, 63) + 'f';
const loy = (p: number) => hex(p, 63) + 'e';
const cid = (p: number, d: number) => hex(p * 8 + d, 32);
const tabletCid = (t: number) => 'f' + hex(t, 31);
/** A person's traits, the same whenever asked (nothing is kept per person). */
function person(p: number): { days: number; phone: boolean; loyalty: boolean } {
  const r = mulberry32(p * 2654435761);
  return { days: 1 + Math.floor(r() * 5), phone: r() < 0.4, loyalty: r() < 0.2 };
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

let seq = 0;
function batch(epoch: string, links: LinksBatch['links'], store = 's1'): LinksBatch {
  seq++;
  return { schema: 'omniloop.links/1', tenant: 'bench', store, agent: 'a1', batchId: `a1:g:${seq}`, seq, epoch, links } as LinksBatch;
}

async function load(store: CloudStore, persons: number): Promise<{ ms: number; links: number }> {
  const rnd = mulberry32(7);
  const t0 = performance.now();
  let links = 0;
  const tablets = Math.max(1, Math.floor(persons / 2000));
  for (let d = 0; d < DAYS.length; d++) {
    const epoch = DAYS[d]!;
    const ts = Date.parse(`${epoch}T10:00:00Z`);
    let pending: LinksBatch['links'] = [];
    const flush = async () => {
      if (!pending.length) return;
      if ((await store.ingestLinks(batch(epoch, pending), 1)) !== 'stored') throw new Error('a load batch was not stored');
      links += pending.length;
      pending = [];
    };
    for (let p = 0; p < persons; p++) {
      const x = person(p);
      if (d >= x.days) continue;
      const l: LinksBatch['links'][number] = { ts: ts + (p % 36_000_000), cid: cid(p, d), hem: hem(p), consent: { marketing: p % 2 === 0 } };
      if (d === 0 && x.phone) l.hph = hph(p);
      if (d === 0 && x.loyalty) l.loyalty = loy(p);
      pending.push(l);
      if (pending.length === LINKS_PER_BATCH) await flush();
      if (p % 200_000 === 0) process.stderr.write(`graph-store: day ${d + 1}/${DAYS.length}, person ${p}/${persons}\n`);
    }
    // Store tablets: eight customers each per day sign in on one: shared devices, quarantined.
    for (let t = 0; t < tablets; t++) for (let k = 0; k < 8; k++) pending.push({ ts: ts + k, cid: tabletCid(t * 8 + d), hem: hem(Math.floor(rnd() * persons)), consent: { marketing: false } });
    await flush();
  }
  return { ms: performance.now() - t0, links };
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

async function run(kind: string, n: number, pgUrl: string | undefined, keep: string | undefined): Promise<Record<string, unknown>> {
  const persons = Math.round(n / PER_PERSON);
  let store: CloudStore;
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'omniloop-bench-graph-'));
  const schema = `bench_graph_${process.pid}`;
  if (kind === 'postgres') store = await PostgresCloudStore.open(pgUrl!, schema);
  else store = new SqliteCloudStore(join(dir, 'cloud.db'));
  const loaded = await load(store, persons);
  if (kind === 'postgres') {
    // What autovacuum does on a production server (the test server runs without it): the graph's rows
    // are updated as components merge, and without it the dead versions and missing statistics slow
    // every index scan.
    const c = new pg.Client(pgUrl);
    await c.connect();
    await c.query(`VACUUM ANALYZE ${schema}.graph_nodes, ${schema}.graph_comps, ${schema}.edges`);
    await c.end();
  }
  const c0 = performance.now();
  const counts = await store.graph.counts('bench');
  const countsMs = performance.now() - c0;
  const identifiers = Object.values(counts.identifiers).reduce((a, b) => a + b, 0);
  process.stderr.write(`graph-store: loaded ${identifiers} identifiers in ${(loaded.ms / 1000).toFixed(0)} s\n`);

  // Single link events, each its own batch and transaction, as a till sends them.
  const rnd = mulberry32(99);
  const ts = Date.parse(`${NEW_DAY}T10:00:00Z`);
  const lat: Record<'returning' | 'new' | 'tablet', number[]> = { returning: [], new: [], tablet: [] };
  for (let i = 0; i < 3000; i++) {
    const r = rnd();
    const p = Math.floor(rnd() * persons);
    if (r < 0.5) lat.returning.push(await timed(() => store.ingestLinks(batch(NEW_DAY, [{ ts: ts + i, cid: cid(p, 7), hem: hem(p), consent: { marketing: true } }]), 1)));
    else if (r < 0.8) lat.new.push(await timed(() => store.ingestLinks(batch(NEW_DAY, [{ ts: ts + i, cid: cid(persons + i, 0), hem: hem(persons + i), hph: hph(persons + i), consent: { marketing: true } }]), 1)));
    else lat.tablet.push(await timed(() => store.ingestLinks(batch(NEW_DAY, [{ ts: ts + i, cid: tabletCid(0), hem: hem(p), consent: { marketing: false } }]), 1)));
  }
  const all = [...lat.returning, ...lat.new, ...lat.tablet];
  // The same commit without the graph: a sightings batch of one device (the floor of a transaction).
  const floor: number[] = [];
  for (let i = 0; i < 500; i++) {
    const b = { schema: 'omniloop.sightings/1', tenant: 'bench', store: 's1', agent: 'a1', batchId: `a1:s:${i}`, seq: i, epoch: NEW_DAY, window: { start: ts, end: ts + 60_000, seconds: 60 }, sightings: [{ cid: cid(i, 9), source: 'wifi', addressClass: 'global', first: ts, last: ts + 1, frames: 1, rssiMax: -50, rssiMean: -50 }], ephemeral: [] };
    floor.push(await timed(() => store.ingestSightings(b as never, 1)));
  }

  // Reads: a profile by its e-mail (the API and CLI path), and the figures of /v1/graph.
  const profileMs: number[] = [];
  for (let i = 0; i < 300; i++) profileMs.push(await timed(() => findProfile(store, 'bench', `hem:${hem(Math.floor(rnd() * persons))}`)));

  // Where it breaks down: a network token many customers share (a store's tablet on the guest WiFi: not
  // a Consumer-ID, so never quarantined) makes one raw component of all of them. A link event into it in
  // time order reads only the profiles it touches; one delivered late (earlier than the component's
  // latest edge) rebuilds the whole component.
  const hot: { people: number; inOrderP50Ms: number; lateP50Ms: number }[] = [];
  const HOT = hex(0xfeed, 64);
  let joined = 0;
  const hotLink = (p: number, at: number) => ({ ts: at, hem: hem(p), net: HOT, consent: { marketing: false } });
  for (const people of [100, 1000, 10_000]) {
    const more: LinksBatch['links'] = [];
    for (; joined < people - 20; joined++) more.push(hotLink(joined, ts + 1e6 + joined));
    for (let i = 0; i < more.length; i += LINKS_PER_BATCH) await store.ingestLinks(batch(NEW_DAY, more.slice(i, i + LINKS_PER_BATCH)), 1);
    const inOrder: number[] = [];
    const late: number[] = [];
    for (; joined < people; joined++) {
      if (joined % 2) inOrder.push(await timed(() => store.ingestLinks(batch(NEW_DAY, [hotLink(joined, ts + 1e6 + joined)]), 1)));
      else late.push(await timed(() => store.ingestLinks(batch(NEW_DAY, [hotLink(joined, ts + 1e6 - joined)]), 1)));
    }
    hot.push({ people, inOrderP50Ms: pct(inOrder, 0.5), lateP50Ms: pct(late, 0.5) });
  }

  const mem = process.memoryUsage();
  const out = {
    kind,
    identifiers,
    edges: counts.edges,
    profiles: counts.profiles,
    quarantined: counts.quarantinedDevices,
    loadSeconds: loaded.ms / 1000,
    loadLinksPerSec: loaded.links / (loaded.ms / 1000),
    linkP50Ms: pct(all, 0.5),
    linkP95Ms: pct(all, 0.95),
    linkP99Ms: pct(all, 0.99),
    returningP50Ms: pct(lat.returning, 0.5),
    newP50Ms: pct(lat.new, 0.5),
    tabletP50Ms: pct(lat.tablet, 0.5),
    commitFloorP50Ms: pct(floor, 0.5),
    profileP50Ms: pct(profileMs, 0.5),
    profileP95Ms: pct(profileMs, 0.95),
    countsMs,
    hot,
    rssMb: mem.rss / 2 ** 20,
    heapUsedMb: mem.heapUsed / 2 ** 20,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
  if (store instanceof PostgresCloudStore && !keep) await store.dropSchema();
  await store.close();
  if (!keep) rmSync(dir, { recursive: true, force: true });
  return out;
}

const args = process.argv.slice(2);
const keepAt = args.indexOf('--keep');
const keep = keepAt >= 0 ? args.splice(keepAt, 2)[1] : undefined;
const [kind, count, pgUrl] = args;
const n = Number(count);
if ((kind !== 'sqlite' && kind !== 'postgres') || !Number.isInteger(n) || n < 1000 || (kind === 'postgres' && !pgUrl)) {
  process.stderr.write('usage: graph-store-worker sqlite|postgres IDENTIFIERS [POSTGRES_URL] [--keep DIR]\n');
  process.exit(2);
}
run(kind, n, pgUrl, keep).then(
  (r) => process.stdout.write(JSON.stringify(r) + '\n'),
  (err: Error) => {
    process.stderr.write(`graph-store worker: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
