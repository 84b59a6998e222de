/** MQTT contract v1 topics (DESIGN.md), in one place for both sides. */
export const TOPIC_ROOT = 'omniloop/v1';

export type AgentTopicKind = 'sightings' | 'links' | 'status' | 'metrics';

export interface AgentIdentity {
  tenant: string;
  store: string;
  agent: string;
}

export function agentTopic(id: AgentIdentity, kind: AgentTopicKind): string {
  return `${TOPIC_ROOT}/${id.tenant}/${id.store}/${id.agent}/${kind}`;
}

export function optoutTopic(tenant: string): string {
  return `${TOPIC_ROOT}/${tenant}/control/optout`;
}

export function storeControlTopic(tenant: string, store: string): string {
  return `${TOPIC_ROOT}/${tenant}/${store}/control/#`;
}

/** What the cloud subscribes to: every agent topic of every tenant, split among consumers of a group. */
export function sharedSubscription(group: string): string {
  return `$share/${group}/${TOPIC_ROOT}/+/+/+/+`;
}
