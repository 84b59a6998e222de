/**
 * HQ's opt-out list → every agent of the tenant: the whole list, retained on
 * `omniloop/v1/<tenant>/control/optout`, so an agent that connects later (or after a restart) gets it at
 * once. Versioned by time: agents never go back to an older list. Signed (shared/wire/control-signing.ts).
 */
import type { MqttClient } from 'mqtt';
import { OPTOUT_SCHEMA, type OptoutList } from '../../shared/wire/control-schema.js';
import { optoutTopic } from '../../shared/wire/topics.js';
import type { ControlSigner } from '../../shared/wire/control-signing.js';
import type { CloudStore } from '../store/cloud-store.js';

export async function optoutMessage(store: CloudStore, tenant: string, nowMs: number): Promise<OptoutList> {
  return { schema: OPTOUT_SCHEMA, tenant, version: nowMs, tokens: await store.optouts(tenant) };
}

/** Signed with the tenant's control key: agents apply nothing else. */
export async function publishOptoutList(client: MqttClient, list: OptoutList, signer: ControlSigner): Promise<void> {
  const topic = optoutTopic(list.tenant);
  await client.publishAsync(topic, signer.seal(topic, JSON.stringify(list)), { qos: 1, retain: true });
}
