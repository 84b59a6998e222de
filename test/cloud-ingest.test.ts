/**
 * HQ's ingest: validation and dead letters, idempotency by batch id, agent status — and, against a real
 * Mosquitto, three stores' agents consumed by two consumers sharing the subscription, one of them
 * restarted midway, with duplicates and garbage injected: the same figures as one clean consumer.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCloudConfig } from '../cloud/config/cloud-config.js';
import { Consumer } from '../cloud/ingest/consumer.js';
import { ingestMessage } from '../cloud/ingest/ingest.js';
import { SqliteCloudStore } from '../cloud/store/sqlite-store.js';
import { createLogger } from '../shared/log.js';
import { redact } from '../shared/wire/redact.js';
import { generateCapture } from '../scripts/gen-capture.js';
import { runCli, runCliAsync } from './helpers/cli.js';
import { Mosquitto, collect, freePort } from './helpers/mosquitto.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-cloud-'));
const T = Date.parse('2026-11-23T10:00:00Z');
const CID = 'a'.repeat(32);

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

describe('ingest', () => {
  it('stores a valid batch once; a redelivery is a duplicate that changes nothing', () => {
    const store = new SqliteCloudStore(join(dir, 'unit.db'));
    expect(ingestMessage(store, TOPIC, buf(batch(1)))).toBe('stored');
    expect(ingestMessage(store, TOPIC, buf(batch(1)))).toBe('duplicate');
    expect(ingestMessage(store, TOPIC, buf(batch(2)))).toBe('stored');
    expect(store.stats()).toMatchObject({ batches: 2, sightings: 2, duplicates: 1, deadLetters: 0, consumerIds: 1, stores: 1 });
    store.close();
  });

  it.each([
    ['not JSON', '{"schema":', /not JSON/],
    ['a wrong schema version', batch(3, { schema: 'omniloop.sightings/2' }), /schema: schema/],
    ['a raw address where a Consumer-ID belongs', batch(3, { sightings: [{ ...batch(3).sightings[0], cid: 'f0:18:98:01:02:03' }] }), /sightings\.0\.cid/],
    ['a batch id of another agent', batch(3, { batchId: 'ap-9:abcd1234:3' }), /batchId/],
    ['a window that ends before it starts', batch(3, { window: { start: T, end: T - 1, seconds: 60 } }), /window/],
    ['an unknown field', batch(3, { extra: 1 }), /Unrecognized key|unrecognized/i],
    ['too many bytes', 'x'.repeat(1024 * 1024 + 1), /exceeds/],
  ])('parks %s as a dead letter with the reason', (_what, payload, reason) => {
    const store = new SqliteCloudStore(join(dir, `dead-${Math.random()}.db`));
    expect(ingestMessage(store, TOPIC, buf(payload))).toBe('dead');
    const [d] = store.deadLetters(1);
    expect(d!.reason).toMatch(reason);
    expect(store.stats().batches).toBe(0);
    store.close();
  });

  it('checks that the topic names the sender the payload names', () => {
    const store = new SqliteCloudStore(join(dir, 'topic.db'));
    expect(ingestMessage(store, 'omniloop/v1/acme/paris-1/ap-1/sightings', buf(batch(1)))).toBe('dead');
    expect(ingestMessage(store, 'omniloop/v1/acme/berlin-1/sightings', buf(batch(1)))).toBe('dead');
    expect(ingestMessage(store, 'other/thing', buf(batch(1)))).toBe('dead');
    expect(store.deadLetters(5).map((d) => d.reason)).toEqual([
      'not an omniloop/v1/<tenant>/<store>/<agent>/<kind> topic',
      'not an omniloop/v1/<tenant>/<store>/<agent>/<kind> topic',
      "topic omniloop/v1/acme/paris-1/ap-1/sightings does not match the payload's acme/berlin-1/ap-1",
    ]);
    store.close();
  });

  it('never keeps a raw identifier from a dead letter', () => {
    const store = new SqliteCloudStore(join(dir, 'redact.db'));
    ingestMessage(store, TOPIC, buf('{"mac":"F0:18:98:01:02:03","alt":"f018.9801.0203","email":"jane.doe@example.com","phone":"+49 30 1234567"'));
    const [d] = store.deadLetters(1);
    expect(d!.payload).toBe('{"mac":"<mac>","alt":"<mac>","email":"<email>","phone":"<digits>"');
    expect(redact('cid aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa stays')).toBe('cid aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa stays');
    store.close();
  });

  it('keeps agents online/offline from status, refreshed by metrics', () => {
    const store = new SqliteCloudStore(join(dir, 'agents.db'));
    const status = 'omniloop/v1/acme/berlin-1/ap-1/status';
    expect(ingestMessage(store, status, buf({ state: 'online', outbox: { rows: 3 } }), 1000)).toBe('agent');
    ingestMessage(store, 'omniloop/v1/acme/berlin-1/ap-1/metrics', buf({ published: 7 }), 2000);
    expect(store.agents()).toEqual([{ tenant: 'acme', store: 'berlin-1', agent: 'ap-1', state: 'online', lastSeenMs: 2000, status: { published: 7 } }]);
    ingestMessage(store, status, buf({ state: 'offline' }), 3000);
    expect(store.agents()[0]!.state).toBe('offline');
    expect(ingestMessage(store, status, Buffer.alloc(0))).toBe('ignored');
    expect(ingestMessage(store, status, buf('[1,2]'))).toBe('dead');
    store.close();
  });
});

describe('two consumers against a real broker', () => {
  let broker: Mosquitto;
  const key = join(dir, 'acme.key');

  beforeAll(async () => {
    broker = new Mosquitto(await freePort());
    await broker.start();
    writeFileSync(key, Buffer.alloc(32, 4).toString('base64') + '\n', { mode: 0o600 });
  });
  afterAll(async () => broker.stop());

  function cloudConfig(name: string): string {
    const p = join(dir, `${name}.yaml`);
    writeFileSync(p, `broker:\n  url: ${broker.url}\ngroup: hq\ndatabase:\n  sqlite: ${name}.db\n`);
    return p;
  }

  function agentConfig(store: string): string {
    const p = join(dir, `agent-${store}.yaml`);
    writeFileSync(p, `tenant: acme\nstore: ${store}\nagent: ap-1\ntimezone: Europe/Berlin\nkeyFile: acme.key\nstatus:\n  port: 0\noutbox:\n  path: outbox-${store}.db\nbroker:\n  url: ${broker.url}\n`);
    return p;
  }

  it('gives the same figures with two consumers, a restart, duplicates and garbage as one clean run', async () => {
    const cfgPath = cloudConfig('hq');
    const cfg = loadCloudConfig(cfgPath);
    const log = createLogger('test', 'silent');
    const storeA = new SqliteCloudStore(cfg.database.sqlite);
    const storeB = new SqliteCloudStore(cfg.database.sqlite);
    const a = new Consumer(cfg, storeA, log, 'consumer-a');
    let b = new Consumer(cfg, storeB, log, 'consumer-b');
    await a.start();
    await b.start();
    const tap = await collect(broker.url, 'omniloop/v1/+/+/+/sightings');

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
        b = new Consumer(cfg, storeB, log, 'consumer-b'); // ...and comes back with its session
        await b.start();
      }
    }
    // Duplicates (the same batches again) and garbage, straight onto the topics.
    const pub = mqtt.connect(broker.url);
    await new Promise((r) => pub.once('connect', r));
    for (const m of tap.messages.slice(0, 25)) await pub.publishAsync(m.topic, m.payload, { qos: 1 });
    await pub.publishAsync('omniloop/v1/acme/berlin-1/ap-1/sightings', '{"not":"a batch"}', { qos: 1 });
    await pub.publishAsync('omniloop/v1/acme/berlin-1/ap-1/sightings', 'garbage', { qos: 1 });
    await pub.endAsync();

    for (let i = 0; i < 100 && storeA.stats().batches < expectedBatches; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    await a.stop();
    await b.stop();
    await tap.close();
    const s = storeA.stats();
    expect(s).toMatchObject({ batches: expectedBatches, sightings: expectedSightings, stores: 3, deadLetters: 2 });
    expect(s.duplicates).toBeGreaterThanOrEqual(25);
    expect(a.counts.stored + bEarlier + b.counts.stored).toBe(expectedBatches);
    expect(a.counts.stored).toBeGreaterThan(0);
    expect(bEarlier + b.counts.stored).toBeGreaterThan(0); // the subscription really was shared
    // The same people were in every store: Consumer-IDs repeat across stores on the same day.
    expect(s.consumerIds).toBeLessThan(expectedSightings);
    storeA.close();
    storeB.close();

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
});
