/**
 * A chain's reports at scale (issue 15): loads STORES × DAYS store-days of generated history through
 * HQ's own group commit (batches of ~50 sightings, as agents send them, 10-minute windows, estimates,
 * customers who visit two stores a day), then measures over HTTP, as the dashboard asks, the routes
 * the dashboard polls — /v1/footfall of a past day (all stores, one store), /v1/stats, /v1/tenants,
 * /v1/graph, flows and returning over 7 days, returning over 30, segments, one store-day's visits — and
 * today's day while it changes (exact, and served up to 30 s stale), beside the computation the reports
 * made before rollups (every sighting of the tenant-day, and /v1/stats's scans). Prints one JSON line.
 *
 *   node dist/scripts/bench/reports-worker.js sqlite|postgres STORES DAYS SIGHTINGS_PER_STORE_DAY [POSTGRES_URL]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import Database from 'better-sqlite3';
import { ApiServer } from '../../cloud/api/server.js';
import type { CloudStore, GroupItem } from '../../cloud/store/cloud-store.js';
import { PostgresCloudStore } from '../../cloud/store/postgres-store.js';
import { SqliteCloudStore } from '../../cloud/store/sqlite-store.js';
import { refreshMarked, reportStats } from '../../cloud/reports/rollups.js';
import { buildVisits, rawStoreDays, storeTimezones } from '../../cloud/analytics/visits.js';
import type { SightingsBatch } from '../../shared/wire/sightings-schema.js';
import type { LinksBatch } from '../../shared/wire/links-schema.js';
import { mulberry32 } from '../lib/prng.js';
import { sightingsOfPeriod } from '../../cloud/analytics/period.js';
import { profileLookup, profilesOfSightings } from '../../cloud/identity/graph-reads.js';
import { DEFAULT_GRAPH_RULES } from '../../cloud/identity/graph.js';
import { storeFlows } from '../../cloud/analytics/flows.js';

const TENANT = 'chain';
const PER_BATCH = 50;
const GROUP = 256;
const MIN = 60_000;

const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');
const epochOf = (d: number) => new Date(Date.parse('2026-06-01T00:00:00Z') + d * 86_400_000).toISOString().slice(0, 10);
const storeName = (s: number) => `store-${hex(s, 3)}`;

/** A person's hashed e-mail: a store's regulars (3,000 per store) come back on other days. */
const hemOf = (s: number, person: number) => hex(s * 100_000 + person, 64);

/**
 * One store-day's batches: `n` sightings of visitors (a cid a day each; one in ten in two stores), and
 * the link events of the ~15 % who sign in (the known share of today's phones, README).
 */
function storeDay(s: number, d: number, n: number, seq: { n: number }, links?: LinksBatch['links']): SightingsBatch[] {
  const rnd = mulberry32(s * 100_003 + d);
  const epoch = epochOf(d);
  const open = Date.parse(`${epoch}T07:00:00Z`);
  const windows = new Map<number, SightingsBatch['sightings']>();
  let made = 0;
  for (let p = 0; made < n; p++) {
    // Customers of the day; a tenth of them the same people as in the next store's (cross-store).
    const shared = rnd() < 0.1;
    const cid = shared ? `${hex(d, 4)}${hex(Math.floor(s / 2), 4)}${hex(p, 8)}${'e'.repeat(16)}` : `${hex(d, 4)}${hex(s, 4)}${hex(p, 8)}${'0'.repeat(16)}`;
    const start = open + Math.floor(rnd() * 660) * MIN;
    const minutes = 1 + Math.floor(rnd() * 40);
    // A shared cid is the same customer in both stores of its pair: the same person, whichever store links it.
    if (links && rnd() < 0.15) links.push({ ts: start, cid, hem: shared ? hemOf(10_000 + Math.floor(s / 2), p % 3000) : hemOf(s, Math.floor(rnd() * 3000)), consent: { marketing: rnd() < 0.5 } });
    for (let w = Math.floor(start / (10 * MIN)); w * 10 * MIN < start + minutes * MIN && made < n; w++) {
      const ws = w * 10 * MIN;
      const list = windows.get(ws) ?? windows.set(ws, []).get(ws)!;
      const rssi = -85 + Math.floor(rnd() * 45);
      list.push({ cid, source: 'wifi', addressClass: rnd() < 0.2 ? 'associated' : 'global', first: Math.max(ws, start), last: Math.min(ws + 10 * MIN - 1, start + minutes * MIN), frames: 1 + Math.floor(rnd() * 20), rssiMax: rssi, rssiMean: rssi - 4, channels: [1, 6] } as SightingsBatch['sightings'][number]);
      made++;
    }
  }
  const out: SightingsBatch[] = [];
  for (const [ws, list] of [...windows].sort((a, b) => a[0] - b[0])) {
    for (let i = 0; i < list.length; i += PER_BATCH) {
      seq.n++;
      out.push({
        schema: 'omniloop.sightings/1', tenant: TENANT, store: storeName(s), agent: 'ap-1', batchId: `ap-1:b${s}:${seq.n}`, seq: seq.n, epoch,
        window: { start: ws, end: ws + 10 * MIN, seconds: 600 }, sightings: list.slice(i, i + PER_BATCH), ephemeral: [],
        ...(i === 0 ? { estimate: { method: 'ephemeral-v2', wifi: { present: 8 + rnd() * 10, arrivals: rnd() * 6 }, ble: { present: 12, arrivals: rnd() * 4 } } } : {}),
      } as SightingsBatch);
    }
  }
  return out;
}

async function timedN(n: number, f: (i: number) => Promise<unknown>): Promise<{ p50: number; p95: number }> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f(i);
    xs.push(performance.now() - t);
  }
  return { p50: pct(xs, 0.5), p95: pct(xs, 0.95) };
}

async function run(kind: string, stores: number, days: number, perStoreDay: number, pgUrl: string | undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'omniloop-bench-reports-'));
  const schema = `bench_reports_${process.pid}`;
  const store: CloudStore = kind === 'postgres' ? await PostgresCloudStore.open(pgUrl!, schema) : new SqliteCloudStore(join(dir, 'cloud.db'));
  for (let s = 0; s < stores; s++) await store.upsertAgent(TENANT, storeName(s), 'ap-1', 'online', { timezone: 'Europe/Berlin' }, Date.now());

  // Load, a day of every store at a time; the ingest rate per tenth of the history.
  const seqs = Array.from({ length: stores }, () => ({ n: 0 }));
  const rates: number[] = [];
  let sightings = 0;
  let chunkT = performance.now();
  let chunkN = 0;
  let linkMs = 0;
  let linkEvents = 0;
  const t0 = performance.now();
  for (let d = 0; d < days; d++) {
    const dayLinks: LinksBatch[] = [];
    const batches = Array.from({ length: stores }, (_, s) => {
      const links: LinksBatch['links'] = [];
      const out = storeDay(s, d, perStoreDay, seqs[s]!, links);
      // A cid signs in once a day.
      const once = [...new Map(links.map((l) => [l.cid, l])).values()];
      if (once.length) dayLinks.push({ schema: 'omniloop.links/1', tenant: TENANT, store: storeName(s), agent: 'till-1', batchId: `till-1:l${s}:${d + 1}`, seq: d + 1, epoch: epochOf(d), links: once } as LinksBatch);
      return out;
    }).flat();
    for (let i = 0; i < batches.length; i += GROUP) {
      const items = batches.slice(i, i + GROUP).map((batch): GroupItem => ({ kind: 'sightings', batch, receivedMs: Date.now() }));
      await store.ingestGroup(items);
    }
    const l0 = performance.now();
    await store.ingestGroup(dayLinks.map((batch): GroupItem => ({ kind: 'links', batch, receivedMs: Date.now() })));
    linkMs += performance.now() - l0;
    linkEvents += dayLinks.reduce((a, b) => a + b.links.length, 0);
    const n = batches.reduce((a, b) => a + b.sightings.length, 0);
    sightings += n;
    chunkN += n;
    if ((d + 1) % Math.max(1, Math.floor(days / 10)) === 0 || d === days - 1) {
      rates.push(Math.round(chunkN / ((performance.now() - chunkT) / 1000)));
      process.stderr.write(`reports: day ${d + 1}/${days}, ${sightings} sightings, ${rates.at(-1)} sightings/s\n`);
      chunkT = performance.now();
      chunkN = 0;
    }
  }
  const loadS = (performance.now() - t0) / 1000;
  if (kind === 'postgres') {
    const c = new pg.Client(pgUrl);
    await c.connect();
    await c.query(`VACUUM ANALYZE ${schema}.sightings, ${schema}.estimates, ${schema}.batches, ${schema}.report_marks, ${schema}.graph_nodes, ${schema}.edges`);
    await c.end();
  }

  // Every day's rollup, as the background refresh makes them (once, after a load or an upgrade).
  const r0 = performance.now();
  while ((await refreshMarked(store, { maxStaleMs: 0 }, 100)) > 0);
  const rollupAllS = (performance.now() - r0) / 1000;

  const api = new ApiServer(store, { token: 'bench-token-0123456789abcdef', k: 5 });
  const port = await api.start(0);
  const get = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: 'Bearer bench-token-0123456789abcdef' } });
    if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
    return r.json();
  };
  const rnd = mulberry32(5);
  const pastDay = () => epochOf(Math.floor(rnd() * (days - 1)));
  /** The i-th period's last day: distinct for the first days - 31 periods, at least 30 days in. */
  const periodEnd = (i: number) => Math.min(days - 2, 29 + (i % Math.max(1, days - 31)));
  const routes = {
    footfallDay: await timedN(60, () => get(`/v1/footfall?tenant=${TENANT}&day=${pastDay()}`)),
    footfallStore: await timedN(60, () => get(`/v1/footfall?tenant=${TENANT}&day=${pastDay()}&store=${storeName(Math.floor(rnd() * stores))}`)),
    stats: await timedN(60, () => get('/v1/stats')),
    tenants: await timedN(60, () => get('/v1/tenants')),
    graph: await timedN(30, () => get(`/v1/graph?tenant=${TENANT}`)),
    // The dashboard's period: seven days up to a past one, and a month, each read a different period (a
    // kept answer would be a cache hit: measured apart below).
    flows7: await timedN(30, (i) => get(`/v1/flows?tenant=${TENANT}&from=${epochOf(periodEnd(i) - 6)}&to=${epochOf(periodEnd(i))}`)),
    returning7: await timedN(30, (i) => get(`/v1/returning?tenant=${TENANT}&from=${epochOf(periodEnd(i + 1) - 6)}&to=${epochOf(periodEnd(i + 1))}`)),
    returning30: await timedN(10, (i) => get(`/v1/returning?tenant=${TENANT}&from=${epochOf(periodEnd(i) - 29)}&to=${epochOf(periodEnd(i))}`)),
    segments: await timedN(10, (i) => get(`/v1/segments?tenant=${TENANT}&day=${epochOf(periodEnd(i + 3))}`)),
    // The same seven days again, as a dashboard's next poll asks: the kept answer.
    flows7Again: await timedN(30, () => get(`/v1/flows?tenant=${TENANT}&from=${epochOf(periodEnd(0) - 6)}&to=${epochOf(periodEnd(0))}`)),
    visitsStore: await timedN(30, () => get(`/v1/visits?tenant=${TENANT}&day=${pastDay()}&store=${storeName(Math.floor(rnd() * stores))}`)),
  };

  // Today, while it changes: a new batch before every read.
  const today = days - 1;
  const extra = { n: 1_000_000 };
  const fresh = storeDay(0, today, 2000, extra);
  let k = 0;
  const next = () => store.ingestSightings({ ...fresh[k % fresh.length]!, batchId: `ap-1:x:${++k}`, seq: k } as SightingsBatch, Date.now());
  // Each read after one more batch of today (its ingest, ~1 ms, inside the figure).
  const todayExact = await timedN(sightings > 10_000_000 ? 8 : 20, async () => {
    await next();
    await get(`/v1/footfall?tenant=${TENANT}&day=${epochOf(today)}`);
  });
  await api.stop();
  const stale = new ApiServer(store, { token: 'bench-token-0123456789abcdef', k: 5, reports: { maxStaleMs: 30_000 } });
  const port2 = await stale.start(0);
  const todayStale = await timedN(60, async () => {
    await next();
    const r = await fetch(`http://127.0.0.1:${port2}/v1/footfall?tenant=${TENANT}&day=${epochOf(today)}`, { headers: { authorization: 'Bearer bench-token-0123456789abcdef' } });
    await r.json();
  });
  await stale.stop();

  // Before rollups: every sighting of the tenant-day read and computed, and /v1/stats's scans.
  const zoneOf = storeTimezones(await store.agents());
  const before = {
    footfallDay: await timedN(5, async () => {
      const d = pastDay();
      const rows = await store.sightingsOfDay(TENANT, d);
      await store.estimatesOfDay(TENANT, d);
      rawStoreDays(buildVisits(rows), zoneOf);
    }),
    // Scans of every sighting: once at chain scale (minutes), three times below it.
    stats: await timedN(sightings > 10_000_000 ? 1 : 3, () => scanStats(kind, store, dir, pgUrl, schema)),
    // The period reports as they were: every sighting of the period, then the profiles of its devices.
    // Not at chain scale: a month's sightings would not fit in this process.
    ...(sightings <= 10_000_000
      ? {
          flows7: await timedN(1, () => oldPeriod(store, epochOf(days - 8), epochOf(days - 2))),
          returning30: await timedN(1, () => oldPeriod(store, epochOf(Math.max(0, days - 31)), epochOf(days - 2))),
        }
      : {}),
  };
  const stats = await reportStats(store);
  const keep = process.env.OMNILOOP_BENCH_KEEP === '1'; // leave the database for a look afterwards
  if (store instanceof PostgresCloudStore && !keep) await store.dropSchema();
  await store.close();
  if (keep) process.stderr.write(`reports: kept ${kind === 'postgres' ? `schema ${schema}` : join(dir, 'cloud.db')}\n`);
  else rmSync(dir, { recursive: true, force: true });
  return { kind, stores, days, sightings: stats.sightings, consumerIds: stats.consumerIds, loadSeconds: loadS, ingestPerSec: rates, linkEvents, linksPerSec: Math.round(linkEvents / (linkMs / 1000)), rollupAllSeconds: rollupAllS, routes, todayExact, todayStale, before, maxRssMb: process.resourceUsage().maxRSS / 1024 };
}

/** Flows or returning as they were computed: the period's sightings read whole, their devices' profiles looked up. */
async function oldPeriod(store: CloudStore, from: string, to: string): Promise<void> {
  const rows = await sightingsOfPeriod(store, TENANT, from, to);
  const profileOf = await profilesOfSightings(await profileLookup(store, TENANT, DEFAULT_GRAPH_RULES), rows);
  storeFlows(buildVisits(rows), (epoch, cid) => profileOf.get(`cid:${epoch}:${cid}`), 5);
}

/** /v1/stats as it was: counts and distinct counts over the sightings and batches. */
async function scanStats(kind: string, _store: CloudStore, dir: string, pgUrl: string | undefined, schema: string): Promise<void> {
  const sql = (s: string) => `SELECT (SELECT count(*) FROM ${s}batches), (SELECT count(*) FROM ${s}sightings), (SELECT count(*) FROM (SELECT DISTINCT tenant, epoch, cid FROM ${s}sightings) d), (SELECT count(*) FROM (SELECT DISTINCT tenant, store FROM ${s}batches) t)`;
  if (kind === 'postgres') {
    const c = new pg.Client(pgUrl);
    await c.connect();
    await c.query(sql(`${schema}.`));
    await c.end();
  } else {
    const db = new Database(join(dir, 'cloud.db'), { readonly: true });
    db.prepare(sql('')).get();
    db.close();
  }
}

const [kind, stores, days, per, pgUrl] = process.argv.slice(2);
if ((kind !== 'sqlite' && kind !== 'postgres') || !Number(stores) || !Number(days) || !Number(per) || (kind === 'postgres' && !pgUrl)) {
  process.stderr.write('usage: reports-worker sqlite|postgres STORES DAYS SIGHTINGS_PER_STORE_DAY [POSTGRES_URL]\n');
  process.exit(2);
}
process.stdout.write(JSON.stringify(await run(kind, Number(stores), Number(days), Number(per), pgUrl)) + '\n');
