/**
 * Reports from rollups (issue 15): whatever order batches arrive in, late ones, redeliveries, erasures,
 * a store's agents reporting a time zone, several consumers at once and reads in between, the figures
 * read from the rollups equal today's computation from every sighting (storeDayFigures, peopleFigures),
 * on SQLite and PostgreSQL; a database from before is marked whole and comes out the same.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { dayFigures } from '../cloud/analytics/day-figures.js';
import { peopleFigures } from '../cloud/analytics/people.js';
import { buildVisits, storeDayFigures, storeTimezones } from '../cloud/analytics/visits.js';
import type { CloudStore, GroupItem } from '../cloud/store/cloud-store.js';
import { refreshMarked, reportStats, tenantDay } from '../cloud/reports/rollups.js';
import { validateSightingsMessage, type SightingsBatch } from '../shared/wire/sightings-schema.js';
import { mulberry32 } from '../scripts/lib/prng.js';
import { PG, backends } from './helpers/backends.js';
import { validateLinksMessage, type LinksBatch } from '../shared/wire/links-schema.js';
import { returningOf, returningProfiles } from '../cloud/analytics/returning.js';
import { storeFlows } from '../cloud/analytics/flows.js';
import { sightingsOfPeriod, daysBetween } from '../cloud/analytics/period.js';
import { profileLookup, profilesOfSightings } from '../cloud/identity/graph-reads.js';
import { DEFAULT_GRAPH_RULES, type GraphRules } from '../cloud/identity/graph.js';
import { periodFlows } from '../cloud/reports/period-flows.js';
import { segmentMembers } from '../cloud/segments/evaluate.js';
import { DEFAULT_SEGMENTS, longestWindow, segmentsOf } from '../cloud/segments/rules.js';
import { visitsBySubject, windowStart } from '../cloud/segments/activity.js';
import { ApiServer } from '../cloud/api/server.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-rollups-'));
const { list, dropAll } = backends(dir, 'rollup');
afterAll(dropAll);

const TENANT = 'acme';
const DAYS = ['2026-11-21', '2026-11-22', '2026-11-23'];
const STORES = ['berlin-1', 'paris-1', 'rome-1'];
const MIN = 60_000;

/** A day's history as agents would send it: people (some in two stores), windows of 10 minutes, estimates. */
function history(seed: number): SightingsBatch[] {
  const rnd = mulberry32(seed);
  const out: SightingsBatch[] = [];
  const seq = new Map<string, number>();
  for (const epoch of DAYS) {
    const day0 = Date.parse(`${epoch}T07:00:00Z`);
    const people = Array.from({ length: 40 + Math.floor(rnd() * 30) }, (_, p) => {
      const first = Math.floor(rnd() * STORES.length);
      const visits = [{ store: STORES[first]!, start: day0 + Math.floor(rnd() * 600) * MIN, minutes: 1 + Math.floor(rnd() * 50) }];
      if (rnd() < 0.3) visits.push({ store: STORES[(first + 1) % STORES.length]!, start: visits[0]!.start + (visits[0]!.minutes + 20 + Math.floor(rnd() * 60)) * MIN, minutes: 2 + Math.floor(rnd() * 20) });
      const cid = (seed * 1000 + p).toString(16).padStart(8, '0') + epoch.replace(/-/g, '') + 'c'.repeat(16);
      return { cid: cid.slice(0, 32), visits, source: rnd() < 0.2 ? 'ble' : 'wifi', cls: rnd() < 0.15 ? 'associated' : 'global', rssi: -80 + Math.floor(rnd() * 40) };
    });
    for (const store of STORES) {
      for (const agent of rnd() < 0.5 ? ['ap-1', 'ap-2'] : ['ap-1']) {
        for (let w = 0; w < 72; w++) {
          const start = day0 + w * 10 * MIN;
          const end = start + 10 * MIN;
          const sightings = people.flatMap((p) =>
            p.visits
              .filter((v) => v.store === store && v.start < end && v.start + v.minutes * MIN > start && (agent === 'ap-1' || rnd() < 0.5))
              .map((v) => ({ cid: p.cid, source: p.source, addressClass: p.cls, first: Math.max(start, v.start), last: Math.min(end - 1, v.start + v.minutes * MIN), frames: 1 + Math.floor(rnd() * 9), rssiMax: p.rssi, rssiMean: p.rssi - 3, channels: [1] })),
          );
          const arrivals = Math.round(rnd() * 40) / 10;
          if (!sightings.length && rnd() < 0.7) continue;
          const key = `${store}/${agent}`;
          const n = (seq.get(key) ?? 0) + 1;
          seq.set(key, n);
          const msg = {
            schema: 'omniloop.sightings/1', tenant: TENANT, store, agent, batchId: `${agent}:r${seed}:${n}`, seq: n, epoch,
            window: { start, end, seconds: 600 }, sightings, ephemeral: [{ source: 'wifi', addressClass: 'randomized', devices: 3, frames: 7 }],
            estimate: { method: 'ephemeral-v2', wifi: { present: arrivals + 1, arrivals }, ble: { present: 2, arrivals: rnd() < 0.5 ? 1 : 0.5 } },
          };
          const v = validateSightingsMessage(`omniloop/v1/${TENANT}/${store}/${agent}/sightings`, Buffer.from(JSON.stringify(msg)));
          if (!v.ok) throw new Error(v.reason);
          out.push(v.value);
        }
      }
    }
  }
  return out;
}

function shuffle<T>(xs: T[], rnd: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** Today's computation, from every sighting and estimate of the day (what the reports did before rollups). */
async function reference(store: CloudStore, day: string, k: number) {
  const zoneOf = storeTimezones((await store.agents()).filter((a) => a.tenant === TENANT));
  const rows = await store.sightingsOfDay(TENANT, day);
  const estimates = await store.estimatesOfDay(TENANT, day);
  const known = storeDayFigures(buildVisits(rows), k, zoneOf);
  const names = [...new Set([...known.map((f) => f.store), ...estimates.map((e) => e.store)])].sort();
  return names.map((name) => {
    const base = known.find((f) => f.store === name)!;
    return { ...base, people: peopleFigures(rows.filter((r) => r.store === name), estimates.filter((e) => e.store === name), k, base.timezone) };
  });
}

async function expectEqual(store: CloudStore, step: string): Promise<void> {
  for (const day of DAYS) for (const k of [1, 5]) expect(await dayFigures(store, TENANT, day, k), `${step}: ${day}, k=${k}`).toEqual(await reference(store, day, k));
}

const distinctCids = async (store: CloudStore) => (await Promise.all(DAYS.map(async (d) => new Set((await store.sightingsOfDay(TENANT, d)).map((r) => r.cid)).size))).reduce((a, b) => a + b, 0);

describe.each(list)('reports from rollups on %s', (name, backend) => {
  it('equal the computation from every sighting after any arrival order, reads in between, late batches, redeliveries, erasures and a time zone', async () => {
    const rnd = mulberry32(name.length);
    const all = history(1);
    expect(all.length).toBeGreaterThan(300);
    const store = await backend.open('orders');
    const order = shuffle([...all], rnd);
    // Most of the history in arrival order with reads in between; the rest comes late, some twice.
    const late = order.splice(0, 60);
    let i = 0;
    while (i < order.length) {
      const n = 1 + Math.floor(rnd() * 60);
      const group = order.slice(i, i + n).map((batch): GroupItem => ({ kind: 'sightings', batch, receivedMs: 1 }));
      i += n;
      if (rnd() < 0.5) await store.ingestGroup(group);
      else for (const g of group) await store.ingestSightings(g.batch as SightingsBatch, 1);
      if (rnd() < 0.4) await dayFigures(store, TENANT, DAYS[Math.floor(rnd() * DAYS.length)]!, 5); // a rollup now, outdated by what comes next
    }
    await expectEqual(store, 'in order');
    for (const b of late) await store.ingestSightings(b, 1);
    for (const b of late.slice(0, 20)) expect(await store.ingestSightings(b, 1)).toBe('duplicate');
    await expectEqual(store, 'late batches and redeliveries');
    // The agents of one store report its zone: its hours move.
    await store.upsertAgent(TENANT, 'paris-1', 'ap-1', 'online', { timezone: 'Asia/Tokyo' }, Date.now());
    await expectEqual(store, 'a time zone');
    // Erasure deletes a device's sightings: its day's figures change.
    const victims = [...new Set((await store.sightingsOfDay(TENANT, DAYS[1]!)).map((r) => r.cid))].slice(0, 12);
    await store.erase(TENANT, victims.map((c) => `cid:${DAYS[1]}:${c}`));
    await expectEqual(store, 'erasure');
    expect((await reportStats(store)).consumerIds).toBe(await distinctCids(store));
    expect((await reportStats(store)).sightings).toBe((await Promise.all(DAYS.map((d) => store.sightingsOfDay(TENANT, d)))).flat().length);
    // Read twice without a change: the second is the rollup, not a computation.
    const kept = await store.rollups.get(TENANT, DAYS[0]!);
    await dayFigures(store, TENANT, DAYS[0]!, 5);
    expect((await store.rollups.get(TENANT, DAYS[0]!))!.gen).toBe(kept!.gen);
    await store.close();
  });

  it('serves a changed day from a young rollup when staleness is allowed, and the background refresh brings it up to date', async () => {
    const store = await backend.open('stale');
    const all = history(2).filter((b) => b.epoch === DAYS[2]);
    for (const b of all.slice(0, 100)) await store.ingestSightings(b, 1);
    const before = await dayFigures(store, TENANT, DAYS[2]!, 1, undefined, { maxStaleMs: 60_000 });
    for (const b of all.slice(100)) await store.ingestSightings(b, 1);
    expect(await dayFigures(store, TENANT, DAYS[2]!, 1, undefined, { maxStaleMs: 60_000 })).toEqual(before);
    expect(await dayFigures(store, TENANT, DAYS[2]!, 1, undefined, { maxStaleMs: 60_000 })).not.toEqual(await reference(store, DAYS[2]!, 1));
    expect(await refreshMarked(store, { maxStaleMs: 60_000 })).toBe(0); // young: not due yet
    expect(await refreshMarked(store)).toBe(1);
    expect(await dayFigures(store, TENANT, DAYS[2]!, 1, undefined, { maxStaleMs: 60_000 })).toEqual(await reference(store, DAYS[2]!, 1));
    await store.close();
  });

  it('misses no batch while consumers store and readers refresh at once', async () => {
    const all = history(3);
    const writers = await Promise.all([backend.open('race'), backend.open('race')]);
    const reader = await backend.open('race');
    let done = false;
    const reads = (async () => {
      let n = 0;
      while (!done) {
        await refreshMarked(reader);
        await tenantDay(reader, TENANT, DAYS[n++ % DAYS.length]!);
      }
    })();
    await Promise.all(
      writers.map(async (w, j) => {
        const mine = all.filter((_, i) => i % 2 === j);
        for (let i = 0; i < mine.length; i += 25) await w.ingestGroup(mine.slice(i, i + 25).map((batch) => ({ kind: 'sightings', batch, receivedMs: 1 })));
      }),
    );
    done = true;
    await reads;
    // No refresh after the last write: every read from here on must find its day marked or current.
    await expectEqual(reader, 'after concurrent ingest');
    for (const s of [...writers, reader]) await s.close();
  });

  it('marks every day of a database from before the rollups, and reports it the same', async () => {
    const all = history(4);
    const store = await backend.open('upgrade');
    for (const b of all) await store.ingestSightings(b, 1);
    const want = await Promise.all(DAYS.map((d) => reference(store, d, 5)));
    const stats = await reportStats(store);
    await store.close();
    await downgrade(name, 'upgrade');
    const again = await backend.open('upgrade');
    expect((await again.rollups.dirty(10)).length).toBe(DAYS.length);
    expect(await reportStats(again)).toEqual(stats);
    for (const [i, d] of DAYS.entries()) expect(await dayFigures(again, TENANT, d, 5)).toEqual(want[i]);
    expect((await again.tenantDays()).length).toBe(DAYS.length * STORES.length);
    await again.close();
  });
});

/** Batches stored through group commit, `per` to a transaction. */
async function ingestAll(store: CloudStore, batches: readonly SightingsBatch[], per: number): Promise<void> {
  for (let i = 0; i < batches.length; i += per) await store.ingestGroup(batches.slice(i, i + per).map((batch) => ({ kind: 'sightings', batch, receivedMs: 1 })));
}

/** Link events for some of the history's devices: people (e-mails) who come back on other days and to other stores. */
function linksFor(batches: readonly SightingsBatch[], seed: number): LinksBatch[] {
  const rnd = mulberry32(seed);
  const seen = new Map<string, { store: string; epoch: string; ts: number }>();
  for (const b of batches) for (const x of b.sightings) if (x.source === 'wifi') seen.set(`${b.epoch}|${x.cid}`, { store: b.store, epoch: b.epoch, ts: x.first });
  const out: LinksBatch[] = [];
  let seq = 0;
  for (const [key, at] of seen) {
    if (rnd() > 0.35) continue;
    const cid = key.split('|')[1]!;
    seq++;
    const msg = {
      schema: 'omniloop.links/1', tenant: TENANT, store: at.store, agent: 'till-1', batchId: `till-1:l${seed}:${seq}`, seq, epoch: at.epoch,
      links: [{ ts: at.ts, cid, hem: Math.floor(rnd() * 60).toString(16).padStart(64, 'a'), consent: { marketing: rnd() < 0.5 } }],
    };
    const v = validateLinksMessage(`omniloop/v1/${TENANT}/${at.store}/till-1/links`, Buffer.from(JSON.stringify(msg)));
    if (!v.ok) throw new Error(v.reason);
    out.push(v.value);
  }
  return out;
}

/** The period reports as they were: every sighting of the period read, then the profiles of its devices. */
async function periodReference(store: CloudStore, from: string, to: string, k: number, rules: GraphRules) {
  const rows = await sightingsOfPeriod(store, TENANT, from, to);
  const look = await profileLookup(store, TENANT, rules);
  const profileOf = await profilesOfSightings(look, rows);
  const returning = returningOf(from, to, rows, (epoch, cid) => profileOf.get(`cid:${epoch}:${cid}`), k);
  const flows = storeFlows(buildVisits(rows), (epoch, cid) => profileOf.get(`cid:${epoch}:${cid}`), k);
  // Segments on `to`: every day of the longest window, the profiled devices' visits.
  const windowRows = await sightingsOfPeriod(store, TENANT, windowStart(to, longestWindow(DEFAULT_SEGMENTS)), to);
  const segProfiles = await profilesOfSightings(look, windowRows);
  const withProfile = windowRows.filter((r) => segProfiles.has(`cid:${r.epoch}:${r.cid}`));
  const segments = new Map<string, string[]>(DEFAULT_SEGMENTS.map((r) => [r.name, []]));
  const bySubject = visitsBySubject(buildVisits(withProfile), (epoch, cid) => segProfiles.get(`cid:${epoch}:${cid}`)!);
  for (const [profile, visits] of [...bySubject].sort((a, b) => (a[0] < b[0] ? -1 : 1))) for (const name of segmentsOf(visits, to, DEFAULT_SEGMENTS)) segments.get(name)!.push(profile);
  return { returning, flows, segments };
}

describe.each(list)('period reports on %s', (name, backend) => {
  it('returning, flows and segments read only profiled devices and equal the computation from every sighting, stored graph or in memory', async () => {
    const store = await backend.open('period');
    const all = history(5);
    await ingestAll(store, all, 40);
    const links = linksFor(all, 5);
    expect(links.length).toBeGreaterThan(50);
    for (const l of links) expect(await store.ingestLinks(l, 1)).toBe('stored');
    const other: GraphRules = { ...DEFAULT_GRAPH_RULES, maxPersonsPerDevice: 7 };
    for (const rules of [DEFAULT_GRAPH_RULES, other]) {
      for (const [from, to] of [[DAYS[0]!, DAYS[2]!], [DAYS[1]!, DAYS[2]!], [DAYS[0]!, DAYS[0]!]] as const) {
        for (const k of [1, 3]) {
          const want = await periodReference(store, from, to, k, rules);
          const got = { returning: await returningProfiles(store, TENANT, from, to, k, rules), flows: await periodFlows(store, TENANT, from, to, k, rules), segments: await segmentMembers(store, TENANT, to, DEFAULT_SEGMENTS, rules) };
          expect(got, `${from}..${to}, k=${k}, maxPersonsPerDevice ${rules.maxPersonsPerDevice}`).toEqual(want);
        }
      }
    }
    // Late batches, more links and an erasure after the devices' visits were kept: read again, the same.
    const more = history(6).filter((b) => b.epoch !== DAYS[0]);
    for (const b of more.slice(0, 150)) await store.ingestSightings(b, 1);
    for (const l of linksFor(more.slice(0, 150), 6)) await store.ingestLinks(l, 1);
    while ((await refreshMarked(store)) > 0);
    const [victim] = (await store.rollups.profiledDevices(TENANT, [DAYS[1]!])).map((r) => r.device.cid);
    expect(await deviceRows(name, 'period', DAYS[1]!, victim!)).toBe(1);
    await store.erase(TENANT, [`cid:${DAYS[1]}:${victim}`]);
    expect(await deviceRows(name, 'period', DAYS[1]!, victim!)).toBe(0); // gone with its sightings, not at the next refresh
    for (const k of [1, 3]) {
      const want = await periodReference(store, DAYS[0]!, DAYS[2]!, k, DEFAULT_GRAPH_RULES);
      expect({ returning: await returningProfiles(store, TENANT, DAYS[0]!, DAYS[2]!, k), flows: await periodFlows(store, TENANT, DAYS[0]!, DAYS[2]!, k, DEFAULT_GRAPH_RULES), segments: await segmentMembers(store, TENANT, DAYS[2]!, DEFAULT_SEGMENTS, DEFAULT_GRAPH_RULES) }, `after more, k=${k}`).toEqual(want);
    }
    const ref = await periodReference(store, DAYS[0]!, DAYS[2]!, 1, DEFAULT_GRAPH_RULES);
    expect(ref.returning.returning).toBeGreaterThan(0);
    expect(ref.flows.acrossDays.length).toBeGreaterThan(0);
    expect(ref.flows.sameDay.length).toBeGreaterThan(0);
    expect([...ref.segments.values()].flat().length).toBeGreaterThan(0);
    // Only the linked devices' sightings: fewer than the period's.
    expect((await store.rollups.profiledDevices(TENANT, daysBetween(DAYS[0]!, DAYS[2]!))).length).toBeLessThan(new Set((await sightingsOfPeriod(store, TENANT, DAYS[0]!, DAYS[2]!)).map((r) => `${r.epoch}|${r.cid}`)).size / 2);
    await store.close();
  });
});

describe.each(list)('the API\'s period answers on %s', (_name, backend) => {
  it('are kept while their inputs stay the same, and computed again after a link, a batch or an erasure (exact), or once too stale', async () => {
    const store = await backend.open('cache');
    const all = history(7);
    await ingestAll(store, all, 50);
    const links = linksFor(all, 7);
    for (const l of links.slice(0, -20)) await store.ingestLinks(l, 1);
    while ((await refreshMarked(store)) > 0); // the rollups made (an answer computed with them is kept under their generations)
    let reads = 0;
    const read = store.rollups.profiledDevices.bind(store.rollups);
    store.rollups.profiledDevices = (t, e) => (reads++, read(t, e));
    const serve = async (opts: { maxStaleMs: number }, f: (get: (path: string) => Promise<unknown>) => Promise<void>) => {
      const api = new ApiServer(store, { token: 'period-cache-test-token', k: 1, reports: opts });
      const port = await api.start(0);
      try {
        await f(async (path) => (await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: 'Bearer period-cache-test-token' } })).json());
      } finally {
        await api.stop();
      }
    };
    const R = `/v1/returning?tenant=${TENANT}&from=${DAYS[0]}&to=${DAYS[2]}`;
    const F = `/v1/flows?tenant=${TENANT}&from=${DAYS[0]}&to=${DAYS[2]}`;
    const S = `/v1/segments?tenant=${TENANT}&day=${DAYS[2]}`;
    const want = async () => periodReference(store, DAYS[0]!, DAYS[2]!, 1, DEFAULT_GRAPH_RULES);
    await serve({ maxStaleMs: 0 }, async (get) => {
      const first = await Promise.all([get(R), get(F), get(S)]);
      const n = reads;
      expect(await Promise.all([get(R), get(F), get(S)])).toEqual(first); // kept: nothing read again
      expect(reads).toBe(n);
      // New links: the profiles change.
      for (const l of links.slice(-20)) await store.ingestLinks(l, 1);
      const w = await want();
      expect(await get(R)).toMatchObject({ ...w.returning });
      expect(await get(F)).toMatchObject({ sameDay: w.flows.sameDay, acrossDays: w.flows.acrossDays });
      expect(reads).toBe(n + 2);
      // A batch for a day of the period marks it: computed again, not kept while the mark is on. Its
      // sightings are of linked devices in a store they were not in (no new link: the edges stay).
      const before = (await get(R)) as { multiStore: number };
      const linked = (await store.rollups.profiledDevices(TENANT, [DAYS[0]!])).slice(0, 15);
      const t0 = Date.parse(`${DAYS[0]}T20:00:00Z`);
      const extra = { schema: 'omniloop.sightings/1', tenant: TENANT, store: 'oslo-1', agent: 'ap-9', batchId: 'ap-9:x:1', seq: 1, epoch: DAYS[0], window: { start: t0, end: t0 + 60_000, seconds: 60 },
        sightings: linked.map((r) => ({ cid: r.device.cid, source: 'wifi', addressClass: 'global', first: t0, last: t0 + 30_000, frames: 2, rssiMax: -50, rssiMean: -52, channels: [1] })), ephemeral: [] };
      const v = validateSightingsMessage(`omniloop/v1/${TENANT}/oslo-1/ap-9/sightings`, Buffer.from(JSON.stringify(extra)));
      expect(await store.ingestSightings((v as { value: SightingsBatch }).value, 1)).toBe('stored');
      const after = (await get(R)) as { multiStore: number };
      expect(after).toMatchObject({ ...(await want()).returning });
      expect(after.multiStore).toBeGreaterThan(before.multiStore);
      // An erasure: its profile's devices are gone from the answer at once.
      const [victim] = (await store.rollups.profiledDevices(TENANT, [DAYS[1]!])).map((r) => `cid:${DAYS[1]}:${r.device.cid}`);
      await store.erase(TENANT, [victim!]);
      expect(await get(R)).toMatchObject({ ...(await want()).returning });
    });
    // Allowed to be 60 s stale: a marked day's answer is kept.
    await serve({ maxStaleMs: 60_000 }, async (get) => {
      const before = await get(R);
      for (const b of history(9).filter((x) => x.epoch === DAYS[0]).slice(0, 20)) await store.ingestSightings(b, 1);
      const n = reads;
      expect(await get(R)).toEqual(before);
      expect(reads).toBe(n);
    });
    await store.close();
  });
});

/** Rollups that keep visits of one device-day, read from the database itself. */
async function deviceRows(backendName: string, name: string, epoch: string, cid: string): Promise<number> {
  if (backendName === 'sqlite') {
    const db = new Database(join(dir, `${name}.db`), { readonly: true });
    const n = db.prepare('SELECT count(*) FROM report_days WHERE epoch = ? AND json_extract(linked, ?) IS NOT NULL').pluck().get(epoch, `$."${cid}"`) as number;
    db.close();
    return n;
  }
  const c = new pg.Client(PG);
  await c.connect();
  const r = await c.query(`SELECT count(*)::int AS n FROM t_rollup_${name}_${process.pid}.report_days WHERE epoch = $1 AND linked ? $2`, [epoch, cid]);
  await c.end();
  return r.rows[0].n;
}

/** Drops what SQLite's migration 11 / PostgreSQL's schema 7 added, as a database of the version before has it. */
async function downgrade(backendName: string, name: string): Promise<void> {
  if (backendName === 'sqlite') {
    const db = new Database(join(dir, `${name}.db`));
    db.exec(`DROP TABLE report_marks; DROP TABLE report_days; DROP TABLE store_days; DELETE FROM counters WHERE name IN ('batches', 'sightings', 'dead_letters');
             DELETE FROM meta WHERE key = 'report_gen'; PRAGMA user_version = ${(db.pragma('user_version', { simple: true }) as number) - 1};`);
    db.close();
    return;
  }
  const c = new pg.Client(PG);
  await c.connect();
  const s = `t_rollup_${name}_${process.pid}`;
  await c.query(`DROP TABLE ${s}.report_marks; DROP TABLE ${s}.report_days; DROP TABLE ${s}.store_days; DROP SEQUENCE ${s}.report_gen;
                 DELETE FROM ${s}.counters WHERE name LIKE 'stored%'; UPDATE ${s}.meta SET value = '6' WHERE key = 'schema_version'`);
  await c.end();
}
