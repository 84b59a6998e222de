/**
 * The cloud's MQTT side: a shared subscription ($share/<group>/omniloop/v1/+/+/+/+) so several consumers
 * split the stream, QoS 1, a persistent session so nothing published while a consumer restarts is lost.
 * A message is acknowledged only once it is stored (handleMessage): if this consumer dies first,
 * the broker redelivers it, and the batch id makes the redelivery harmless.
 */
import { hostname } from 'node:os';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { TOPIC_ROOT, sharedSubscription } from '../../shared/wire/topics.js';
import type { CloudConfig } from '../config/cloud-config.js';
import type { CloudStore } from '../store/cloud-store.js';
import { ingestMessage, type IngestResult } from './ingest.js';
import { brokerOptions } from '../control/broker.js';

export class Consumer {
  private client: MqttClient | null = null;
  readonly counts: Record<IngestResult, number> = { stored: 0, duplicate: 0, conflict: 0, dead: 0, agent: 0, ignored: 0 };
  failures = 0;
  /** Messages being stored right now: stop() lets them finish and be acknowledged. */
  private pending = 0;

  constructor(
    private readonly cfg: CloudConfig,
    private readonly store: CloudStore,
    private readonly log: Logger,
    /**
     * Stable across restarts (never the pid): the broker keeps this consumer's session and queued
     * messages while it is down and hands them over when the same instance comes back.
     */
    private readonly clientId = `omniloop-cloud-${cfg.group}-${hostname()}-1`,
  ) {}

  start(): Promise<void> {
    const b = this.cfg.broker;
    const opts: IClientOptions = {
      ...brokerOptions(b, this.clientId),
      clean: false,
      reconnectPeriod: 1000,
      ...(b.protocolVersion === 5 ? { properties: { sessionExpiryInterval: this.cfg.sessionExpiryHours * 3600 } } : {}),
    };
    const client = mqtt.connect(b.url, opts);
    this.client = client;
    // mqtt.js sends the PUBACK of a QoS 1 message only after handleMessage's callback, for MQTT 5 and
    // 3.1.1 alike (customHandleAcks is MQTT 5 only): so a message is acknowledged once it is stored.
    client.handleMessage = (packet, callback) => {
      if (packet.cmd !== 'publish') return callback();
      this.pending++;
      ingestMessage(this.store, packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload))
        .finally(() => this.pending--)
        .then(
          (r) => {
            this.counts[r]++;
            callback();
          },
          (err: Error) => {
            // The database failed, not the message: no PUBACK, so the broker sends it again.
            this.log.error({ err: err.message }, 'storing a message failed; it will be redelivered');
            this.failures++;
            callback(err);
          },
        );
    };
    client.on('error', (err) => this.log.warn({ err: err.message }, 'broker connection error'));
    return new Promise((resolve, reject) => {
      client.once('connect', () => {
        client.subscribe(this.cfg.sharedSubscription ? sharedSubscription(this.cfg.group) : `${TOPIC_ROOT}/+/+/+/+`, { qos: 1 }, (err) => (err ? reject(err) : resolve()));
      });
      client.once('error', reject);
    });
  }

  async stop(timeoutMs = 5000): Promise<void> {
    const c = this.client;
    if (!c) return;
    const deadline = Date.now() + timeoutMs;
    while (this.pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise<void>((resolve) => c.end(false, {}, () => resolve()));
  }
}
