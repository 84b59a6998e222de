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
import type { CloudStore, IngestOutcome, StoreRequest } from '../store/cloud-store.js';
import { faultCode, isMessageFault } from '../store/db-faults.js';

export type IngestResult = 'stored' | 'duplicate' | 'conflict' | 'dead' | 'agent' | 'ignored';

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const MAX_STATUS_BYTES = 64 * 1024;

export async function ingestMessage(store: CloudStore, topic: string, payload: Buffer, receivedMs = Date.now()): Promise<IngestResult> {
  const text = payload.toString('utf8');
  return guarded(store, topic, text, receivedMs, () => carryOut(store, planMessage(topic, payload, text), topic, text, receivedMs));
}

/**
 * Runs a message's writes. The database refused its content (PostgreSQL: a NUL, a value out of range):
 * it becomes a dead letter and is acknowledged, so it cannot stop the stream. A database that is down,
 * full or busy is no fault of the message: that is thrown, and the message comes again.
 */
export async function guarded(store: CloudStore, topic: string, text: string, receivedMs: number, work: () => Promise<IngestResult>): Promise<IngestResult> {
  try {
    return await work();
  } catch (err) {
    if (!isMessageFault(err)) throw err;
    await store.deadLetter(topic, refusedReason(faultCode(err)), storable(text), receivedMs);
    return 'dead';
  }
}

export function refusedReason(code: string): string {
  return `the database refused the message (${code})`;
}

/** A message's text as a dead letter can hold it: a NUL (which PostgreSQL's text refuses) written out as \u0000. */
export function storable(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\\u0000') : text;
}

/**
 * What a message asks of the store, decided without touching it: validation happens here once, for
 * one message at a time (the MQTT consumer) and for a group in one transaction (JetStream) alike.
 */
export type Plan =
  | { do: 'dead'; reason: string }
  | { do: 'ignored' }
  | { do: 'agent'; tenant: string; store: string; agent: string; state: string | null; body: Record<string, unknown> }
  | { do: 'store'; request: StoreRequest };

export function planMessage(topic: string, payload: Buffer, rawText: string): Plan {
  const parts = topic.split('/');
  if (parts.length !== 6 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT || !NAME.test(parts[2]!) || !NAME.test(parts[3]!) || !NAME.test(parts[4]!)) {
    return { do: 'dead', reason: 'not an omniloop/v1/<tenant>/<store>/<agent>/<kind> topic' };
  }
  const [, , tenant, storeName, agent, kind] = parts as [string, string, string, string, string, string];
  // HQ's own downlink to a store (omniloop/v1/<tenant>/<store>/control/<what>) matches the shared
  // subscription too: not an agent's message ("control" is no agent's name).
  if (agent === 'control') return { do: 'ignored' };
  switch (kind) {
    case 'sightings': {
      const v = validateSightingsMessage(topic, payload);
      return v.ok ? { do: 'store', request: { kind: 'sightings', batch: v.value } } : { do: 'dead', reason: v.reason };
    }
    case 'status':
    case 'metrics': {
      if (payload.length === 0) return { do: 'ignored' }; // a cleared retained message
      let body: unknown;
      try {
        body = payload.length <= MAX_STATUS_BYTES ? JSON.parse(rawText) : null;
      } catch {
        body = null;
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) return { do: 'dead', reason: `${kind}: not a JSON object of at most ${MAX_STATUS_BYTES} bytes` };
      // A NUL in any string (escaped in the JSON): no database column holds it, no status needs it.
      if (rawText.includes('\\u0000') || rawText.includes('\u0000')) return { do: 'dead', reason: `${kind}: a string holds a NUL character` };
      // Stored and served by the API: whatever a sender put in it, no address, e-mail or phone stays.
      const b = redactDeep(body) as Record<string, unknown>;
      const state = kind === 'status' && (b.state === 'online' || b.state === 'offline') ? b.state : null;
      return { do: 'agent', tenant, store: storeName, agent, state, body: b };
    }
    case 'links': {
      const v = validateLinksMessage(topic, payload);
      return v.ok ? { do: 'store', request: { kind: 'links', batch: v.value } } : { do: 'dead', reason: v.reason };
    }
    case 'doctor': return { do: 'ignored' }; // `omniloop doctor`'s publish round-trip probe: nothing to store, not a dead letter
    default:
      return { do: 'dead', reason: `unknown message kind ${JSON.stringify(kind)}` };
  }
}

/** Writes what a plan says; a batch is stored alone, in its own transaction. */
export async function carryOut(store: CloudStore, p: Plan, topic: string, rawText: string, receivedMs: number): Promise<IngestResult> {
  const text = storable(rawText);
  switch (p.do) {
    case 'dead':
      await store.deadLetter(topic, p.reason, text, receivedMs);
      return 'dead';
    case 'ignored':
      return 'ignored';
    case 'agent':
      await store.upsertAgent(p.tenant, p.store, p.agent, p.state, p.body, receivedMs);
      return 'agent';
    case 'store': {
      const r = p.request;
      const outcome = r.kind === 'sightings' ? await store.ingestSightings(r.batch, receivedMs) : await store.ingestLinks(r.batch, receivedMs);
      return await recorded(store, outcome, r.batch.batchId, topic, text, receivedMs);
    }
  }
}

/**
 * A known batch id with other content is never dropped silently: the first content stays, the other is
 * kept as a dead letter saying so (and counted as a conflict in the stats).
 */
export async function recorded(store: CloudStore, outcome: IngestOutcome, batchId: string, topic: string, text: string, receivedMs: number): Promise<IngestResult> {
  if (outcome === 'conflict') await store.deadLetter(topic, `conflict: batch ${batchId} was stored before with other content; the first is kept`, text, receivedMs);
  return outcome;
}
