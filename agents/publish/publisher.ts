/**
 * Outbox → broker. QoS 1, a bounded number of batches in flight, each row deleted only on PUBACK; a
 * row's kind (sightings, links) names its topic and schema. The
 * retained `status` topic says online, with a last will that says offline; `metrics` goes out
 * periodically. Reconnects back off exponentially with jitter, so a store chain's agents do not all
 * knock at once after an outage. A broker that refuses the credentials is reported clearly and the
 * data stays in the outbox.
 */
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { readBrokerFile } from '../../shared/broker/broker-files.js';
import { SCHEMA_OF_KIND, envelope, isBatchKind } from '../../shared/wire/batch.js';
import { agentTopic, optoutTopic, storeControlTopic, type AgentIdentity } from '../../shared/wire/topics.js';
import type { Outbox } from '../outbox/outbox.js';

export interface BrokerOptions {
  url: string;
  clientId?: string;
  username?: string;
  password?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  rejectUnauthorized?: boolean;
  protocolVersion?: 4 | 5;
  keepaliveSeconds?: number;
}

export interface PublisherOptions {
  broker: BrokerOptions;
  identity: AgentIdentity;
  maxInFlight?: number;
  metricsIntervalMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** After the broker refuses a batch (PUBACK reason ≥ 0x80, e.g. 135 not authorized): wait this long before sending again (default 30 s). */
  refusedRetryMs?: number;
  /** Extra fields for the status and metrics messages (buffer depth, counters...). */
  describe?: () => Record<string, unknown>;
  /**
   * Downlink: the tenant's opt-out list and this store's control topics, subscribed on every connect
   * (retained messages arrive right away).
   */
  onControl?: (topic: string, payload: Buffer) => void;
}

export interface PublisherEvents {
  published: [seq: number, latencyMs: number];
  connected: [];
  disconnected: [reason: string];
  refused: [reason: string];
}

export class Publisher extends EventEmitter<PublisherEvents> {
  private client: MqttClient | null = null;
  private readonly inFlight = new Map<number, number>(); // seq -> sent at
  private lastSentSeq = 0;
  private failures = 0;
  private metricsTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  published = 0;
  /** Batches the broker refused with a reason code (they stay in the outbox and are sent again later). */
  refused = 0;
  /** Sending waits until then after a refusal: a broker that refuses everything is not hammered. */
  private pausedUntil = 0;
  private refusedLoggedMs = -Infinity;
  lastError: string | null = null;

  constructor(
    private readonly outbox: Outbox,
    private readonly opts: PublisherOptions,
    private readonly log: Logger,
  ) {
    super();
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  start(): void {
    const b = this.opts.broker;
    const id = this.opts.identity;
    const options: IClientOptions = {
      clientId: b.clientId ?? `omniloop-${id.tenant}-${id.store}-${id.agent}`,
      username: b.username,
      password: b.password,
      protocolVersion: b.protocolVersion ?? 5,
      keepalive: b.keepaliveSeconds ?? 30,
      clean: true,
      connectTimeout: 10_000,
      reconnectPeriod: this.backoff(),
      will: { topic: agentTopic(id, 'status'), payload: Buffer.from(JSON.stringify({ state: 'offline', agent: id.agent, reason: 'connection lost' })), qos: 1, retain: true },
    };
    if (b.caFile) options.ca = readBrokerFile('caFile', b.caFile);
    if (b.certFile) options.cert = readBrokerFile('certFile', b.certFile);
    if (b.keyFile) options.key = readBrokerFile('keyFile', b.keyFile);
    if (b.rejectUnauthorized === false) options.rejectUnauthorized = false;
    const client = mqtt.connect(b.url, options);
    this.client = client;
    client.on('connect', () => {
      this.failures = 0;
      this.lastError = null;
      client.options.reconnectPeriod = this.backoff();
      this.log.info({ broker: redactUrl(b.url) }, 'connected to the broker');
      this.publishStatus('online');
      if (this.opts.onControl) {
        client.subscribe([optoutTopic(id.tenant), storeControlTopic(id.tenant, id.store)], { qos: 1 }, (err) => {
          if (err) this.log.warn({ err: err.message }, 'cannot subscribe to the control topics (broker ACL?)');
        });
      }
      this.emit('connected');
      this.pump();
    });
    client.on('message', (topic, payload) => this.opts.onControl?.(topic, payload));
    client.on('close', () => {
      // Anything unacknowledged is still in the outbox: send it again after reconnecting.
      this.inFlight.clear();
      this.lastSentSeq = 0;
      if (this.stopping) return;
      this.failures++;
      client.options.reconnectPeriod = this.backoff();
      this.emit('disconnected', this.lastError ?? 'connection closed');
    });
    client.on('error', (err: Error & { code?: number }) => {
      const refused = err.code === 4 || err.code === 5 || err.code === 134 || err.code === 135;
      this.lastError = refused ? `the broker refused the credentials (${err.message}); data stays in the outbox` : err.message;
      if (refused) {
        this.log.error({ broker: redactUrl(b.url) }, this.lastError);
        this.emit('refused', this.lastError);
      } else this.log.warn({ broker: redactUrl(b.url), err: err.message }, 'broker connection error');
    });
    this.metricsTimer = setInterval(() => this.publishMetrics(), this.opts.metricsIntervalMs ?? 60_000);
    this.metricsTimer.unref();
  }

  /** New rows are in the outbox: send what the in-flight window allows. */
  pump(): void {
    const client = this.client;
    if (!client?.connected || this.stopping || Date.now() < this.pausedUntil) return;
    const room = (this.opts.maxInFlight ?? 16) - this.inFlight.size;
    if (room <= 0) return;
    const id = this.opts.identity;
    // A fresh outbox (the old one was corrupt) has a new instance: an ack of the old one deletes nothing.
    const instance = this.outbox.instance;
    for (const row of this.outbox.peek(room, this.lastSentSeq)) {
      this.lastSentSeq = row.seq;
      if (!isBatchKind(row.kind)) {
        // Written by a newer agent version: leave it for that version, never send it under a wrong schema.
        this.log.warn({ seq: row.seq, kind: row.kind }, 'outbox row of an unknown kind skipped');
        continue;
      }
      this.inFlight.set(row.seq, Date.now());
      const payload = envelope(SCHEMA_OF_KIND[row.kind], id, instance, row.seq, row.epoch, row.body);
      client.publish(agentTopic(id, row.kind), payload, { qos: 1 }, (err) => {
        const sentAt = this.inFlight.get(row.seq);
        if (err) {
          const code = (err as Error & { code?: unknown }).code;
          if (typeof code === 'number' && code >= 0x80) return this.onRefused(row.seq, code, err.message);
          this.log.warn({ seq: row.seq, err: err.message }, 'publish failed; will retry');
          return;
        }
        // Never a throw out of mqtt.js's callback (it would crash the agent): the outbox counts a failed
        // delete, and the row is sent again later under the same batch id, which HQ drops as a duplicate.
        try {
          if (this.outbox.instance === instance) this.outbox.delete(row.seq);
        } catch (e) {
          this.log.error({ seq: row.seq, err: (e as Error).message }, 'cannot delete an acknowledged batch; it is sent again later');
        }
        this.inFlight.delete(row.seq);
        this.published++;
        this.emit('published', row.seq, sentAt === undefined ? 0 : Date.now() - sentAt);
        this.pump();
      });
    }
  }

  /**
   * The broker answered with a failure reason (MQTT 5): mqtt.js forgets the message, so it must leave the
   * in-flight window too (else a few refusals fill the window and nothing is sent until a reconnect). The
   * row stays in the outbox and is sent again after refusedRetryMs, from its place in the order.
   */
  private onRefused(seq: number, code: number, message: string): void {
    this.inFlight.delete(seq);
    this.refused++;
    if (seq <= this.lastSentSeq) this.lastSentSeq = seq - 1;
    const wait = this.opts.refusedRetryMs ?? 30_000;
    this.pausedUntil = Date.now() + wait;
    setTimeout(() => this.pump(), wait).unref();
    const now = Date.now();
    if (now - this.refusedLoggedMs >= 60_000) {
      this.refusedLoggedMs = now;
      this.log.error({ seq, reasonCode: code, refused: this.refused }, `the broker refused a batch (${message}): check its ACL for this agent (\`omniloop doctor\`, broker-rights); the batch stays in the outbox and is sent again in ${Math.round(wait / 1000)} s`);
    }
  }

  /** Waits until everything in the outbox is acknowledged, or the timeout passes. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      this.pump();
      if (this.outbox.stats().rows === 0 && this.inFlight.size === 0) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  /** Finishes in-flight publishes (up to `timeoutMs`), says offline, disconnects. */
  async stop(timeoutMs = 5000): Promise<void> {
    if (this.metricsTimer) clearInterval(this.metricsTimer);
    const client = this.client;
    if (!client) return;
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight.size > 0 && client.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.stopping = true;
    if (client.connected) await new Promise<void>((resolve) => this.publishStatus('offline', () => resolve()));
    await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
  }

  private publishStatus(state: 'online' | 'offline', done?: () => void): void {
    const id = this.opts.identity;
    const body = { state, tenant: id.tenant, store: id.store, agent: id.agent, ts: Date.now(), ...this.opts.describe?.() };
    this.client?.publish(agentTopic(id, 'status'), JSON.stringify(body), { qos: 1, retain: true }, () => done?.());
  }

  private publishMetrics(): void {
    if (!this.client?.connected) return;
    const id = this.opts.identity;
    const body = { tenant: id.tenant, store: id.store, agent: id.agent, ts: Date.now(), published: this.published, refused: this.refused, ...this.opts.describe?.() };
    this.client.publish(agentTopic(id, 'metrics'), JSON.stringify(body), { qos: 0 });
  }

  /** Exponential in the number of consecutive failures, with ±50% jitter. */
  private backoff(): number {
    const min = this.opts.backoffMinMs ?? 1000;
    const max = this.opts.backoffMaxMs ?? 60_000;
    const base = Math.min(max, min * 2 ** Math.min(this.failures, 16));
    return Math.round(base * (0.5 + Math.random()));
  }
}

/** Never log a password that came in the URL. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');
}
