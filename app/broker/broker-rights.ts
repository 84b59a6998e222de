/**
 * Who may do what on the broker, derived from the roster. One user per agent and per HQ user:
 *
 * - an agent writes only its own uplink topics, `omniloop/v1/<tenant>/<store>/<agent>/<kind>`, and
 *   reads only its downlinks: the tenant's opt-out list and its store's control topics;
 * - HQ reads every omniloop topic and is the only writer of control topics.
 *
 * Usernames are `<tenant>.<store>.<agent>` and `hq.<name>`: names cannot hold a '.', so they never
 * collide, and Mosquitto refuses pattern ACLs for usernames with '/' in them.
 */
import { TOPIC_ROOT, optoutTopic, storeControlTopic, type AgentIdentity } from '../../shared/wire/topics.js';
import type { Roster } from './roster.js';

export interface BrokerUser {
  username: string;
  role: 'hq' | 'agent';
  /** For comments in the generated files: "agent acme/berlin-1/ap-1". */
  label: string;
  /** Topic filters this user may publish to. */
  write: string[];
  /** Topic filters whose messages this user may receive. */
  read: string[];
}

export function agentUsername(id: AgentIdentity): string {
  return `${id.tenant}.${id.store}.${id.agent}`;
}

export function hqUsername(name: string): string {
  return `hq.${name}`;
}

/** Every omniloop topic HQ consumes or publishes; its control topics, for writing. */
export const HQ_READ = [`${TOPIC_ROOT}/#`];
export const HQ_WRITE = [optoutTopic('+'), storeControlTopic('+', '+')];

export function agentRights(id: AgentIdentity): Pick<BrokerUser, 'write' | 'read'> {
  // `+`, not `#`: exactly the six-level topics HQ reads, never the agent level itself or anything below a kind.
  return { write: [`${TOPIC_ROOT}/${id.tenant}/${id.store}/${id.agent}/+`], read: [optoutTopic(id.tenant), storeControlTopic(id.tenant, id.store)] };
}

/** HQ's users first, then every agent, in roster order. */
export function brokerUsers(roster: Roster): BrokerUser[] {
  const users: BrokerUser[] = roster.hq.map((name) => ({ username: hqUsername(name), role: 'hq', label: `HQ ${name}`, write: HQ_WRITE, read: HQ_READ }));
  for (const [tenant, stores] of Object.entries(roster.tenants)) {
    for (const [store, agents] of Object.entries(stores)) {
      for (const agent of agents) {
        const id = { tenant, store, agent };
        users.push({ username: agentUsername(id), role: 'agent', label: `agent ${tenant}/${store}/${agent}`, ...agentRights(id) });
      }
    }
  }
  return users;
}
