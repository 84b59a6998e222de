/**
 * HQ's ingest: validation and dead letters, idempotency by batch id, agent status — and, against a real
 * Mosquitto, three stores' agents and tills consumed by two consumers sharing the subscription, one of
 * them restarted midway, with duplicates and garbage injected: the same graph and figures as one clean run.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCloudConfig } from '../cloud/config/cloud-config.js';
import { Consumer } from '../cloud/ingest/consumer.js';
import { ingestMessage } from '../cloud/ingest/ingest.js';
import { SqliteCloudStore } from '../cloud/store/sqlite-store.js';
import { PostgresCloudStore } from '../cloud/store/postgres-store.js';
import type { CloudStore } from '../cloud/store/cloud-store.js';
import { createLogger } from '../shared/log.js';
import { redact, redactHead } from '../shared/wire/redact.js';
import { validateSightingsMessage } from '../shared/wire/sightings-schema.js';
import { validateLinksMessage } from '../shared/wire/links-schema.js';
import { DEAD_LETTER_KEEP } from '../cloud/store/cloud-store.js';
import { hashEmail } from '../shared/identity/link-keys.js';
import { findProfile } from '../cloud/identity/profiles.js';
import { returningProfiles } from '../cloud/analytics/returning.js';
import { reportStats } from '../cloud/reports/rollups.js';
import { buildIdentityGraph, DEFAULT_GRAPH_RULES } from '../cloud/identity/graph.js';
import { graphFigures } from '../cloud/identity/graph-figures.js';
import { buildVisits, storeDayFigures, storeTimezones } from '../cloud/analytics/visits.js';
import { storeFlows } from '../cloud/analytics/flows.js';
import { generateCapture } from '../scripts/gen-capture.js';
import { CLI, runCli, runCliAsync } from './helpers/cli.js';
import { spawn } from 'node:child_process';
import { Mosquitto, collect, freePort } from './helpers/mosquitto.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-cloud-'));
const PG = process.env.OMNILOOP_TEST_PG ?? 'postgres://root@127.0.0.1:5432/test';
let serial = 0;
/** A fresh, uniquely named PostgreSQL schema per use, dropped at the end. */
const pgSchemas: string[] = [];
function pgSchema(name: string): string {
  const s = `t_${name.replace(/[^a-z0-9]/g, '_')}_${process.pid}_${serial++}`;
  pgSchemas.push(s);
  return s;
}

interface Backend {
  open(name: string): Promise<CloudStore>;
  /** The `database:` block of a cloud config for the same database. */
  yaml(name: string): string;
}
const schemaOf = new Map<string, string>();
const BACKENDS: [string, Backend][] = [
  ['sqlite', { open: async (name) => new SqliteCloudStore(join(dir, `${name}.db`)), yaml: (name) => `database:\n  sqlite: ${name}.db\n` }],
  [
    'postgres',
    {
      open: async (name) => {
        if (!schemaOf.has(name)) schemaOf.set(name, pgSchema(name));
        return PostgresCloudStore.open(PG, schemaOf.get(name));
      },
      yaml: (name) => {
        if (!schemaOf.has(name)) schemaOf.set(name, pgSchema(name));
        return `database:\n  postgres:\n    url: ${PG}\n    schema: ${schemaOf.get(name)}\n`;
      },
    },
  ],
];

afterAll(async () => {
  for (const s of pgSchemas) {
    const store = await PostgresCloudStore.open(PG, s);
    await store.dropSchema();
    await store.close();
  }
});
const T = Date.parse('2026-11-23T10:00:00Z');
const CID = 'a'.repeat(32);
const VECTOR_SECRET = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'; // test/fixtures/vectors/identity-v1.json

function batch(seq: number, over: Record<string, unknown> = {}) {
  return {
    schema: 'omniloop.sightings/1',
    tenant: 'acme',
    store: 'berlin-1',
    agent: 'ap-1',
    batchId: `ap-1:abcd1234:${seq}`,
    seq,
    epoch: '2026-11-23',
    window: { start: T, end: T + 60_000, seconds: 60 },
    sightings: [{ cid: CID, source: 'wifi', addressClass: 'global', first: T + 1, last: T + 2, frames: 3, rssiMax: -50, rssiMean: -55.5, channels: [1, 6] }],
    ephemeral: [{ source: 'wifi', addressClass: 'randomized', devices: 4, frames: 9 }],
    ...over,
  };
}
const TOPIC = 'omniloop/v1/acme/berlin-1/ap-1/sightings';
const buf = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o));

describe('epochs and times agree (issue 14, finding 9: a window dated 2099 was stored under a 2026 epoch)', () => {
  it('refuses a window or a link that is not on its key epoch\'s store-day, in any time zone and rollover', () => {
    const y2099 = Date.parse('2099-06-01T10:00:00Z');
    const v = validateSightingsMessage(TOPIC, buf(batch(1, { window: { start: y2099, end: y2099 + 60_000, seconds: 60 } })));
    expect(v).toEqual({ ok: false, reason: "schema: window: window is not on the key epoch's store-day" });
    // Store-days of far zones and a late rollover are still that day.
    const epoch = Date.parse('2026-11-23T00:00:00Z');
    for (const start of [epoch - 13 * 3_600_000, epoch + 2 * 86_400_000 - 3_600_000, T]) expect(validateSightingsMessage(TOPIC, buf(batch(1, { window: { start, end: start + 60_000, seconds: 60 } }))).ok).toBe(true);
    expect(validateSightingsMessage(TOPIC, buf(batch(1, { window: { start: epoch + 3 * 86_400_000, end: epoch + 3 * 86_400_000 + 60_000, seconds: 60 } }))).ok).toBe(false);
    const links = (ts: number) => ({ schema: 'omniloop.links/1', tenant: 'acme', store: 'berlin-1', agent: 'ap-1', batchId: 'ap-1:abcd1234:9', seq: 9, epoch: '2026-11-23', links: [{ ts, cid: CID, hem: 'e'.repeat(64), consent: { marketing: true } }] });
    expect(validateLinksMessage('omniloop/v1/acme/berlin-1/ap-1/links', buf(links(T))).ok).toBe(true);
    expect(validateLinksMessage('omniloop/v1/acme/berlin-1/ap-1/links', buf(links(y2099)))).toMatchObject({ ok: false, reason: /not on the key epoch/ });
  });
});

describe('a message the database refuses', () => {
  it('becomes a dead letter when its content is at fault (SQLSTATE 22/23/54, SQLite mismatch or constraint), and is thrown when the database is (issue 14, finding 3)', async () => {
    const dead: string[] = [];
    const failing = (code: string) =>
      ({
        ingestSightings: async () => {
          throw Object.assign(new Error('refused'), { code });
        },
        deadLetter: async (_t: string, reason: string) => {
          dead.push(reason);
        },
      }) as unknown as Parameters<typeof ingestMessage>[0];
    for (const code of ['22P05', '22021', '23505', '54000', 'SQLITE_MISMATCH', 'SQLITE_CONSTRAINT_CHECK', 'SQLITE_TOOBIG']) expect(await ingestMessage(failing(code), TOPIC, buf(batch(1))), code).toBe('dead');
    expect(dead).toContain('the database refused the message (22P05)');
    // Down, full, busy or cut off: no fault of the message; not acknowledged, so it comes again.
    for (const code of ['ECONNREFUSED', '57P01', '08006', 'SQLITE_BUSY', 'SQLITE_FULL', 'SQLITE_IOERR']) await expect(ingestMessage(failing(code), TOPIC, buf(batch(1))), code).rejects.toThrow('refused');
  });
});

describe.each(BACKENDS)('ingest into %s', (_name, backend) => {
  it('stores a valid batch once; a redelivery is a duplicate that changes nothing', async () => {
    const store = await backend.open('unit');
    expect(await ingestMessage(store, TOPIC, buf(batch(1)))).toBe('stored');
    expect(await ingestMessage(store, TOPIC, buf(batch(1)))).toBe('duplicate');
    expect(await ingestMessage(store, TOPIC, buf(batch(2)))).toBe('stored');
    expect(await reportStats(store)).toMatchObject({ batches: 2, sightings: 2, duplicates: 1, deadLetters: 0, consumerIds: 1, stores: 1 });
    const rows = await store.sightingsOfDay('acme', '2026-11-23');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toEqual({ store: 'berlin-1', epoch: '2026-11-23', cid: CID, first: T + 1, last: T + 2, frames: 3, rssiMax: -50, source: 'wifi', addressClass: 'global' });
    await store.close();
  });

  it('keeps the window estimate of the devices behind ephemeral addresses; batches of older agents carry none', async () => {
    const store = await backend.open('estimates');
    const estimate = { method: 'ephemeral-v2', wifi: { present: 3.5, arrivals: 1.25 }, ble: { present: 2, arrivals: 0 } };
    expect(await ingestMessage(store, TOPIC, buf(batch(1, { estimate })))).toBe('stored');
    expect(await ingestMessage(store, TOPIC, buf(batch(1, { estimate })))).toBe('duplicate'); // stored once
    expect(await ingestMessage(store, TOPIC, buf(batch(2)))).toBe('stored'); // no estimate: still a batch
    expect(await ingestMessage(store, TOPIC, buf(batch(3, { estimate: { ...estimate, wifi: { present: -1, arrivals: 0 } } })))).toBe('dead');
    expect(await ingestMessage(store, TOPIC, buf(batch(4, { estimate: { ...estimate, addresses: ['f0:18:98:01:02:03'] } })))).toBe('dead'); // nothing but counts
    expect(await store.estimatesOfDay('acme', '2026-11-23')).toEqual([
      { store: 'berlin-1', agent: 'ap-1', epoch: '2026-11-23', start: T, end: T + 60_000, method: 'ephemeral-v2', wifiPresent: 3.5, wifiArrivals: 1.25, blePresent: 2, bleArrivals: 0 },
    ]);
    expect(await store.estimatesOfDay('acme', '2026-11-23', 'paris-1')).toEqual([]);
    await store.close();
  });

  it('tells apart batches of equally named agents in different stores', async () => {
    const store = await backend.open('names');
    expect(await ingestMessage(store, TOPIC, buf(batch(1)))).toBe('stored');
    expect(await ingestMessage(store, 'omniloop/v1/acme/paris-1/ap-1/sightings', buf(batch(1, { store: 'paris-1' })))).toBe('stored');
    expect(await ingestMessage(store, TOPIC, buf(batch(1)))).toBe('duplicate');
    expect(await store.stats()).toMatchObject({ batches: 2, sightings: 2, stores: 2 });
    await store.close();
  });

  it('upgrades a database whose batches were keyed by batch id alone', async () => {
    const store = await backend.open('upgrade');
    expect(await ingestMessage(store, TOPIC, buf(batch(1)))).toBe('stored');
    await store.close();
    await downgradeBatchKey(_name, 'upgrade');
    const again = await backend.open('upgrade');
    expect(await ingestMessage(again, TOPIC, buf(batch(1)))).toBe('duplicate');
    expect(await ingestMessage(again, 'omniloop/v1/acme/paris-1/ap-1/sightings', buf(batch(1, { store: 'paris-1' })))).toBe('stored');
    expect(await again.stats()).toMatchObject({ batches: 2, sightings: 2 });
    await again.close();
  });

  it('stores a batch exactly once when consumers race on it', async () => {
    const a = await backend.open('race');
    const b = await backend.open('race');
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => ingestMessage(i % 2 ? a : b, TOPIC, buf(batch(7)))));
    expect(results.filter((r) => r === 'stored')).toHaveLength(1);
    expect((await a.stats()).batches).toBe(1);
    expect((await a.stats()).sightings).toBe(1);
    await a.close();
    await b.close();
  });

  it.each([
    ['not JSON', '{"schema":', /not JSON/],
    ['a wrong schema version', batch(3, { schema: 'omniloop.sightings/2' }), /schema: schema/],
    ['a raw address where a Consumer-ID belongs', batch(3, { sightings: [{ ...batch(3).sightings[0], cid: 'f0:18:98:01:02:03' }] }), /sightings\.0\.cid/],
    ['a batch id of another agent', batch(3, { batchId: 'ap-9:abcd1234:3' }), /batchId/],
    ['a window that ends before it starts', batch(3, { window: { start: T, end: T - 1, seconds: 60 } }), /window/],
    ['an unknown field', batch(3, { extra: 1 }), /Unrecognized key|unrecognized/i],
    ['too many bytes', 'x'.repeat(1024 * 1024 + 1), /exceeds/],
  ])('parks %s as a dead letter with the reason', async (_what, payload, reason) => {
    const store = await backend.open(`dead${serial++}`);
    expect(await ingestMessage(store, TOPIC, buf(payload))).toBe('dead');
    const [d] = await store.deadLetters(1);
    expect(d!.reason).toMatch(reason);
    expect((await store.stats()).batches).toBe(0);
    await store.close();
  });

  it('checks that the topic names the sender the payload names', async () => {
    const store = await backend.open('topic');
    expect(await ingestMessage(store, 'omniloop/v1/acme/paris-1/ap-1/sightings', buf(batch(1)))).toBe('dead');
    expect(await ingestMessage(store, 'omniloop/v1/acme/berlin-1/sightings', buf(batch(1)))).toBe('dead');
    expect(await ingestMessage(store, 'other/thing', buf(batch(1)))).toBe('dead');
    expect((await store.deadLetters(5)).map((d) => d.reason)).toEqual([
      'not an omniloop/v1/<tenant>/<store>/<agent>/<kind> topic',
      'not an omniloop/v1/<tenant>/<store>/<agent>/<kind> topic',
      "topic omniloop/v1/acme/paris-1/ap-1/sightings does not match the payload's acme/berlin-1/ap-1",
    ]);
    await store.close();
  });

  it('never keeps a raw identifier from a dead letter', async () => {
    const store = await backend.open('redact');
    await ingestMessage(store, TOPIC, buf('{"mac":"F0:18:98:01:02:03","alt":"f018.9801.0203","email":"jane.doe@example.com","phone":"+49 30 1234567"'));
    const [d] = await store.deadLetters(1);
    expect(d!.payload).toBe('{"mac":"<mac>","alt":"<mac>","email":"<email>","phone":"<digits>"');
    expect(redact('cid aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa stays')).toBe('cid aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa stays');
    await store.close();
  });

  it('redacts the head of a long payload, also where the scan stops inside an identifier, and in linear time', () => {
    // A megabyte without an @ took quadratic time with an unbounded e-mail pattern (the test run hung).
    expect(redactHead('x'.repeat(1 << 20), 4096)).toBe('x'.repeat(4096));
    // Dense identifiers shrink the head below the kept length: the scan's end, which splits one, is dropped.
    const long = `${'a'.repeat(64)}@${'b'.repeat(180)}.com `; // 250 characters: 262 in the scanned 64 KiB
    const head = redactHead(long.repeat(400), 4096);
    expect(head.length).toBeLessThan(4096);
    expect(head).not.toMatch(/aaaa|bbbb|@/);
    expect(head.startsWith('<email> <email>')).toBe(true);
  });

  it('keeps no raw identifier in dead-letter reasons, cut payloads or agents\' status either (issue 14, finding 8)', async () => {
    const store = await backend.open('redact2');
    // An unknown key and an unknown kind that are identifiers: the reasons echoed them.
    await ingestMessage(store, TOPIC, buf({ ...batch(1), 'f0:18:98:01:02:03': 1, 'jane.doe@example.com': 2 }));
    await ingestMessage(store, 'omniloop/v1/acme/berlin-1/ap-1/jane.doe@example.com', buf('{}'));
    // An address and an e-mail across the 4 KiB cut: the cut came first and left their heads.
    const pad = 'x'.repeat(DEAD_LETTER_KEEP - 8);
    await ingestMessage(store, TOPIC, Buffer.from(`${pad}f0:18:98:01:02:03`));
    await ingestMessage(store, TOPIC, Buffer.from(`${pad.slice(4)}jane.doe@example.com`));
    // Without separators.
    await ingestMessage(store, TOPIC, Buffer.from('{"mac":"f01898010203","cid":"a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"}'));
    const all = (await store.deadLetters(10)).map((d) => `${d.topic} ${d.reason} ${d.payload}`).join('\n');
    expect(all).not.toMatch(/f0:18:98|f01898|jane\.doe|example\.com|f0:18:9/i);
    expect(all).toContain('a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6'); // a Consumer-ID is no address
    // A status body stored and served as sent held whatever the sender put in it.
    await ingestMessage(store, 'omniloop/v1/acme/berlin-1/ap-1/status', buf({ state: 'online', lastError: 'no route to f0:18:98:01:02:03 for jane.doe@example.com', 'f0:18:98:01:02:03': { phone: '+49 30 1234567' } }));
    const [a] = await store.agents();
    expect(JSON.stringify(a!.status)).not.toMatch(/f0:18:98|jane|1234567/);
    expect(a!.state).toBe('online');
    await store.close();
  });

  it('stores link events as edges and builds profiles from them', async () => {
    const store = await backend.open('links');
    const hem = hashEmail('Jane.Doe@example.com');
    const links = (seq: number, items: unknown[]) => ({ schema: 'omniloop.links/1', tenant: 'acme', store: 'berlin-1', agent: 'ap-1', batchId: `ap-1:abcd1234:${seq}`, seq, epoch: '2026-11-23', links: items });
    const LTOPIC = 'omniloop/v1/acme/berlin-1/ap-1/links';
    expect(await ingestMessage(store, TOPIC, buf(batch(1)))).toBe('stored'); // the device's sighting
    expect(await ingestMessage(store, LTOPIC, buf(links(50, [{ ts: T + 5, cid: CID, hem, consent: { marketing: true } }])))).toBe('stored');
    expect(await ingestMessage(store, LTOPIC, buf(links(50, [{ ts: T + 5, cid: CID, hem, consent: { marketing: true } }])))).toBe('duplicate');
    expect(await ingestMessage(store, LTOPIC, buf(links(51, [{ ts: T + 9, cid: CID, consent: { marketing: false } }])))).toBe('dead'); // one identifier links nothing
    expect(await ingestMessage(store, LTOPIC, buf(links(52, [{ ts: T + 9, cid: CID, hem: 'jane@example.com', consent: { marketing: false } }])))).toBe('dead'); // raw e-mail
    const found = await findProfile(store, 'acme', `hem:${hem}`);
    expect(found).toMatchObject({ days: ['2026-11-23'], stores: ['berlin-1'], visits: 1, marketingConsent: true });
    expect(found!.identifiers.map((i) => i.kind).sort()).toEqual(['cid', 'hem']);
    expect(await findProfile(store, 'acme', `cid:2026-11-23:${CID}`)).toEqual(found);
    expect(await findProfile(store, 'acme', found!.profile)).toEqual(found);
    expect(await findProfile(store, 'acme', `hem:${'0'.repeat(64)}`)).toBeNull();
    const dead = await store.deadLetters(5);
    expect(dead.map((d) => d.payload).join()).not.toContain('jane@example.com');
    await store.close();
    // The same through the CLI, by e-mail (hashed on the command line, never stored).
    const cfg = join(dir, `links-${_name}.yaml`);
    writeFileSync(cfg, `broker:\n  url: mqtt://127.0.0.1:1\n${backend.yaml('links')}`);
    const r = await runCliAsync(['cloud', 'profile', '--config', cfg, '--tenant', 'acme', '--email', ' jane.doe@EXAMPLE.com', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(found);
    const none = await runCliAsync(['cloud', 'profile', '--config', cfg, '--tenant', 'acme', '--email', 'nobody@example.com']);
    expect(none.code).toBe(1);
    expect((await runCliAsync(['cloud', 'profile', '--config', cfg, '--tenant', 'acme'])).code).toBe(2);

    // Erasure: the whole profile, its sightings, and replays of either are dropped.
    const erased = await runCliAsync(['cloud', 'erase', '--config', cfg, '--tenant', 'acme', '--email', 'jane.doe@example.com', '--json']);
    expect(erased.code, erased.stderr).toBe(0);
    expect(JSON.parse(erased.stdout)).toEqual({ identifiers: 2, edges: 1, sightings: 1 });
    const again = await backend.open('links');
    expect(await findProfile(again, 'acme', `hem:${hem}`)).toBeNull();
    expect(await ingestMessage(again, LTOPIC, buf(links(60, [{ ts: T + 5, cid: CID, hem, consent: { marketing: true } }])))).toBe('stored');
    expect(await ingestMessage(again, TOPIC, buf(batch(61)))).toBe('stored');
    expect(await findProfile(again, 'acme', `hem:${hem}`)).toBeNull();
    expect((await again.sightingsOfDay('acme', '2026-11-23')).some((r) => r.cid === CID)).toBe(false);
    await again.close();
  });

  it('finds and erases a person by loyalty id with the link key HQ holds (never the tenant secret)', async () => {
    // The reference secret: the derived link key must reproduce the reference loyalty key.
    const secretFile = join(dir, `vector-${_name}.key`);
    const linkFile = join(dir, `vector-${_name}-link.key`);
    writeFileSync(secretFile, Buffer.from(VECTOR_SECRET, 'hex').toString('base64') + '\n', { mode: 0o600 });
    const derived = await runCliAsync(['key', 'derive', '--key', secretFile, '--tenant', 'acme', '--purpose', 'link', '--out', linkFile, '--json']);
    expect(derived.code, derived.stderr).toBe(0);
    expect((await runCliAsync(['key', 'derive', '--key', secretFile, '--tenant', 'acme', '--purpose', 'link', '--out', linkFile])).code).toBe(2); // never overwritten
    expect((await runCliAsync(['key', 'derive', '--key', secretFile, '--tenant', 'acme', '--purpose', 'days', '--out', join(dir, 'x.key')])).stderr).toMatch(/--purpose is link or optout/);
    const loy = '5ef47b9e00cb972ed678bc8198c7a706e483ce22b7a3148b35f1963ddb79b085'; // identity-v1.json, "AB-12345"
    const store = await backend.open('loyalty');
    expect(await ingestMessage(store, TOPIC, buf(batch(1)))).toBe('stored');
    const links = { schema: 'omniloop.links/1', tenant: 'acme', store: 'berlin-1', agent: 'ap-1', batchId: 'ap-1:abcd1234:2', seq: 2, epoch: '2026-11-23', links: [{ ts: T + 5, cid: CID, loyalty: loy, consent: { marketing: false } }] };
    expect(await ingestMessage(store, 'omniloop/v1/acme/berlin-1/ap-1/links', buf(links))).toBe('stored');
    await store.close();
    const cfg = join(dir, `loyalty-${_name}.yaml`);
    writeFileSync(cfg, `broker:\n  url: mqtt://127.0.0.1:1\n${backend.yaml('loyalty')}`);
    const noKey = await runCliAsync(['cloud', 'profile', '--config', cfg, '--tenant', 'acme', '--loyalty', 'AB-12345']);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/no link key for tenant acme: make one with `omniloop key derive --purpose link/);
    writeFileSync(cfg, `broker:\n  url: mqtt://127.0.0.1:1\n${backend.yaml('loyalty')}tenants:\n  acme:\n    linkKeyFile: ${linkFile}\n`);
    const found = await runCliAsync(['cloud', 'profile', '--config', cfg, '--tenant', 'acme', '--loyalty', ' ab-12345 ', '--json']);
    expect(found.code, found.stderr).toBe(0);
    expect(JSON.parse(found.stdout).identifiers).toContainEqual({ kind: 'loy', value: loy });
    const erased = await runCliAsync(['cloud', 'erase', '--config', cfg, '--tenant', 'acme', '--loyalty', 'AB-12345', '--json']);
    expect(JSON.parse(erased.stdout)).toEqual({ identifiers: 2, edges: 1, sightings: 1 });
    expect((await runCliAsync(['cloud', 'profile', '--config', cfg, '--tenant', 'acme', '--loyalty', 'AB-12345'])).code).toBe(1);
  });

  it('counts returning profiles across days and stores, unmerges by batch, honours blocked values', async () => {
    const store = await backend.open('returning');
    const hem = 'd'.repeat(64);
    const day2 = '2026-11-24';
    const T2 = Date.parse('2026-11-24T10:00:00Z');
    const CID2 = 'b'.repeat(32);
    const sight = (seq: number, storeName: string, epoch: string, cid: string, t: number) => ({
      ...batch(seq),
      store: storeName,
      epoch,
      window: { start: t, end: t + 60_000, seconds: 60 },
      sightings: [{ ...batch(seq).sightings[0]!, cid, first: t + 1, last: t + 2 }],
    });
    const link = (seq: number, storeName: string, epoch: string, cid: string, t: number) => ({ schema: 'omniloop.links/1', tenant: 'acme', store: storeName, agent: 'ap-1', batchId: `ap-1:abcd1234:${seq}`, seq, epoch, links: [{ ts: t, cid, hem, consent: { marketing: false } }] });
    const topic = (s2: string, kind: string) => `omniloop/v1/acme/${s2}/ap-1/${kind}`;
    expect(await ingestMessage(store, topic('berlin-1', 'sightings'), buf(sight(1, 'berlin-1', '2026-11-23', CID, T)))).toBe('stored');
    expect(await ingestMessage(store, topic('paris-1', 'sightings'), buf(sight(2, 'paris-1', day2, CID2, T2)))).toBe('stored');
    expect(await ingestMessage(store, topic('berlin-1', 'links'), buf(link(3, 'berlin-1', '2026-11-23', CID, T)))).toBe('stored');
    expect(await ingestMessage(store, topic('paris-1', 'links'), buf(link(4, 'paris-1', day2, CID2, T2)))).toBe('stored');
    expect(await returningProfiles(store, 'acme', '2026-11-23', '2026-11-24', 1)).toEqual({ from: '2026-11-23', to: '2026-11-24', profiles: 1, returning: 1, multiStore: 1 });
    expect((await returningProfiles(store, 'acme', '2026-11-23', '2026-11-24', 5)).returning).toBeNull(); // k-anonymous
    // A blocked e-mail joins nothing.
    const blocked = { ...DEFAULT_GRAPH_RULES, blocked: new Set([`hem:${hem}`]) };
    expect(await returningProfiles(store, 'acme', '2026-11-23', '2026-11-24', 1, blocked)).toMatchObject({ profiles: 0 });
    // Unmerge the second day's link: one profile, seen on one day.
    expect(await store.revokeBatch('acme', 'berlin-1', 'ap-1:abcd1234:4')).toBe(0); // another store's batch of that id
    expect(await store.revokeBatch('acme', 'paris-1', 'ap-1:abcd1234:4')).toBe(1);
    expect(await returningProfiles(store, 'acme', '2026-11-23', '2026-11-24', 1)).toMatchObject({ profiles: 1, returning: 0 });
    await store.close();
  });

  it('parks a message the database refuses (a NUL in a status, a raw NUL byte) as a dead letter instead of stalling (issue 14, finding 3)', async () => {
    const store = await backend.open('nul');
    const status = 'omniloop/v1/acme/berlin-1/ap-1/status';
    // PostgreSQL's jsonb and text refuse U+0000; twenty of these stopped ingest for every tenant.
    for (let i = 0; i < 20; i++) expect(await ingestMessage(store, status, buf({ state: 'online', note: `x\u0000${i}` }))).toMatch(/^(agent|dead)$/);
    expect(await ingestMessage(store, TOPIC, Buffer.concat([buf(batch(1)).subarray(0, 10), Buffer.from([0]), buf(batch(1)).subarray(10)]))).toBe('dead');
    // The stream goes on: the next valid batch is stored.
    expect(await ingestMessage(store, TOPIC, buf(batch(7)))).toBe('stored');
    const dead = await store.deadLetters(50);
    expect(dead.length).toBeGreaterThanOrEqual(1);
    // The dead letter shows where the NUL was without holding one (a text column cannot).
    for (const d of dead) expect(d.payload.includes(String.fromCharCode(0))).toBe(false);
    expect(dead.some((d) => d.payload.includes('\\u0000'))).toBe(true);
    await store.close();
  });

  it('keeps agents online/offline from status, refreshed by metrics', async () => {
    const store = await backend.open('agents');
    const status = 'omniloop/v1/acme/berlin-1/ap-1/status';
    expect(await ingestMessage(store, status, buf({ state: 'online', outbox: { rows: 3 } }), 1000)).toBe('agent');
    await ingestMessage(store, 'omniloop/v1/acme/berlin-1/ap-1/metrics', buf({ published: 7 }), 2000);
    expect(await store.agents()).toEqual([{ tenant: 'acme', store: 'berlin-1', agent: 'ap-1', state: 'online', lastSeenMs: 2000, status: { published: 7 } }]);
    await ingestMessage(store, status, buf({ state: 'offline' }), 3000);
    expect((await store.agents())[0]!.state).toBe('offline');
    expect(await ingestMessage(store, status, Buffer.alloc(0))).toBe('ignored');
    expect(await ingestMessage(store, status, buf('[1,2]'))).toBe('dead');
    await store.close();
  });
});

/** Puts a database back to the schema before batches were keyed by sender (SQLite 3, PostgreSQL 1). */
async function downgradeBatchKey(backendName: string, name: string): Promise<void> {
  if (backendName === 'sqlite') {
    const db = new Database(join(dir, `${name}.db`));
    db.exec(`CREATE TABLE b3 (batch_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, store TEXT NOT NULL, agent TEXT NOT NULL, seq INTEGER NOT NULL, epoch TEXT NOT NULL,
               window_start INTEGER NOT NULL, window_end INTEGER NOT NULL, sightings INTEGER NOT NULL, received_ms INTEGER NOT NULL);
             INSERT INTO b3 SELECT batch_id, tenant, store, agent, seq, epoch, window_start, window_end, sightings, received_ms FROM batches; DROP TABLE batches; ALTER TABLE b3 RENAME TO batches;
             DROP TABLE optout; DROP TABLE estimates; DROP TABLE meta; PRAGMA user_version = 3;`);
    db.close();
    return;
  }
  const c = new pg.Client(PG);
  await c.connect();
  const s = schemaOf.get(name)!;
  await c.query(`ALTER TABLE ${s}.batches DROP CONSTRAINT batches_pkey, ADD PRIMARY KEY (batch_id); UPDATE ${s}.meta SET value = '1' WHERE key = 'schema_version'`);
  await c.end();
}

/** Everything HQ derives from a store: the graph and the figures of a day. */
async function figuresOf(store: CloudStore, day: string) {
  const edges = await store.edges('acme');
  const g = buildIdentityGraph(edges, DEFAULT_GRAPH_RULES);
  const visits = buildVisits(await store.sightingsOfDay('acme', day));
  return {
    profiles: [...g.profiles.entries()].sort(),
    quarantined: [...g.quarantined].sort(),
    refused: g.refused.length,
    footfall: storeDayFigures(visits, 5, storeTimezones(await store.agents())),
    flows: storeFlows(visits, (epoch, cid) => g.profileOf.get(`cid:${epoch}:${cid}`), 5),
    graph: graphFigures(edges, g, 5),
    marketing: edges.filter((e) => e.marketing).length,
  };
}

describe.each(BACKENDS)('two consumers against a real broker, into %s', (backendName, backend) => {
  let broker: Mosquitto;
  const key = join(dir, 'acme.key');

  beforeAll(async () => {
    broker = new Mosquitto(await freePort());
    await broker.start();
    writeFileSync(key, Buffer.alloc(32, 4).toString('base64') + '\n', { mode: 0o600 });
  });
  afterAll(async () => broker.stop());

  /** Each test its own group: the persistent sessions of an earlier test's consumers would take a share. */
  function cloudConfig(name: string): string {
    const p = join(dir, `${name}.yaml`);
    writeFileSync(p, `broker:\n  url: ${broker.url}\ngroup: ${name}\n${backend.yaml(name)}`);
    return p;
  }

  function agentConfig(store: string): string {
    const p = join(dir, `agent-${backendName}-${store}.yaml`);
    writeFileSync(p, `tenant: acme\nstore: ${store}\nagent: ap-1\ntimezone: Europe/Berlin\nkeyFile: acme.key\nstatus:\n  port: 0\noutbox:\n  path: outbox-${backendName}-${store}.db\nbroker:\n  url: ${broker.url}\n`);
    return p;
  }

  it('gives the same figures with two consumers, a restart, duplicates and garbage as one clean run', async () => {
    const cfgPath = cloudConfig(`hq${backendName}`);
    const cfg = loadCloudConfig(cfgPath);
    const log = createLogger('test', 'silent');
    const storeA = await backend.open(`hq${backendName}`);
    const storeB = await backend.open(`hq${backendName}`);
    const a = new Consumer(cfg, storeA, log, `consumer-a-${backendName}`);
    let b = new Consumer(cfg, storeB, log, `consumer-b-${backendName}`);
    await a.start();
    await b.start();
    const tap = await collect(broker.url, 'omniloop/v1/#');
    const tapFrom = tap.messages.length;
    const kindOf = (m: { topic: string }) => m.topic.split('/')[5];

    const stores = ['berlin-1', 'paris-1', 'rome-1'];
    let expectedBatches = 0;
    let expectedSightings = 0;
    let bEarlier = 0;
    for (const [i, s] of stores.entries()) {
      const capture = join(dir, `${s}.pcapng`);
      generateCapture({ out: capture, frames: 15_000, devices: 1_500, kind: 'mixed', seed: 20 + i, populationSeed: 3 });
      if (i === 1) {
        await b.stop(); // consumer B goes away mid-stream...
        bEarlier += b.counts.stored;
      }
      const r = await runCliAsync(['agent', 'replay', capture, '--config', agentConfig(s), '--json']);
      expect(r.code, r.stderr).toBe(0);
      const sum = JSON.parse(r.stdout);
      expectedBatches += sum.batches;
      expectedSightings += sum.sightings;
      if (i === 1) {
        b = new Consumer(cfg, storeB, log, `consumer-b-${backendName}`); // ...and comes back with its session
        await b.start();
      }
    }
    const tapped = async (kind: string, n: number) => {
      for (let i = 0; i < 100 && tap.messages.slice(tapFrom).filter((m) => kindOf(m) === kind).length < n; i++) await new Promise((r) => setTimeout(r, 50));
    };
    await tapped('sightings', expectedBatches);

    // A till in each store identifies some of the devices seen there: the same 40 people shop in every
    // store, so profiles span stores; one store tablet is used by six people (a shared device).
    const pub = mqtt.connect(broker.url);
    await new Promise((r) => pub.once('connect', r));
    const linkBatches: { topic: string; payload: string }[] = [];
    for (const [i, s] of stores.entries()) {
      const seen = [...new Set(tap.messages.filter((m) => m.topic.includes(`/${s}/`) && kindOf(m) === 'sightings').flatMap((m) => (JSON.parse(m.payload).sightings as { cid: string }[]).map((x) => x.cid)))];
      expect(seen.length).toBeGreaterThan(60);
      const links = seen.slice(0, 50).map((cid, j) => ({ ts: T + j * 1000, cid, hem: hashEmail(`person-${(j + i * 7) % 40}@example.com`), consent: { marketing: j % 3 !== 0 } }));
      for (let p = 0; p < 6; p++) links.push({ ts: T + 90_000 + p, cid: seen[55]!, hem: hashEmail(`tablet-user-${p}@example.com`), consent: { marketing: true } });
      for (const [n, chunk] of [links.slice(0, 30), links.slice(30)].entries()) {
        const body = { schema: 'omniloop.links/1', tenant: 'acme', store: s, agent: 'till-1', batchId: `till-1:t:${n + 1}`, seq: n + 1, epoch: '2026-11-23', links: chunk };
        linkBatches.push({ topic: `omniloop/v1/acme/${s}/till-1/links`, payload: JSON.stringify(body) });
      }
    }
    for (const m of linkBatches) await pub.publishAsync(m.topic, m.payload, { qos: 1 });
    expectedBatches += linkBatches.length;
    await tapped('links', linkBatches.length);
    const clean = tap.messages.slice(tapFrom); // everything once, before the duplicates and the garbage
    // Duplicates (the same batches again) and garbage, straight onto the topics.
    for (const m of [...clean.filter((x) => kindOf(x) === 'sightings').slice(0, 25), ...linkBatches]) await pub.publishAsync(m.topic, m.payload, { qos: 1 });
    await pub.publishAsync('omniloop/v1/acme/berlin-1/ap-1/sightings', '{"not":"a batch"}', { qos: 1 });
    await pub.publishAsync('omniloop/v1/acme/berlin-1/ap-1/sightings', 'garbage', { qos: 1 });
    await pub.endAsync();

    for (let i = 0; i < 100 && (await storeA.stats()).batches < expectedBatches; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    await a.stop();
    await b.stop();
    await tap.close();
    const s = await reportStats(storeA);
    expect(s).toMatchObject({ batches: expectedBatches, sightings: expectedSightings, stores: 3, deadLetters: 2 });
    expect(s.duplicates).toBeGreaterThanOrEqual(25 + linkBatches.length);
    expect(a.counts.stored + bEarlier + b.counts.stored).toBe(expectedBatches);
    expect(a.counts.stored).toBeGreaterThan(0);
    expect(bEarlier + b.counts.stored).toBeGreaterThan(0); // the subscription really was shared
    // The same people were in every store: Consumer-IDs repeat across stores on the same day.
    expect(s.consumerIds).toBeLessThan(expectedSightings);

    // One clean run: every message once, in order, into a fresh database, by one consumer. The graph
    // and every figure must be the same.
    const single = await backend.open(`clean${backendName}`);
    for (const m of clean) await ingestMessage(single, m.topic, Buffer.from(m.payload));
    const both = await Promise.all([storeA, single].map((st) => figuresOf(st, '2026-11-23')));
    expect(both[0]!.profiles.length).toBeGreaterThanOrEqual(5);
    expect(both[0]!.quarantined.length).toBeGreaterThanOrEqual(1); // the tablets (one device may be in several stores)
    expect(both[0]!.flows.acrossDays).toEqual([]); // one day: nobody can be followed to another day
    expect(both[0]!.flows.sameDay.length).toBeGreaterThan(0);
    expect(both[0]).toEqual(both[1]);
    expect({ ...(await reportStats(single)), duplicates: 0 }).toEqual({ ...s, duplicates: 0, deadLetters: 0 });
    await single.close();
    await storeA.close();
    await storeB.close();

    const stats = JSON.parse(runCli(['cloud', 'stats', '--config', cfgPath, '--json']).stdout);
    expect(stats).toMatchObject({ batches: expectedBatches, sightings: expectedSightings, deadLetters: 2 });
    expect(stats.agentList.map((x: { store: string; state: string }) => `${x.store}:${x.state}`)).toEqual(['berlin-1:offline', 'paris-1:offline', 'rome-1:offline']);
    expect(runCli(['cloud', 'dead-letters', '--config', cfgPath]).stdout).toMatch(/not JSON/);
    const foot = JSON.parse(runCli(['cloud', 'footfall', '--config', cfgPath, '--tenant', 'acme', '--day', '2026-11-23', '--json']).stdout);
    expect(foot.stores.map((f: { store: string }) => f.store)).toEqual(stores);
    for (const f of foot.stores) {
      expect(f.uniqueVisitors).toBeGreaterThanOrEqual(5);
      expect(f.crossStore).toBeGreaterThan(0); // one customer population, three stores
    }
    expect(runCli(['cloud', 'footfall', '--config', cfgPath, '--tenant', 'acme', '--day', '23.11.2026']).code).toBe(2);
  });

  it('stores, and only then acknowledges, over MQTT 3.1.1 as well', async () => {
    const p = join(dir, `v311${backendName}.yaml`);
    writeFileSync(p, `broker:\n  url: ${broker.url}\n  protocolVersion: 4\ngroup: v311${backendName}\n${backend.yaml(`v311${backendName}`)}`);
    const store = await backend.open(`v311${backendName}`);
    const c = new Consumer(loadCloudConfig(p), store, createLogger('test', 'silent'), `v311-${backendName}`);
    await c.start();
    const pub = mqtt.connect(broker.url);
    await new Promise((r) => pub.once('connect', r));
    await pub.publishAsync(TOPIC, JSON.stringify(batch(1)), { qos: 1 });
    await pub.publishAsync('omniloop/v1/acme/berlin-1/ap-1/metrics', '{"published":1}', { qos: 0 });
    for (let i = 0; i < 100 && (c.counts.stored < 1 || c.counts.agent < 1); i++) await new Promise((r) => setTimeout(r, 20));
    expect(c.counts.stored).toBe(1);
    expect(c.counts.agent).toBeGreaterThanOrEqual(1); // the metrics, and earlier tests' retained statuses
    expect((await store.stats()).sightings).toBe(1);
    await pub.endAsync();
    await c.stop();
    await store.close();
  });

  it('loses nothing when a consumer process is killed with SIGKILL and comes back', async () => {
    const cfgPath = cloudConfig(`killed${backendName}`);
    const start = (instance: string) => {
      const child = spawn(process.execPath, [CLI, 'cloud', 'run', '--config', cfgPath, '--instance', instance], { stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      child.stderr.on('data', (d) => (log += d));
      return { child, log: () => log };
    };
    const waitFor = async (p: { log: () => string }) => {
      for (let i = 0; i < 100 && !/consuming/.test(p.log()); i++) await new Promise((r) => setTimeout(r, 50));
    };
    const a = start('a');
    let b = start('b');
    await waitFor(a);
    await waitFor(b);
    let expected = 0;
    for (const [i, s] of ['lyon-1', 'oslo-1'].entries()) {
      const capture = join(dir, `${s}.pcapng`);
      generateCapture({ out: capture, frames: 8_000, devices: 800, kind: 'mixed', seed: 40 + i });
      const r = await runCliAsync(['agent', 'replay', capture, '--config', agentConfig(`${s}`), '--json']);
      expect(r.code, r.stderr).toBe(0);
      expected += JSON.parse(r.stdout).batches;
      if (i === 0) {
        b.child.kill('SIGKILL'); // mid-stream, whatever it was doing
        await new Promise((r2) => b.child.once('exit', r2));
      }
    }
    b = start('b'); // the same instance: its queued messages are waiting for it
    await waitFor(b);
    const store = await backend.open(`killed${backendName}`);
    for (let i = 0; i < 100 && (await store.stats()).batches < expected; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await store.stats()).batches).toBe(expected);
    await store.close();
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    await Promise.all([a, b].map((p) => new Promise((r) => (p.child.exitCode !== null ? r(null) : p.child.once('exit', r)))));
  }, 120_000);
});
