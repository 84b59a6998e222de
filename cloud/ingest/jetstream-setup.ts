/**
 * HQ's side of the JetStream cluster: the connection (every node listed, reconnecting for ever), and,
 * idempotently, the stream the MQTT listener stores agents' messages in and HQ's durable pull consumer
 * on it, shared by every HQ process. A cluster still electing its leaders is waited for, not an error.
 */
import { readFileSync } from 'node:fs';
import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, connect, nanos, type ConnectionOptions, type JetStreamManager, type NatsConnection, type NatsError } from 'nats';
import type { Logger } from 'pino';
import { CheckError, InputError } from '../../shared/errors.js';
import type { JetStreamSettings } from '../config/cloud-config.js';
import { INGEST_FILTER, MQTT_STREAM, MQTT_STREAM_PREFIX } from './nats-subject.js';

const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;

export async function connectNats(cfg: JetStreamSettings, name: string): Promise<NatsConnection> {
  const opts: ConnectionOptions = { servers: cfg.servers, name, maxReconnectAttempts: -1, reconnectTimeWait: 1000, pingInterval: 10_000 };
  if (cfg.username) opts.user = cfg.username;
  if (cfg.passwordFile) opts.pass = readSetting('passwordFile', cfg.passwordFile).trim();
  if (cfg.caFile) opts.tls = { ca: readSetting('caFile', cfg.caFile) };
  try {
    return await connect(opts);
  } catch (err) {
    throw new CheckError(`cannot reach NATS at ${cfg.servers.join(', ')}: ${(err as Error).message}`);
  }
}

function readSetting(setting: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read stream.${setting} ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Creates what is missing, and brings the durable's ack wait and max ack pending to the config. */
export async function ensureDurable(nc: NatsConnection, cfg: JetStreamSettings, log: Logger, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const jsm = await nc.jetstreamManager({ checkAPI: false });
      await ensureStream(jsm, cfg, log);
      await ensureConsumer(jsm, cfg);
      return;
    } catch (err) {
      if (err instanceof CheckError) throw err;
      // No JetStream leader yet (a cluster starting, a node gone): the API times out or says 503.
      if (Date.now() > deadline) throw new CheckError(`JetStream at ${cfg.servers.join(', ')} is not ready: ${(err as Error).message}`);
      if (attempt === 0) log.warn({ err: (err as Error).message }, 'JetStream not ready yet; waiting');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

const apiCode = (err: unknown) => (err as NatsError).api_error?.err_code;

async function ensureStream(jsm: JetStreamManager, cfg: JetStreamSettings, log: Logger): Promise<void> {
  try {
    const si = await jsm.streams.info(MQTT_STREAM);
    if (si.config.num_replicas < cfg.replicas) log.warn({ stream: MQTT_STREAM, replicas: si.config.num_replicas, wanted: cfg.replicas }, 'the stream has fewer replicas than stream.replicas: a lost node can lose messages');
    return;
  } catch (err) {
    if (apiCode(err) !== STREAM_NOT_FOUND) throw err;
  }
  // The MQTT listener makes this stream when its first client connects; made first here, with the
  // same settings, it holds agents' messages from the start. Interest retention: a message stays until
  // every consumer with interest (HQ's durable) has acknowledged it.
  await jsm.streams.add({ name: MQTT_STREAM, subjects: [`${MQTT_STREAM_PREFIX}>`], retention: RetentionPolicy.Interest, storage: StorageType.File, num_replicas: cfg.replicas }).catch((err) => {
    if (!/already in use/i.test((err as Error).message)) throw err; // another HQ process or the listener was first
  });
}

async function ensureConsumer(jsm: JetStreamManager, cfg: JetStreamSettings): Promise<void> {
  const want = { ack_wait: nanos(cfg.ackWaitSeconds * 1000), max_ack_pending: cfg.maxAckPending };
  try {
    const ci = await jsm.consumers.info(MQTT_STREAM, cfg.durable);
    if (ci.config.filter_subject !== INGEST_FILTER || ci.config.ack_policy !== AckPolicy.Explicit) {
      throw new CheckError(`the JetStream consumer ${cfg.durable} exists with another filter or ack policy (${ci.config.filter_subject ?? 'none'}, ${ci.config.ack_policy}); delete it or set another stream.durable`);
    }
    if (ci.config.ack_wait !== want.ack_wait || ci.config.max_ack_pending !== want.max_ack_pending) await jsm.consumers.update(MQTT_STREAM, cfg.durable, want);
    return;
  } catch (err) {
    if (apiCode(err) !== CONSUMER_NOT_FOUND) throw err;
  }
  // Never given up on (max_deliver -1): a database down for a day delays messages, it does not drop them.
  await jsm.consumers.add(MQTT_STREAM, { durable_name: cfg.durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: INGEST_FILTER, max_deliver: -1, ...want });
}
