/**
 * The parts of an end-to-end test with real components: a Mosquitto of the test's own, HQ's consumer on
 * SQLite with its cloud.yaml (and the `omniloop cloud` CLI against it), and store agents with their
 * store APIs, publishing to that broker.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentConfigSchema } from '../../agents/config/agent-config.js';
import { Pseudonymizer } from '../../agents/pseudonymize/pseudonymizer.js';
import { Agent } from '../../agents/runtime/agent.js';
import { StoreApi } from '../../agents/runtime/store-api.js';
import { loadCloudConfig } from '../../cloud/config/cloud-config.js';
import { Consumer } from '../../cloud/ingest/consumer.js';
import { SqliteCloudStore } from '../../cloud/store/sqlite-store.js';
import { deriveLinkKey } from '../../shared/identity/keys.js';
import { createLogger } from '../../shared/log.js';
import { generateControlKeyPair } from '../../shared/wire/control-signing.js';
import { runCliAsync } from './cli.js';
import { Mosquitto, freePort } from './mosquitto.js';

const log = createLogger('test', 'silent');

export interface Hq {
  broker: Mosquitto;
  cloud: SqliteCloudStore;
  consumer: Consumer;
  cfgPath: string;
  /** HQ's control public key for acme (its private key is acme-control.key beside cloud.yaml): agents list it. */
  controlPublicKey: string;
  /** `omniloop cloud <args> --config <cloud.yaml> --tenant acme`. */
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string; json: () => any }>;
  stop(): Promise<void>;
}

/**
 * Broker and HQ for tenant acme; `tenant` is more YAML of acme's block in cloud.yaml (its control key is
 * always there: agents apply only signed downlink).
 */
export async function startHq(dir: string, group: string, tenant = ''): Promise<Hq> {
  const broker = new Mosquitto(await freePort());
  await broker.start();
  const cfgPath = join(dir, 'cloud.yaml');
  const control = generateControlKeyPair();
  writeFileSync(join(dir, 'acme-control.key'), control.privatePem, { mode: 0o600 });
  writeFileSync(cfgPath, `broker:\n  url: ${broker.url}\ngroup: ${group}\ndatabase:\n  sqlite: cloud.db\ntenants:\n  acme:\n    controlKeyFile: acme-control.key${tenant}\n`);
  const cloud = new SqliteCloudStore(join(dir, 'cloud.db'));
  const consumer = new Consumer(loadCloudConfig(cfgPath), cloud, log, `${group}-consumer`);
  await consumer.start();
  return {
    broker,
    cloud,
    consumer,
    cfgPath,
    controlPublicKey: control.publicKey,
    cli: async (...args) => {
      const r = await runCliAsync(['cloud', ...args, '--config', cfgPath, '--tenant', 'acme']);
      return { ...r, json: () => JSON.parse(r.stdout) };
    },
    stop: async () => {
      await consumer.stop();
      await cloud.close();
      await broker.stop();
    },
  };
}

export interface TestStore {
  agent: Agent;
  api: StoreApi;
  base: string;
}

/** A store's agent (ap-1 of tenant acme, UTC) with its store API on a free port, started. */
export async function startStore(hq: Hq, dir: string, name: string, secret: Uint8Array, token: string, extra: Record<string, unknown> = {}): Promise<TestStore> {
  const cfg = agentConfigSchema.parse({
    tenant: 'acme',
    store: name,
    agent: 'ap-1',
    keyFile: 'unused',
    outbox: { path: join(dir, `outbox-${name}.db`) },
    optoutCacheFile: join(dir, `optout-${name}.json`),
    status: { port: 0 },
    broker: { url: hq.broker.url },
    storeApi: { tokenFile: 'unused' },
    control: { publicKeys: [hq.controlPublicKey] },
    ...extra,
  });
  const agent = new Agent(cfg, new Pseudonymizer({ secret, tenant: 'acme', timezone: 'UTC' }), log, { linkKey: deriveLinkKey(secret, 'acme') });
  const api = new StoreApi(agent, token, log);
  const base = `http://127.0.0.1:${await api.start(0)}`;
  agent.start();
  return { agent, api, base };
}

/** Drains every store's publisher (failing if one cannot) and waits until HQ stored all of it (or gives up after ~5 s). */
export async function deliverAll(hq: Hq, stores: TestStore[], extra = 0): Promise<number> {
  for (const s of stores) if (!(await s.agent.publisher!.drain(10_000))) throw new Error(`${s.agent.config.store}: the broker did not acknowledge everything`);
  const sent = stores.reduce((n, s) => n + s.agent.publisher!.published, 0) + extra;
  for (let i = 0; i < 200 && hq.consumer.counts.stored < sent; i++) await new Promise((r) => setTimeout(r, 25));
  return sent;
}
