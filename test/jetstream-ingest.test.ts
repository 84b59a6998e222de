/**
 * HQ's JetStream consumer against a real nats-server (one node, its MQTT listener) and the real
 * PostgreSQL: a database outage (the connection cut mid-ingest) acknowledges nothing, and everything
 * comes again and is stored once; a backlog is stored many messages per transaction; garbage is a dead
 * letter, acknowledged, not redelivered for ever. And `omniloop cloud run` says in one line what is
 * wrong with a `stream:` block or an unreachable cluster.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudConfigSchema, type JetStreamSettings } from '../cloud/config/cloud-config.js';
import { JetStreamConsumer } from '../cloud/ingest/jetstream-consumer.js';
import { MQTT_STREAM } from '../cloud/ingest/nats-subject.js';
import { PostgresCloudStore } from '../cloud/store/postgres-store.js';
import { sightingsMessage } from '../scripts/lib/agent-batches.js';
import { NatsCluster, freePort } from '../scripts/lib/nats-cluster.js';
import { createLogger } from '../shared/log.js';
import { PG } from './helpers/backends.js';
import { runCliAsync } from './helpers/cli.js';

const log = createLogger('test', 'silent');
const dir = mkdtempSync(join(tmpdir(), 'omniloop-js-ingest-'));
const SCHEMA = `t_js_ingest_${process.pid}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** PostgreSQL behind a TCP hop the test can cut: every connection dropped, new ones refused, until restored. */
class CuttableLink {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private open = true;
  port = 0;
  async start(target: URL): Promise<void> {
    this.port = await freePort();
    this.server = createServer((client) => {
      if (!this.open) return client.destroy();
      const db = tcpConnect(Number(target.port || 5432), target.hostname);
      for (const s of [client, db]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(db).pipe(client);
      client.on('close', () => db.destroy());
      db.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', () => r()));
  }
  cut(): void {
    this.open = false;
    for (const s of this.sockets) s.destroy();
  }
  restore(): void {
    this.open = true;
  }
  async close(): Promise<void> {
    this.cut();
    await new Promise((r) => this.server?.close(r));
  }
}

describe('the JetStream consumer on one nats-server and PostgreSQL', () => {
  const nats = new NatsCluster(1);
  const link = new CuttableLink();
  let settings: JetStreamSettings;
  let db: PostgresCloudStore;
  let agent: MqttClient;
  let nc: NatsConnection;
  let seq = 0;
  const id = { tenant: 'acme', store: 'berlin-1', agent: 'ap-1' };
  const publish = (n: number) => Promise.all(Array.from({ length: n }, () => agent.publishAsync('omniloop/v1/acme/berlin-1/ap-1/sightings', sightingsMessage(id, 'i1', ++seq), { qos: 1 })));

  beforeAll(async () => {
    await nats.start();
    await link.start(new URL(PG));
    const viaLink = new URL(PG);
    viaLink.port = String(link.port);
    settings = cloudConfigSchema.parse({ broker: { url: nats.mqttUrl(0) }, stream: { kind: 'jetstream', servers: nats.servers, replicas: 1 } }).stream as JetStreamSettings;
    db = await PostgresCloudStore.open(viaLink.toString(), SCHEMA);
    nc = await connect({ servers: nats.servers });
  });

  afterAll(async () => {
    agent?.end(true);
    await nc?.close();
    link.restore();
    await db?.dropSchema();
    await db?.close();
    await link.close();
    await nats.close();
  });

  it('acknowledges nothing while the database is down, then stores everything once', async () => {
    const hq = new JetStreamConsumer(settings, db, log);
    await hq.start();
    agent = mqtt.connect(nats.mqttUrl(0), { protocolVersion: 4, clientId: 'omniloop-acme-berlin-1-ap-1' });
    await new Promise((r) => agent.once('connect', r));
    const stored = async () => (await db.stats().catch(() => ({ batches: -1 }))).batches;
    await publish(100);
    await until('the first batches stored', async () => (await stored()) >= 50);
    link.cut(); // PostgreSQL gone: connections reset, new ones refused
    await publish(100);
    await sleep(2500);
    expect(hq.failures).toBeGreaterThan(0);
    link.restore();
    await publish(100);
    // Garbage on an agent's topic: a dead letter, acknowledged like any message. HQ's own downlink (a
    // store's segments, the tenant's opt-out list) is no agent's message: no dead letter.
    await agent.publishAsync('omniloop/v1/acme/berlin-1/ap-1/sightings', Buffer.from('{"not":"a batch"}'), { qos: 1 });
    await agent.publishAsync('omniloop/v1/acme/berlin-1/control/segments', Buffer.from('{}'), { qos: 1, retain: true });
    await agent.publishAsync('omniloop/v1/acme/control/optout', Buffer.from('{}'), { qos: 1, retain: true });
    await until('every batch stored after the outage', async () => (await stored()) >= 300, 30_000);
    const jsm = await nc.jetstreamManager();
    await until('the stream to empty', async () => (await jsm.streams.info(MQTT_STREAM)).state.messages === 0, 15_000);
    await hq.stop();
    expect(await db.stats()).toMatchObject({ batches: 300, sightings: 300 * 50, deadLetters: 1, conflicts: 0 });
    expect(hq.counts.stored).toBe(300);
  });

  it('stores a backlog many messages per transaction, each acknowledged after its commit', async () => {
    // HQ away: the agent's batches wait in the stream for the durable.
    await publish(600);
    const jsm = await nc.jetstreamManager();
    expect((await jsm.consumers.info(MQTT_STREAM, settings.durable)).num_pending).toBe(600);
    const hq = new JetStreamConsumer(settings, db, log);
    await hq.start();
    await until('the backlog stored', async () => (await db.stats()).batches >= 900, 30_000);
    await until('everything acknowledged', async () => (await jsm.consumers.info(MQTT_STREAM, settings.durable)).num_ack_pending === 0, 10_000);
    await hq.stop();
    expect(hq.counts.stored).toBe(600);
    // Group commit: far fewer transactions than messages.
    expect(hq.grouped / hq.groups).toBeGreaterThan(20);
    expect((await db.stats()).sightings).toBe(900 * 50);
  });
});

describe('`omniloop cloud run` with a stream: block', () => {
  const write = (name: string, stream: string) => {
    const path = join(dir, name);
    writeFileSync(path, `broker: { url: mqtt://127.0.0.1:1, protocolVersion: 4 }\nstream: ${stream}\ndatabase: { sqlite: ${join(dir, `${name}.db`)} }\nactivation: { intervalSeconds: 0 }\n`);
    return path;
  };

  it('refuses bad settings in one line (exit 2) and an unreachable cluster in one line (exit 1)', async () => {
    for (const [stream, says] of [
      ['{ kind: jetstream, servers: [] }', /stream\.servers.*at least one NATS server/],
      ['{ kind: jetstream, servers: [http://x:4222] }', /stream\.servers\.0.*nats:\/\//],
      ['{ kind: kafka }', /stream/],
      ['{ kind: jetstream, servers: [nats://127.0.0.1:4222], batch: 0 }', /stream\.batch/],
    ] as const) {
      const r = await runCliAsync(['cloud', 'run', '--config', write('bad.yaml', stream)]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(says);
    }
    const port = await freePort();
    const r = await runCliAsync(['cloud', 'run', '--config', write('down.yaml', `{ kind: jetstream, servers: [nats://127.0.0.1:${port}] }`)]);
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('{')); // pino's JSON log lines aside
    expect(lines).toEqual([expect.stringMatching(new RegExp(`cannot reach NATS at nats://127\\.0\\.0\\.1:${port}`))]);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
