/**
 * Cloud ingest from JetStream (issue 15), into PostgreSQL, with the agents' real batches (~50 sightings):
 * a 3-node nats-server cluster on 127.0.0.1 (R3 stream, MQTT listeners), a backlog published over MQTT,
 * then 1, 2 and 4 `omniloop cloud run` processes sharing the durable (group commit) drain it. Beside
 * it, the baseline: the MQTT path (Mosquitto, shared subscription), one message per transaction. The
 * rate is taken between 10 % and 90 % of the backlog stored (start-up and the tail left out).
 *
 * Run alone: node dist/scripts/bench/jetstream-worker.js [POSTGRES_URL] [--batches N] [--consumers 1,2,4]
 * Prints one JSON line per run on stdout; progress on stderr.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { connect } from 'nats';
import pg from 'pg';
import { cloudConfigSchema, type JetStreamSettings } from '../../cloud/config/cloud-config.js';
import { ensureDurable } from '../../cloud/ingest/jetstream-setup.js';
import { MQTT_STREAM } from '../../cloud/ingest/nats-subject.js';
import { PostgresCloudStore } from '../../cloud/store/postgres-store.js';
import { createLogger } from '../../shared/log.js';
import { sightingsMessage } from '../lib/agent-batches.js';
import { NatsCluster, freePort } from '../lib/nats-cluster.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLI = join(HERE, '..', '..', 'app', 'cli', 'main.js');
const PER_BATCH = 50;

export interface IngestRun {
  path: 'mqtt' | 'jetstream';
  consumers: number;
  batches: number;
  sightingsPerSec: number;
  perConsumer: number[];
  /** Messages per transaction reached (JetStream). */
  perTransaction?: number;
}

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const PG_URL = args[0] && !args[0].startsWith('--') ? args[0] : (process.env.OMNILOOP_BENCH_PG ?? 'postgres://root@127.0.0.1:5432/test');
const BATCHES = Number(flag('--batches') ?? 5000);
const CONSUMERS = (flag('--consumers') ?? '1,2,4').split(',').map(Number);
const say = (s: string) => process.stderr.write(`jetstream bench: ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `omniloop cloud run` as HQ runs it; "stopped" gives its counts. */
class Hq {
  private readonly proc: ChildProcess;
  private err = '';
  constructor(cfgPath: string, instance: string) {
    this.proc = spawn(process.execPath, [CLI, 'cloud', 'run', '--config', cfgPath, '--instance', instance], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc.stderr!.on('data', (d) => (this.err += d));
  }
  async ready(): Promise<void> {
    for (let i = 0; i < 600 && !this.err.includes('"msg":"consuming"'); i++) {
      if (this.proc.exitCode !== null) throw new Error(`cloud run exited: ${this.err.slice(-500)}`);
      await sleep(50);
    }
  }
  /** Its counts when stopped, and (JetStream) the messages per transaction it reached. */
  async stop(): Promise<{ stored: number; perTransaction?: number }> {
    if (this.proc.exitCode === null) await new Promise((r) => (this.proc.once('exit', r), this.proc.kill('SIGTERM')));
    const line = (msg: string) => this.err.split('\n').find((l) => l.includes(`"msg":"${msg}"`));
    const counts = line('stopped');
    const groups = line('jetstream consumer stopped');
    const g = groups ? (JSON.parse(groups) as { transactions: number; messages: number }) : null;
    return { stored: counts ? (JSON.parse(counts) as { stored: number }).stored : -1, ...(g ? { perTransaction: g.messages / Math.max(1, g.transactions) } : {}) };
  }
}

/** Polls the batch count until `total`; the rate between 10 % and 90 % of it, in sightings/s. */
async function measure(schema: string, total: number): Promise<number> {
  const c = new pg.Client(PG_URL);
  await c.connect();
  let t10 = 0;
  let t90 = 0;
  const deadline = Date.now() + 600_000;
  try {
    for (;;) {
      const n = Number((await c.query(`SELECT count(*) AS n FROM ${schema}.batches`)).rows[0].n);
      const now = performance.now();
      if (!t10 && n >= total * 0.1) t10 = now;
      if (!t90 && n >= total * 0.9) t90 = now;
      if (n >= total) break;
      if (Date.now() > deadline) throw new Error(`only ${n} of ${total} batches stored`);
      await sleep(50);
    }
  } finally {
    await c.end();
  }
  return (0.8 * total * PER_BATCH) / ((t90 - t10) / 1000);
}

/** Publishes `n` batches over MQTT, QoS 1, spread over the given broker URLs (one agent connection each). */
async function publishBacklog(urls: string[], n: number, tag: string): Promise<void> {
  await Promise.all(
    urls.map(async (url, k) => {
      const c = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: `bench-agent-${tag}-${k}` });
      const id = { tenant: 'bench', store: `s${k}`, agent: 'a1' };
      const mine = Array.from({ length: Math.floor(n / urls.length) + (k < n % urls.length ? 1 : 0) }, (_, i) => i + 1);
      for (let i = 0; i < mine.length; i += 256) await Promise.all(mine.slice(i, i + 256).map((seq) => c.publishAsync(`omniloop/v1/bench/s${k}/a1/sightings`, sightingsMessage(id, tag, seq, PER_BATCH), { qos: 1 })));
      await c.endAsync();
    }),
  );
}

async function freshSchema(name: string): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = `bench_${name}_${process.pid}`;
  const s = await PostgresCloudStore.open(PG_URL, schema); // made up front: every consumer finds it ready
  await s.close();
  return {
    schema,
    drop: async () => {
      const d = await PostgresCloudStore.open(PG_URL, schema);
      await d.dropSchema();
      await d.close();
    },
  };
}

async function jetstreamRuns(dir: string): Promise<IngestRun[]> {
  const cluster = new NatsCluster(3);
  await cluster.start();
  const out: IngestRun[] = [];
  const nc = await connect({ servers: cluster.servers });
  try {
    for (const k of CONSUMERS) {
      const { schema, drop } = await freshSchema(`js${k}`);
      const durable = `bench-${k}`;
      const cfgPath = join(dir, `js-${k}.yaml`);
      writeFileSync(cfgPath, `broker: { url: ${cluster.mqttUrl(0)}, protocolVersion: 4 }\nstream: { kind: jetstream, servers: [${cluster.servers.join(', ')}], durable: ${durable} }\ndatabase: { postgres: { url: "${PG_URL}", schema: ${schema} } }\nactivation: { intervalSeconds: 0 }\n`);
      const settings = cloudConfigSchema.parse({ broker: { url: 'mqtt://x' }, stream: { kind: 'jetstream', servers: cluster.servers, durable } }).stream as JetStreamSettings;
      // The durable first (the stream keeps only what a consumer wants), then the backlog, then HQ.
      await ensureDurable(nc, settings, createLogger('bench', 'silent'));
      say(`publishing ${BATCHES} batches to the cluster's MQTT listeners`);
      await publishBacklog([0, 1, 2].map((i) => cluster.mqttUrl(i)), BATCHES, `js${k}`);
      say(`${k} consumer(s) draining`);
      const hqs = Array.from({ length: k }, (_, i) => new Hq(cfgPath, `c${i}`));
      const rate = await measure(schema, BATCHES);
      const stops = await Promise.all(hqs.map((h) => h.stop()));
      const jsm = await nc.jetstreamManager();
      await jsm.consumers.delete(MQTT_STREAM, durable);
      await drop();
      const perTransaction = stops.reduce((a, c) => a + (c.perTransaction ?? 0), 0) / stops.length;
      out.push({ path: 'jetstream', consumers: k, batches: BATCHES, sightingsPerSec: rate, perConsumer: stops.map((c) => c.stored), perTransaction });
      process.stdout.write(JSON.stringify(out.at(-1)) + '\n');
    }
  } finally {
    await nc.close();
    await cluster.close();
  }
  return out;
}

/** The baseline: HQ's MQTT consumer (shared subscription on Mosquitto), one message per transaction. */
async function mqttBaseline(dir: string): Promise<IngestRun | null> {
  if (spawnSync('sh', ['-c', 'command -v mosquitto']).status !== 0) return null;
  const port = await freePort();
  writeFileSync(join(dir, 'm.conf'), `user ${userInfo().username}\nlistener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 1000000\n`);
  const broker = spawn('mosquitto', ['-c', join(dir, 'm.conf')], { stdio: 'ignore' });
  const n = Math.min(BATCHES, 1500);
  const { schema, drop } = await freshSchema('mqtt');
  try {
    await sleep(300);
    const cfgPath = join(dir, 'mqtt.yaml');
    writeFileSync(cfgPath, `broker: { url: mqtt://127.0.0.1:${port} }\ndatabase: { postgres: { url: "${PG_URL}", schema: ${schema} } }\nactivation: { intervalSeconds: 0 }\n`);
    const hq = new Hq(cfgPath, 'base');
    await hq.ready();
    say(`baseline: ${n} batches through Mosquitto to one MQTT consumer`);
    const published = publishBacklog([`mqtt://127.0.0.1:${port}`], n, 'mqtt');
    const rate = await measure(schema, n);
    await published;
    const { stored } = await hq.stop();
    const run: IngestRun = { path: 'mqtt', consumers: 1, batches: n, sightingsPerSec: rate, perConsumer: [stored] };
    process.stdout.write(JSON.stringify(run) + '\n');
    return run;
  } finally {
    broker.kill('SIGKILL');
    await drop();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'omniloop-bench-js-'));
  try {
    await mqttBaseline(dir);
    await jetstreamRuns(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`jetstream-worker: ${err.message}\n`);
  process.exit(1);
});
