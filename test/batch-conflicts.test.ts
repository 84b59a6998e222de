/**
 * Issue 14, finding 9: a batch that came again under a known batch id with other content was dropped
 * as a duplicate, silently. Now the batch row keeps a digest of its content: the same content again is
 * a duplicate (at-least-once delivery), other content a conflict — the first content stays, the other
 * is a dead letter with the reason, counted in the stats and served by the API.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../cloud/api/server.js';
import { ingestMessage } from '../cloud/ingest/ingest.js';
import { batchDigest } from '../cloud/store/cloud-store.js';
import { validateSightingsMessage } from '../shared/wire/sightings-schema.js';
import { PG, backends } from './helpers/backends.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-conflicts-'));
const { list, dropAll } = backends(dir, 'conflicts');
afterAll(() => dropAll());

const T = Date.parse('2026-11-23T10:00:00Z');
const CID = 'c'.repeat(32);
const TOPIC = 'omniloop/v1/acme/berlin-1/ap-1/sightings';
const LINKS = 'omniloop/v1/acme/berlin-1/ap-1/links';
const TOKEN = 'conflict-test-token-0123';

function batch(seq: number, frames = 3) {
  return {
    schema: 'omniloop.sightings/1',
    tenant: 'acme',
    store: 'berlin-1',
    agent: 'ap-1',
    batchId: `ap-1:abcd1234:${seq}`,
    seq,
    epoch: '2026-11-23',
    window: { start: T, end: T + 60_000, seconds: 60 },
    sightings: [{ cid: CID, source: 'wifi', addressClass: 'global', first: T + 1, last: T + 2, frames, rssiMax: -50, rssiMean: -55.5, channels: [1, 6] }],
    ephemeral: [],
  };
}
const links = (seq: number, hem: string) => ({ schema: 'omniloop.links/1', tenant: 'acme', store: 'berlin-1', agent: 'ap-1', batchId: `ap-1:abcd1234:${seq}`, seq, epoch: '2026-11-23', links: [{ ts: T, cid: CID, hem, consent: { marketing: true } }] });
const buf = (o: unknown) => Buffer.from(JSON.stringify(o));

/** Runs SQL on the database behind a backend's store (SQLite file or PostgreSQL schema, `$s.` for it). */
async function raw(backend: (typeof list)[number][1], name: string, sql: string): Promise<void> {
  const schema = /schema: (\S+)/.exec(backend.yaml(name))?.[1];
  if (!schema) {
    const db = new Database(join(dir, `${name}.db`));
    db.exec(sql.replaceAll('$s.', ''));
    db.close();
    return;
  }
  const c = new pg.Client(PG);
  await c.connect();
  await c.query(sql.replaceAll('$s.', `${schema}.`));
  await c.end();
}

describe('the batch digest', () => {
  it('is the same for the same content in any key order, and differs for any other content', () => {
    const v = (o: unknown) => {
      const r = validateSightingsMessage(TOPIC, typeof o === 'string' ? o : JSON.stringify(o));
      if (!r.ok) throw new Error(r.reason);
      return r.value;
    };
    const a = batchDigest(v(batch(1)));
    const { sightings, ...rest } = batch(1);
    expect(batchDigest(v({ sightings: sightings.map((s) => Object.fromEntries(Object.entries(s).reverse())), ...Object.fromEntries(Object.entries(rest).reverse()) }))).toBe(a);
    expect(batchDigest(v(batch(1, 4)))).not.toBe(a);
    expect(batchDigest(v({ ...batch(1), window: { ...batch(1).window, seconds: 61 } }))).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe.each(list)('batch conflicts on %s', (name, backend) => {
  it('keeps the first content, makes other content under its id a conflict with a dead letter, and the same content a duplicate', async () => {
    const store = await backend.open('basic');
    expect(await ingestMessage(store, TOPIC, buf(batch(1)))).toBe('stored');
    expect(await ingestMessage(store, TOPIC, buf(batch(1)))).toBe('duplicate'); // a redelivery
    expect(await ingestMessage(store, TOPIC, buf(batch(1, 4)))).toBe('conflict');
    expect(await ingestMessage(store, TOPIC, buf(batch(1, 5)))).toBe('conflict');
    expect(await ingestMessage(store, TOPIC, buf(batch(1)))).toBe('duplicate'); // the original still is one
    expect((await store.sightingsOfDay('acme', '2026-11-23')).map((r) => r.frames)).toEqual([3]); // never overwritten
    expect(await store.stats()).toMatchObject({ batches: 1, sightings: 1, duplicates: 2, conflicts: 2, deadLetters: 2 });
    const [last] = await store.deadLetters(1);
    expect(last).toMatchObject({ topic: TOPIC, reason: 'conflict: batch ap-1:abcd1234:1 was stored before with other content; the first is kept' });
    expect(last!.payload).toContain('"frames":5'); // what came (redacted), for whoever looks into it

    // Links the same way: another person under a known link batch id does not join the graph.
    expect(await ingestMessage(store, LINKS, buf(links(2, 'e'.repeat(64))))).toBe('stored');
    expect(await ingestMessage(store, LINKS, buf(links(2, 'f'.repeat(64))))).toBe('conflict');
    expect(await ingestMessage(store, LINKS, buf(links(2, 'e'.repeat(64))))).toBe('duplicate');
    expect((await store.edges('acme')).flatMap((e) => [e.a, e.b]).filter((n) => n.startsWith('hem:'))).toEqual([`hem:${'e'.repeat(64)}`]);
    expect(await store.stats()).toMatchObject({ duplicates: 3, conflicts: 3, deadLetters: 3 });

    // Served by the API: the counter in /v1/stats, the reason in /v1/dead-letters.
    const api = new ApiServer(store, { token: TOKEN, k: 5 });
    const base = `http://127.0.0.1:${await api.start(0)}`;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const get = async (p: string): Promise<any> => (await fetch(base + p, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
    expect(await get('/v1/stats')).toMatchObject({ conflicts: 3, duplicates: 3 });
    expect((await get('/v1/dead-letters?limit=5')).deadLetters.map((d: { reason: string }) => d.reason.split(' ')[0])).toEqual(['conflict:', 'conflict:', 'conflict:']);
    await api.stop();
    await store.close();
  });

  it('tells conflicts from duplicates when consumers race on one batch id', async () => {
    const a = await backend.open('race');
    const b = await backend.open('race');
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => ingestMessage(i % 2 ? a : b, TOPIC, buf(batch(7, i < 4 ? 3 : 9)))));
    expect(results.filter((r) => r === 'stored')).toHaveLength(1);
    const kept = (await a.sightingsOfDay('acme', '2026-11-23'))[0]!.frames;
    // Four messages carry the kept content (one stored, three duplicates), four the other (conflicts).
    expect(results.filter((r) => r === 'duplicate')).toHaveLength(3);
    expect(results.filter((r) => r === 'conflict')).toHaveLength(4);
    expect([3, 9]).toContain(kept);
    expect(await a.stats()).toMatchObject({ batches: 1, duplicates: 3, conflicts: 4, deadLetters: 4 });
    await a.close();
    await b.close();
  });

  it('upgrades a database from before digests: its batches stay duplicates (nothing to compare), new ones are compared', async () => {
    const store = await backend.open('legacy');
    expect(await ingestMessage(store, TOPIC, buf(batch(1)))).toBe('stored');
    await store.close();
    // The schema before this change: no digest column (SQLite 6, PostgreSQL 3).
    await raw(backend, 'legacy', name === 'sqlite' ? 'ALTER TABLE batches DROP COLUMN digest; DROP TABLE IF EXISTS meta; PRAGMA user_version = 6;' : `ALTER TABLE $s.batches DROP COLUMN digest; UPDATE $s.meta SET value = '3' WHERE key = 'schema_version'`);
    const again = await backend.open('legacy');
    expect(await ingestMessage(again, TOPIC, buf(batch(1, 4)))).toBe('duplicate');
    expect(await ingestMessage(again, TOPIC, buf(batch(2)))).toBe('stored');
    expect(await ingestMessage(again, TOPIC, buf(batch(2, 4)))).toBe('conflict');
    expect(await again.stats()).toMatchObject({ batches: 2, conflicts: 1 });
    await again.close();
  });
});
