/**
 * One MQTT message in, one outcome out: validated sightings go to the store (idempotently by batch id),
 * agent status and metrics update the agent table, everything that fails validation is parked as a
 * dead letter with its reason. Never throws on a message's content (only on a database failure): one
 * bad message never stops the stream.
 */
import { validateSightingsMessage } from '../../shared/wire/sightings-schema.js';
import { validateLinksMessage } from '../../shared/wire/links-schema.js';
import { TOPIC_ROOT } from '../../shared/wire/topics.js';
import type { CloudStore } from '../store/cloud-store.js';

export type IngestResult = 'stored' | 'duplicate' | 'dead' | 'agent' | 'ignored';

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const MAX_STATUS_BYTES = 64 * 1024;

export async function ingestMessage(store: CloudStore, topic: string, payload: Buffer, receivedMs = Date.now()): Promise<IngestResult> {
  const parts = topic.split('/');
  const text = payload.toString('utf8');
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
      return await store.ingestSightings(v.value, receivedMs);
    }
    case 'status':
    case 'metrics': {
      if (payload.length === 0) return 'ignored'; // a cleared retained message
      let body: unknown;
      try {
        body = payload.length <= MAX_STATUS_BYTES ? JSON.parse(text) : null;
      } catch {
        body = null;
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        await store.deadLetter(topic, `${kind}: not a JSON object of at most ${MAX_STATUS_BYTES} bytes`, text, receivedMs);
        return 'dead';
      }
      const b = body as Record<string, unknown>;
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
      return await store.ingestLinks(v.value, receivedMs);
    }
    case 'doctor': return 'ignored'; // `omniloop doctor`'s publish round-trip probe: nothing to store, not a dead letter
    default:
      await store.deadLetter(topic, `unknown message kind ${JSON.stringify(kind)}`, text, receivedMs);
      return 'dead';
  }
}
