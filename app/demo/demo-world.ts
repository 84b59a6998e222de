/**
 * The whole product on one machine, for `omniloop demo`: an embedded MQTT broker (aedes), HQ's cloud on
 * SQLite (consumer, API and dashboard, activation pushes) and one agent per store with its store API
 * (identify events, signage) — the same classes the real processes run, wired in one process.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { agentConfigSchema } from '../../agents/config/agent-config.js';
import { Pseudonymizer } from '../../agents/pseudonymize/pseudonymizer.js';
import { Agent } from '../../agents/runtime/agent.js';
import { StoreApi } from '../../agents/runtime/store-api.js';
import { ApiServer } from '../../cloud/api/server.js';
import { cloudConfigSchema, graphRules, type CloudConfig } from '../../cloud/config/cloud-config.js';
import { ActivationPusher } from '../../cloud/control/activation.js';
import { connectBroker } from '../../cloud/control/broker.js';
import { optoutMessage, publishOptoutList } from '../../cloud/control/optout.js';
import { Consumer } from '../../cloud/ingest/consumer.js';
import { SqliteCloudStore } from '../../cloud/store/sqlite-store.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../broker/embedded-broker.js';
import { CheckError } from '../../shared/errors.js';
import { deriveLinkKey, deriveOptoutKey } from '../../shared/identity/keys.js';
import { optoutTokenOfMac } from '../../shared/identity/optout.js';
import { generateSecret, loadSecretFile, writeSecretFile } from '../../shared/identity/secret.js';
import { readControlKeyFile, writeControlKeyFile } from '../../shared/identity/control-key-file.js';
import { generateControlKeyPair, publicKeyText } from '../../shared/wire/control-signing.js';
import { ControlSigners } from '../../cloud/control/signers.js';
import { GUEST_AP_BASE, GUEST_SSID, macText } from '../../scripts/gen-store-traffic.js';

export const DEMO_TENANT = 'demo';

export interface DemoStore {
  name: string;
  agent: Agent;
  api: StoreApi;
  apiUrl: string;
}

export interface WorldOptions {
  dir: string;
  stores: string[];
  timezone: string;
  /** HQ's API and dashboard port (0: any free one). */
  port: number;
  log: Logger;
}

export class DemoWorld {
  private constructor(
    readonly broker: EmbeddedBroker,
    readonly cloud: { cfg: CloudConfig; store: SqliteCloudStore; consumer: Consumer; api: ApiServer; apiUrl: string; activation: ActivationPusher },
    readonly stores: DemoStore[],
    readonly tokens: { api: string; store: string },
    private readonly secret: Uint8Array,
  ) {}

  static async start(o: WorldOptions): Promise<DemoWorld> {
    const { dir, log } = o;
    // The tenant key and the tokens are kept between runs; the data starts afresh each time.
    const keyFile = join(dir, 'demo-tenant.key');
    if (!existsSync(keyFile)) writeSecretFile(keyFile, generateSecret());
    const secret = loadSecretFile(keyFile);
    // HQ's control signing key: the agents trust its public key, as provisioning gives it to them.
    const controlKeyFile = join(dir, 'demo-control.key');
    if (!existsSync(controlKeyFile)) writeControlKeyFile(controlKeyFile, generateControlKeyPair().privatePem);
    const controlPublicKey = publicKeyText(readControlKeyFile(controlKeyFile));
    const apiToken = keepToken(join(dir, 'api.token'));
    const storeToken = keepToken(join(dir, 'store-api.token'));
    for (const f of ['cloud.db', ...o.stores.map((s) => `outbox-${s}.db`), ...o.stores.map((s) => `optout-cache-${s}.json`)]) {
      for (const suffix of ['', '-wal', '-shm']) rmSync(join(dir, f + suffix), { force: true });
    }

    const broker = await startEmbeddedBroker(0);
    const cfg = cloudConfigSchema.parse({
      broker: { url: broker.url, protocolVersion: 4 }, // aedes speaks MQTT 3.1.1
      sharedSubscription: false, // nor does it share subscriptions: one consumer
      group: 'demo',
      database: { sqlite: join(dir, 'cloud.db') },
      activation: { intervalSeconds: 5, presenceMinutes: 5 },
      api: { port: o.port, tokenFile: join(dir, 'api.token'), k: 5 },
      tenants: { [DEMO_TENANT]: { controlKeyFile } },
    });
    const store = new SqliteCloudStore(join(dir, 'cloud.db'));
    const consumer = new Consumer(cfg, store, log, 'omniloop-demo-cloud');
    await consumer.start();
    // As `cloud run` serves it: exact reports, changed days brought up to date in the background.
    const api = new ApiServer(store, { token: apiToken, k: cfg.api!.k, rules: graphRules(cfg), segments: cfg.segments, reports: { maxStaleMs: cfg.api!.reportsMaxStaleSeconds * 1000 }, reportsRefreshMs: cfg.api!.reportsRefreshSeconds * 1000 }, log);
    let apiPort: number;
    try {
      apiPort = await api.start(o.port, '127.0.0.1');
    } catch (err) {
      await consumer.stop();
      await broker.close();
      throw new CheckError(`port ${o.port} for the dashboard is taken (${(err as NodeJS.ErrnoException).code ?? 'error'}): pass --port`);
    }
    const activation = new ActivationPusher(store, await connectBroker(cfg, 'demo-activation', true), { intervalMs: 5000, presenceMs: 5 * 60_000, graphReuseMs: 10_000, rules: cfg.segments, graphRules: graphRules(cfg) }, log, new ControlSigners(cfg.tenants));
    activation.start();

    const stores: DemoStore[] = [];
    for (const [i, name] of o.stores.entries()) {
      const acfg = agentConfigSchema.parse({
        tenant: DEMO_TENANT,
        store: name,
        agent: 'ap-1',
        timezone: o.timezone,
        keyFile,
        // The chain's guest WiFi (one SSID everywhere): phones connected to the store's AP are known by
        // their per-network address. The agent replays captures: no monitor interface of its own.
        capture: { wifi: { networks: [{ ssid: GUEST_SSID, bssids: [macText(GUEST_AP_BASE + i)] }] } },
        outbox: { path: join(dir, `outbox-${name}.db`) },
        optoutCacheFile: join(dir, `optout-cache-${name}.json`),
        control: { publicKeys: [controlPublicKey] },
        broker: { url: broker.url, protocolVersion: 4 },
        status: { port: 0 },
        storeApi: { tokenFile: join(dir, 'store-api.token'), k: 3, zones: [{ name: 'store', minRssi: -127 }, { name: 'window', minRssi: -60 }] },
      });
      const agent = new Agent(acfg, new Pseudonymizer({ secret, tenant: DEMO_TENANT, timezone: o.timezone }), log, { linkKey: deriveLinkKey(secret, DEMO_TENANT) });
      const sapi = new StoreApi(agent, storeToken, log);
      const port = await sapi.start(0); // any free port: several stores on one machine
      agent.start();
      stores.push({ name, agent, api: sapi, apiUrl: `http://127.0.0.1:${port}` });
    }
    return new DemoWorld(broker, { cfg, store, consumer, api, apiUrl: `http://127.0.0.1:${apiPort}`, activation }, stores, { api: apiToken, store: storeToken }, secret);
  }

  /** HQ adds devices to the opt-out list (as tokens) and publishes it; the agents apply it at once. */
  async optOut(macs: string[]): Promise<void> {
    if (!macs.length) return;
    const key = deriveOptoutKey(this.secret, DEMO_TENANT);
    await this.cloud.store.addOptouts(DEMO_TENANT, macs.map((m) => optoutTokenOfMac(key, m)), Date.now());
    const client = await connectBroker(this.cloud.cfg, 'demo-optout');
    await publishOptoutList(client, await optoutMessage(this.cloud.store, DEMO_TENANT, Date.now()), new ControlSigners(this.cloud.cfg.tenants).forTenant(DEMO_TENANT));
    await client.endAsync();
    for (let i = 0; i < 100 && this.stores.some((s) => s.agent.optoutVersion === 0); i++) await new Promise((r) => setTimeout(r, 20));
  }

  get dashboardUrl(): string {
    return `${this.cloud.apiUrl}/dashboard/#token=${this.tokens.api}`;
  }

  signageUrl(s: DemoStore): string {
    return `${s.apiUrl}/signage/#token=${this.tokens.store}&zone=store&poll=3000`;
  }

  /** Stops everything, in order: agents flush and hand over what they have, then HQ, then the broker. */
  async stop(drainMs = 5000): Promise<void> {
    await Promise.all(this.stores.map(async (s) => {
      await s.api.stop();
      await s.agent.stop(drainMs);
    }));
    await this.cloud.activation.stop();
    await this.cloud.consumer.stop();
    await this.cloud.api.stop();
    await this.cloud.store.close();
    await this.broker.close();
  }
}

/** A random token kept in a file (mode 0600), so a bookmarked dashboard URL keeps working. */
function keepToken(path: string): string {
  if (existsSync(path)) {
    const t = readFileSync(path, 'utf8').trim();
    if (t.length >= 16) return t;
  }
  const t = randomBytes(18).toString('base64url');
  writeFileSync(path, t + '\n', { mode: 0o600 });
  return t;
}
