/**
 * The agent's local status endpoint (127.0.0.1 only): /healthz for systemd and monitoring, /status as
 * JSON for `omniloop status`, /metrics for Prometheus. Metrics are read from the agent when scraped,
 * so the hot path pays nothing for them.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Agent } from './agent.js';

export class StatusServer {
  private server: Server | null = null;
  readonly registry = new Registry();

  constructor(
    private readonly agent: Agent,
    private readonly port: number,
  ) {
    const r = this.registry;
    const a = agent;
    collectDefaultMetrics({ register: r, prefix: 'omniloop_process_' });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: [r], collect() {
        this.set(read());
      } });
    gauge('omniloop_frames_total', 'frames captured', () => a.pipeline.counters.frames);
    gauge('omniloop_malformed_frames_total', 'frames counted as malformed and skipped', () => a.pipeline.counters.malformed);
    gauge('omniloop_opted_out_total', 'observations dropped because the device opted out', () => a.pipeline.counters.optedOut);
    gauge('omniloop_sightings_total', 'sightings written to the outbox', () => a.counters.sightings);
    gauge('omniloop_outbox_rows', 'batches waiting in the outbox', () => a.outbox.stats().rows);
    gauge('omniloop_outbox_bytes', 'bytes waiting in the outbox', () => a.outbox.stats().bytes);
    gauge('omniloop_outbox_oldest_age_seconds', 'age of the oldest unsent batch', () => {
      const o = a.outbox.stats().oldestMs;
      return o === null ? 0 : (Date.now() - o) / 1000;
    });
    gauge('omniloop_outbox_dropped_total', 'batches dropped because the outbox was full or too old', () => a.outbox.stats().dropped);
    gauge('omniloop_outbox_corrupt_moved_aside_total', 'corrupt outbox files renamed aside (a fresh outbox was started)', () => a.outbox.stats().corruptMovedAside);
    gauge('omniloop_outbox_delete_failures_total', 'acknowledged batches that could not be deleted (sent again; HQ drops the duplicate)', () => a.outbox.stats().deleteFailures);
    gauge('omniloop_broker_connected', '1 while connected to the broker', () => (a.publisher?.connected ? 1 : 0));
    const published = new Counter({ name: 'omniloop_published_batches_total', help: 'batches acknowledged by the broker', registers: [r] });
    const latency = new Histogram({ name: 'omniloop_publish_latency_seconds', help: 'from publish to PUBACK', buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers: [r] });
    a.publisher?.on('published', (_seq, ms) => {
      published.inc();
      latency.observe(ms / 1000);
    });
  }

  async start(): Promise<number> {
    const server = createServer((req, res) => {
      const send = (code: number, type: string, body: string) => {
        res.writeHead(code, { 'content-type': type });
        res.end(body);
      };
      if (req.method !== 'GET') return send(405, 'text/plain', 'method not allowed\n');
      if (req.url === '/healthz') return send(200, 'text/plain', 'ok\n');
      if (req.url === '/status') return send(200, 'application/json', JSON.stringify(this.status()) + '\n');
      if (req.url === '/metrics') {
        this.registry.metrics().then(
          (text) => send(200, this.registry.contentType, text),
          (err: Error) => send(500, 'text/plain', `${err.message}\n`),
        );
        return;
      }
      send(404, 'text/plain', 'not found: /healthz, /status, /metrics\n');
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    return (server.address() as { port: number }).port;
  }

  status(): Record<string, unknown> {
    const a = this.agent;
    const c = a.config;
    return {
      tenant: c.tenant,
      store: c.store,
      agent: c.agent,
      broker: a.publisher ? { connected: a.publisher.connected, inFlight: a.publisher.inFlightCount, published: a.publisher.published, lastError: a.publisher.lastError } : null,
      ...a.describe(),
    };
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
