/**
 * One MQTT message in, one outcome out: validated sightings go to the store (idempotently by batch id),
 * agent status and metrics update the agent table, everything that fails validation is parked as a
 * dead letter with its reason. Never throws on a message's content (only on a database failure): one
 * bad message never stops the stream.
 */
import { validateSightingsMessage } from '../../shared/wire/sightings-schema.js';
import { validateLinksMessage } from '../../shared/wire/links-schema.js';
import { TOPIC_ROOT } from '../../shared/wire/topics.js';
import { redactDeep } from '../../shared/wire/redact.js';
import type { CloudStore, IngestOutcome } from '../store/cloud-store.js';

export type IngestResult = 'stored' | 'duplicate' | 'conflict' | 'dead' | 'agent' | 'ignored';

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const MAX_STATUS_BYTES = 64 * 1024;

export async function ingestMessage(store: CloudStore, topic: string, payload: Buffer, receivedMs = Date.now()): Promise<IngestResult> {
  const text = payload.toString('utf8');
  try {
    return await ingest(store, topic, payload, text, receivedMs);
  } catch (err) {
    // The database refused this message's content (PostgreSQL: a NUL, a value out of range): it becomes
    // a dead letter and is acknowledged, so it cannot stop the stream. A database that is down, full or
    // busy is no fault of the message: that is thrown, and the message comes again.
    if (!isMessageFault(err)) throw err;
    await store.deadLetter(topic, `the database refused the message (${faultCode(err)})`, storable(text), receivedMs);
    return 'dead';
  }
}

/** SQLSTATE classes 22 (data exception), 23 (integrity constraint), 54 (limit exceeded); SQLite's equivalents. */
function isMessageFault(err: unknown): boolean {
  const code = faultCode(err);
  return /^(22|23|54)[0-9A-Z]{3}$/.test(code) || code === 'SQLITE_TOOBIG' || code === 'SQLITE_MISMATCH' || code.startsWith('SQLITE_CONSTRAINT');
}

function faultCode(err: unknown): string {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : '';
}

/** A message's text as a dead letter can hold it: a NUL (which PostgreSQL's text refuses) written out as \u0000. */
function storable(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\\u0000') : text;
}

async function ingest(store: CloudStore, topic: string, payload: Buffer, rawText: string, receivedMs: number): Promise<IngestResult> {
  const parts = topic.split('/');
  const text = storable(rawText);
  if (parts.length !== 6 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT || !NAME.test(parts[2]!) || !NAME.test(parts[3]!) || !NAME.test(parts[4]!)) {
    await store.deadLetter(topic, 'not an omniloop/v1/<tenant>/<store>/<agent>/<kind> topic', text, receivedMs);
    return 'dead';
  }
  const [, , tenant, storeName, agent, kind] = parts as [string, string, string, string, string, string];
  // HQ's own downlink to a store (omniloop/v1/<tenant>/<store>/control/<what>) matches the shared
  // subscription too: not an agent's message ("control" is no agent's name).
  if (agent === 'control') return 'ignored';
  switch (kind) {
    case 'sightings': {
      const v = validateSightingsMessage(topic, payload);
      if (!v.ok) {
        await store.deadLetter(topic, v.reason, text, receivedMs);
        return 'dead';
      }
      return await recorded(store, await store.ingestSightings(v.value, receivedMs), v.value.batchId, topic, text, receivedMs);
    }
    case 'status':
    case 'metrics': {
      if (payload.length === 0) return 'ignored'; // a cleared retained message
      let body: unknown;
      try {
        body = payload.length <= MAX_STATUS_BYTES ? JSON.parse(rawText) : null;
      } catch {
        body = null;
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        await store.deadLetter(topic, `${kind}: not a JSON object of at most ${MAX_STATUS_BYTES} bytes`, text, receivedMs);
        return 'dead';
      }
      // A NUL in any string (escaped in the JSON): no database column holds it, no status needs it.
      if (rawText.includes('\\u0000') || rawText.includes('\u0000')) {
        await store.deadLetter(topic, `${kind}: a string holds a NUL character`, text, receivedMs);
        return 'dead';
      }
      // Stored and served by the API: whatever a sender put in it, no address, e-mail or phone stays.
      const b = redactDeep(body) as Record<string, unknown>;
      const state = kind === 'status' && (b.state === 'online' || b.state === 'offline') ? b.state : null;
      await store.upsertAgent(tenant, storeName, agent, state, b, receivedMs);
      return 'agent';
    }
    case 'links': {
      const v = validateLinksMessage(topic, payload);
      if (!v.ok) {
        await store.deadLetter(topic, v.reason, text, receivedMs);
        return 'dead';
      }
      return await recorded(store, await store.ingestLinks(v.value, receivedMs), v.value.batchId, topic, text, receivedMs);
    }
    case 'doctor': return 'ignored'; // `omniloop doctor`'s publish round-trip probe: nothing to store, not a dead letter
    default:
      await store.deadLetter(topic, `unknown message kind ${JSON.stringify(kind)}`, text, receivedMs);
      return 'dead';
  }
}

/**
 * A known batch id with other content is never dropped silently: the first content stays, the other is
 * kept as a dead letter saying so (and counted as a conflict in the stats).
 */
async function recorded(store: CloudStore, outcome: IngestOutcome, batchId: string, topic: string, text: string, receivedMs: number): Promise<IngestResult> {
  if (outcome === 'conflict') await store.deadLetter(topic, `conflict: batch ${batchId} was stored before with other content; the first is kept`, text, receivedMs);
  return outcome;
}
