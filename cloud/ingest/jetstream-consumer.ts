/**
 * The cloud's JetStream side, for a chain: one durable pull consumer on the stream nats-server's MQTT
 * listener stores agents' messages in, shared by every HQ process (each message goes to one of them).
 * Messages are stored in groups, one transaction each (group commit), and each is acknowledged only
 * after its group has committed; a database failure naks them, so they come again. A consumer that
 * dies mid-group leaves its messages unacknowledged: after the ack wait they go to another consumer, and
 * the batch id makes the redelivery a duplicate. A stopped or lagging HQ loses nothing: the stream
 * keeps every message until the durable has acknowledged it.
 */
import type { ConsumerMessages, JsMsg, NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { JetStreamSettings } from '../config/cloud-config.js';
import type { CloudStore } from '../store/cloud-store.js';
import { ingestMessages } from './ingest-group.js';
import type { IngestResult } from './ingest.js';
import { connectNats, ensureDurable } from './jetstream-setup.js';
import { MQTT_STREAM, subjectToTopic } from './nats-subject.js';

/** After a database failure: the failed messages come again this much later, and this consumer waits as long. */
const RETRY_MS = 2000;

export class JetStreamConsumer {
  readonly counts: Record<IngestResult, number> = { stored: 0, duplicate: 0, conflict: 0, dead: 0, agent: 0, ignored: 0 };
  failures = 0;
  /** Transactions committed, and the messages they held: their ratio is the group size reached. */
  groups = 0;
  grouped = 0;
  private nc: NatsConnection | null = null;
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;
  private runner: Promise<void> | null = null;
  private readonly buf: JsMsg[] = [];
  private stopping = false;

  constructor(
    private readonly cfg: JetStreamSettings,
    private readonly store: CloudStore,
    private readonly log: Logger,
    private readonly name = 'omniloop-cloud',
  ) {}

  async start(): Promise<void> {
    const nc = await connectNats(this.cfg, this.name);
    this.nc = nc;
    try {
      await ensureDurable(nc, this.cfg, this.log);
    } catch (err) {
      await nc.close();
      throw err;
    }
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'disconnect' || s.type === 'reconnect') this.log.warn({ server: s.data }, `NATS ${s.type}`);
    })().catch(() => {});
    this.loop = this.pull();
  }

  /** Takes messages as they come, a pull ahead of what is being stored, and hands them on in groups. */
  private async pull(): Promise<void> {
    const nc = this.nc!;
    while (!this.stopping) {
      try {
        const consumer = await nc.jetstream().consumers.get(MQTT_STREAM, this.cfg.durable);
        const messages = await consumer.consume({ max_messages: this.cfg.batch * 2 });
        this.messages = messages;
        if (this.stopping) break;
        void (async () => {
          for await (const s of await messages.status()) if (s.type === 'heartbeats_missed' || s.type === 'consumer_not_found' || s.type === 'stream_not_found') this.log.warn({ status: s.type, data: s.data }, 'JetStream consumer');
        })().catch(() => {});
        for await (const m of messages) {
          this.buf.push(m);
          this.kick();
          // A full group waits for the one being stored: memory stays bounded, the pull stays ahead.
          if (this.buf.length >= this.cfg.batch && this.runner) await this.runner;
        }
      } catch (err) {
        if (this.stopping) break;
        this.log.warn({ err: (err as Error).message }, 'JetStream pull failed; trying again');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private kick(): void {
    if (this.runner) return;
    this.runner = this.drain()
      .catch((err: Error) => this.log.error({ err: err.message }, 'storing a group failed; its messages come again after the ack wait'))
      .finally(() => {
        this.runner = null;
        if (this.buf.length && !this.stopping) this.kick();
      });
  }

  private async drain(): Promise<void> {
    // What has arrived by the next turn of the event loop forms the group: no waiting for a full one.
    await new Promise((r) => setImmediate(r));
    while (this.buf.length && !this.stopping) await this.commit(this.buf.splice(0, this.cfg.batch));
  }

  private async commit(group: JsMsg[]): Promise<void> {
    const settled = await ingestMessages(
      this.store,
      group.map((m) => ({ topic: subjectToTopic(m.subject), payload: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength) })),
    );
    let failure: Error | null = null;
    for (const [i, s] of settled.entries()) {
      const m = group[i]!;
      if (s.ok) {
        this.counts[s.result]++;
        m.ack();
      } else {
        failure = s.error;
        this.failures++;
        m.nak(RETRY_MS);
      }
    }
    this.groups++;
    this.grouped += group.length;
    if (failure) {
      // The database failed, not the messages: they come again; give the database a moment.
      this.log.error({ err: failure.message, messages: group.length }, 'storing messages failed; they will be redelivered');
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  /** Stops pulling, lets the group being stored finish and be acknowledged, hands the rest back. */
  async stop(timeoutMs = 5000): Promise<void> {
    const nc = this.nc;
    if (!nc) return;
    this.stopping = true;
    await this.messages?.close().catch(() => {});
    const deadline = new Promise((r) => setTimeout(r, timeoutMs).unref());
    await Promise.race([Promise.all([this.loop, this.runner]), deadline]);
    for (const m of this.buf.splice(0)) m.nak();
    await nc.flush().catch(() => {}); // the acks and naks reach the server before the connection goes
    await nc.close();
    this.log.info({ transactions: this.groups, messages: this.grouped }, 'jetstream consumer stopped');
    this.nc = null;
  }
}
