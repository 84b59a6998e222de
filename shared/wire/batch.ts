/**
 * The batch envelope of MQTT contract v1: schema version, the agent's identity, a batch id unique per
 * agent (agent, outbox instance, sequence) so redeliveries can be dropped, and the key epoch (store-day)
 * of every Consumer-ID inside.
 */
import type { AgentIdentity } from './topics.js';

export const SIGHTINGS_SCHEMA = 'omniloop.sightings/1';

/** HQ refuses a sightings or links message larger than this before parsing it (contract §6.1). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/**
 * The most the agent lets one published payload grow to, envelope included: HQ's limit less a margin,
 * so a broker that counts its packet header, or a field added to the envelope, never tips a batch over.
 */
export const MAX_BATCH_BYTES = MAX_MESSAGE_BYTES - 64 * 1024;
/** What `envelope()` adds to a stored body, at most (names of 64 characters, a 15-digit seq). */
export const ENVELOPE_MAX_BYTES = 512;
export const LINKS_SCHEMA = 'omniloop.links/1';

/** What the outbox holds: each row is one batch of one kind, published on the topic of that kind. */
export type BatchKind = 'sightings' | 'links';

export const SCHEMA_OF_KIND: Record<BatchKind, string> = { sightings: SIGHTINGS_SCHEMA, links: LINKS_SCHEMA };

export function isBatchKind(kind: string): kind is BatchKind {
  return kind === 'sightings' || kind === 'links';
}

export function batchId(agent: string, instance: string, seq: number): string {
  return `${agent}:${instance}:${seq}`;
}

/**
 * The message text: the envelope fields first, then the stored body's fields. Done on text so a stored
 * body is never parsed again on the way out.
 */
export function envelope(schema: string, id: AgentIdentity, instance: string, seq: number, epoch: string, body: string): string {
  const head = JSON.stringify({ schema, tenant: id.tenant, store: id.store, agent: id.agent, batchId: batchId(id.agent, instance, seq), seq, epoch });
  return body === '{}' ? head : `${head.slice(0, -1)},${body.slice(1)}`;
}
