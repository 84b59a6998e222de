/**
 * The batch envelope of MQTT contract v1: schema version, the agent's identity, a batch id unique per
 * agent (agent, outbox instance, sequence) so redeliveries can be dropped, and the key epoch (store-day)
 * of every Consumer-ID inside.
 */
import type { AgentIdentity } from './topics.js';

export const SIGHTINGS_SCHEMA = 'omniloop.sightings/1';

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
