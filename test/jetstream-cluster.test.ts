/**
 * HQ on a chain's JetStream cluster (issue 15), all real: three nats-server nodes on 127.0.0.1 (each its
 * own store, routes between them, an MQTT listener each), agents with their outbox publishing QoS 1 to
 * those listeners as they do, and two `omniloop cloud run` processes sharing one durable pull consumer
 * into PostgreSQL. Mid-ingest the node leading the stream is killed (SIGKILL); then one consumer is
 * killed and the other stopped while the agents go on publishing; then the node and both consumers come
 * back. Every batch must be stored exactly once, and the stream must end empty (all acknowledged).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox } from '../agents/outbox/outbox.js';
import { Publisher } from '../agents/publish/publisher.js';
import { INGEST_FILTER, MQTT_STREAM, subjectToTopic } from '../cloud/ingest/nats-subject.js';
import { PostgresCloudStore } from '../cloud/store/postgres-store.js';
import { DAY, sightingsBody } from '../scripts/lib/agent-batches.js';
import { NatsCluster } from '../scripts/lib/nats-cluster.js';
import { createLogger } from '../shared/log.js';
import { PG } from './helpers/backends.js';
import { CLI } from './helpers/cli.js';

const log = createLogger('test', 'silent');
const dir = mkdtempSync(join(tmpdir(), 'omniloop-js-cluster-'));
const SCHEMA = `t_js_cluster_${process.pid}`;
const AGENTS = 3;
const PER_AGENT = 240; // batches of 50 sightings: 720 batches, 36,000 sightings
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** `omniloop cloud run` as HQ runs it; its log (stderr) kept for the counts it prints when stopped. */
class HqProcess {
  readonly proc: ChildProcess;
  stderr = '';
  constructor(cfgPath: string, instance: string) {
    this.proc = spawn(process.execPath, [CLI, 'cloud', 'run', '--config', cfgPath, '--instance', instance], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc.stderr!.on('data', (d) => (this.stderr += d));
  }
  async ready(): Promise<void> {
    await until('HQ consuming', () => this.stderr.includes('"msg":"consuming"') || this.proc.exitCode !== null);
    if (this.proc.exitCode !== null) throw new Error(`cloud run exited ${this.proc.exitCode}: ${this.stderr}`);
  }
  async stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      this.proc.once('exit', () => resolve());
      this.proc.kill(signal);
    });
  }
  /** What it stored, from its "stopped" line (a clean stop only). */
  stored(): number {
    const line = this.stderr.split('\n').find((l) => l.includes('"msg":"stopped"'));
    return line ? (JSON.parse(line) as { stored: number }).stored : -1;
  }
}

describe('subjects of the MQTT listener', () => {
  it('map back to the topics agents published on', () => {
    expect(subjectToTopic('$MQTT.msgs.omniloop.v1.acme.berlin-1.ap-1.sightings')).toBe('omniloop/v1/acme/berlin-1/ap-1/sightings');
    // The bridge writes an empty level as "./" (and a leading one as "/."): they come back as such, and validation refuses them.
    expect(subjectToTopic('$MQTT.msgs.omniloop.v1./.berlin-1.ap-1.sightings')).toBe('omniloop/v1//berlin-1/ap-1/sightings');
    expect(subjectToTopic('$MQTT.msgs./.omniloop.v1')).toBe('/omniloop/v1');
    expect(INGEST_FILTER).toBe('$MQTT.msgs.omniloop.v1.*.*.*.*');
  });
});

describe('HQ on a 3-node JetStream cluster', () => {
  const cluster = new NatsCluster(3);
  let nc: NatsConnection;
  let db: PostgresCloudStore;
  let cfgPath: string;
  /** Every `cloud run` started, killed at the end whatever happened. */
  const all: HqProcess[] = [];

  beforeAll(async () => {
    await cluster.start();
    nc = await connect({ servers: cluster.servers, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    db = await PostgresCloudStore.open(PG, SCHEMA);
    cfgPath = join(dir, 'cloud.yaml');
    // batch 32: several groups per second at this rate, so kills land between and inside transactions.
    writeFileSync(
      cfgPath,
      `broker: { url: ${cluster.mqttUrl(0)}, protocolVersion: 4 }\nstream:\n  kind: jetstream\n  servers: [${cluster.servers.join(', ')}]\n  batch: 32\n  ackWaitSeconds: 5\n` +
        `database:\n  postgres: { url: "${PG}", schema: ${SCHEMA} }\nactivation: { intervalSeconds: 0 }\n`,
    );
  }, 60_000);

  afterAll(async () => {
    for (const h of all) await h.stop('SIGKILL');
    await nc?.close();
    await db?.dropSchema();
    await db?.close();
    await cluster.close();
  });

  it('stores every batch exactly once through a node crash, a consumer crash and a time with no consumer at all', async () => {
    // HQ first: its durable must exist before agents publish (the stream keeps only what a consumer wants).
    const hq = (instance: string) => (all.push(new HqProcess(cfgPath, instance)), all.at(-1)!);
    const gen1 = [hq('a'), hq('b')];
    await Promise.all(gen1.map((h) => h.ready()));

    // One agent per node, each with its outbox, publishing as the agent does (MQTT 3.1.1: nats-server's listener).
    const agents = Array.from({ length: AGENTS }, (_, i) => {
      const outbox = new Outbox(join(dir, `outbox-${i}.db`));
      const pub = new Publisher(outbox, { broker: { url: cluster.mqttUrl(i), protocolVersion: 4 }, identity: { tenant: 'acme', store: `s${i + 1}`, agent: 'ap-1' }, backoffMinMs: 200, backoffMaxMs: 1000 }, log);
      pub.start();
      return { outbox, pub };
    });
    let appended = 0;
    const producer = setInterval(() => {
      if (appended >= PER_AGENT) return;
      for (const a of agents) a.outbox.append('sightings', DAY, [sightingsBody(appended), sightingsBody(appended + 1)]);
      for (const a of agents) a.pub.pump();
      appended += 2;
    }, 50);
    const total = AGENTS * PER_AGENT;
    const stored = async () => (await db.stats()).batches;
    const jsm = await nc.jetstreamManager();
    try {
      // 1. A node crashes mid-ingest: the one leading the stream, whose agent loses its broker until it is back.
      await until('ingest under way', async () => (await stored()) >= 100);
      const leader = (await jsm.streams.info(MQTT_STREAM)).cluster!.leader!;
      const victim = cluster.nodes.findIndex((n) => n.name === leader);
      await cluster.stop(victim, 'SIGKILL');
      const atKill = await stored();
      await until('ingest going on without that node', async () => (await stored()) >= atKill + 150, 40_000);

      // 2. One consumer crashes (mid-transaction, most likely), the other stops: nobody consumes.
      await gen1[0]!.stop('SIGKILL');
      await gen1[1]!.stop('SIGTERM');
      const whileDown = await stored();
      await sleep(3000);
      expect(await stored()).toBe(whileDown);
      // What the agents published meanwhile waits in the stream for the durable.
      const waiting = await jsm.consumers.info(MQTT_STREAM, 'omniloop-hq');
      expect(waiting.num_pending + waiting.num_ack_pending).toBeGreaterThan(0);

      // 3. The node and the consumers come back.
      await cluster.restart(victim);
      const gen2 = [hq('a'), hq('b')];
      await Promise.all(gen2.map((h) => h.ready()));
      await until('every agent done publishing', async () => appended >= PER_AGENT && agents.every((a) => a.outbox.stats().rows === 0), 60_000);
      await until('every batch stored', async () => (await stored()) >= total, 30_000);
      await sleep(500); // let stragglers (redeliveries) come in before the counts
      await Promise.all(gen2.map((h) => h.stop('SIGTERM')));

      const s = await db.stats();
      expect(s.batches).toBe(total);
      expect(s.sightings).toBe(total * 50);
      expect(s.deadLetters).toBe(0);
      expect(s.conflicts).toBe(0);
      // The two consumers shared the work after the restart.
      for (const h of gen2) expect(h.stored(), h.stderr.slice(-2000)).toBeGreaterThan(0);
      // Everything acknowledged, and only after it was stored: nothing pending, the stream (interest) empty.
      await until('the stream to empty', async () => (await jsm.streams.info(MQTT_STREAM)).state.messages === 0, 10_000);
      const done = await jsm.consumers.info(MQTT_STREAM, 'omniloop-hq');
      expect(done.num_pending).toBe(0);
      expect(done.num_ack_pending).toBe(0);
      process.stderr.write(`jetstream cluster: ${total} batches stored once, ${s.duplicates} redeliveries dropped as duplicates; after the restart ${gen2.map((h) => h.stored()).join(' + ')} stored\n`);
    } finally {
      clearInterval(producer);
      for (const a of agents) await a.pub.stop(500);
      for (const a of agents) a.outbox.close();
      for (const h of all) await h.stop('SIGKILL');
    }
  }, 80_000);
});
