/**
 * The cloud's MQTT side: a shared subscription ($share/<group>/omniloop/v1/+/+/+/+) so several consumers
 * split the stream, QoS 1, a persistent session so nothing published while a consumer restarts is lost.
 * Each message is stored (synchronously, in one transaction) before mqtt.js acknowledges it.
 */
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { sharedSubscription } from '../../shared/wire/topics.js';
import type { CloudConfig } from '../config/cloud-config.js';
import type { CloudStore } from '../store/cloud-store.js';
import { ingestMessage, type IngestResult } from './ingest.js';

export class Consumer {
  private client: MqttClient | null = null;
  readonly counts: Record<IngestResult, number> = { stored: 0, duplicate: 0, dead: 0, agent: 0, ignored: 0 };

  constructor(
    private readonly cfg: CloudConfig,
    private readonly store: CloudStore,
    private readonly log: Logger,
    private readonly clientId = `omniloop-cloud-${cfg.group}-${process.pid}`,
  ) {}

  start(): Promise<void> {
    const b = this.cfg.broker;
    const opts: IClientOptions = {
      clientId: b.clientId ?? this.clientId,
      username: b.username,
      password: b.password ?? (b.passwordFile ? readFileSync(b.passwordFile, 'utf8').trim() : undefined),
      protocolVersion: b.protocolVersion,
      clean: false,
      reconnectPeriod: 1000,
      ...(b.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
    };
    if (b.caFile) opts.ca = readFileSync(b.caFile);
    if (b.certFile) opts.cert = readFileSync(b.certFile);
    if (b.keyFile) opts.key = readFileSync(b.keyFile);
    const client = mqtt.connect(b.url, opts);
    this.client = client;
    client.on('message', (topic, payload) => {
      let r: IngestResult;
      try {
        r = ingestMessage(this.store, topic, payload);
      } catch (err) {
        // A database failure, not a bad message: log it; the message is lost to this consumer only if
        // the broker does not redeliver, so fail loudly.
        this.log.error({ err: (err as Error).message }, 'storing a message failed');
        return;
      }
      this.counts[r]++;
    });
    client.on('error', (err) => this.log.warn({ err: err.message }, 'broker connection error'));
    return new Promise((resolve, reject) => {
      client.once('connect', () => {
        client.subscribe(sharedSubscription(this.cfg.group), { qos: 1 }, (err) => (err ? reject(err) : resolve()));
      });
      client.once('error', reject);
    });
  }

  async stop(): Promise<void> {
    const c = this.client;
    if (c) await new Promise<void>((resolve) => c.end(false, {}, () => resolve()));
  }
}
