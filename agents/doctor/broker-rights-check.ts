/**
 * What the agent's broker credentials may do beyond their own topics. An agent should write only
 * `omniloop/v1/<tenant>/<store>/<agent>/<kind>` and read only its downlinks (docs/broker.md); a broker
 * that lets it do more lets one store forge another's data or read every tenant's. The probes are
 * harmless if the broker wrongly allows them: they publish to `doctor` topics, which HQ ignores, and to
 * a control subtopic agents ignore; nothing is retained, and nothing received is kept or shown.
 *
 * Under MQTT 5 a refused publish gets PUBACK reason 135. Mosquitto's acl_file grants every SUBSCRIBE
 * and filters at delivery, so reading is judged by what arrives: the agent's own probe, which its rights
 * never let it read back.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type IClientOptions } from 'mqtt';
import { BrokerFileError } from '../../shared/broker/broker-files.js';
import { TOPIC_ROOT, type AgentIdentity } from '../../shared/wire/topics.js';
import { doctorClientOptions, doctorTopic, type BrokerSettings } from './broker-check.js';
import { ok, warn, type CheckResult } from './check.js';

export type Outcome = 'refused' | 'allowed' | 'unknown';
export type ProbeName = 'otherAgent' | 'otherTenant' | 'control';

export interface ProbeTopics {
  own: string;
  publish: Record<ProbeName, string>;
  /** Every agent's doctor topic, of every tenant. */
  read: string;
}

export interface RightsProbe {
  /** null: the broker closed the connection or did not answer before the probe ended. */
  subscribeRefused: boolean | null;
  /** PUBACK per probe topic: 'acked', a reason code, or null when none came. */
  pubacks: Record<ProbeName | 'own', 'acked' | number | null>;
  /** Probe topics whose message came back through the subscription. */
  delivered: string[];
}

/** A name other than `name`, valid in a topic level, for the other agent and the other tenant. */
const other = (name: string): string => (name === 'omniloop-doctor' ? 'omniloop-doctor-2' : 'omniloop-doctor');

export function probeTopics(id: AgentIdentity): ProbeTopics {
  return {
    own: doctorTopic(id),
    publish: {
      otherAgent: doctorTopic({ ...id, agent: other(id.agent) }),
      otherTenant: doctorTopic({ ...id, tenant: other(id.tenant) }),
      control: `${TOPIC_ROOT}/${id.tenant}/${id.store}/control/doctor`,
    },
    read: `${TOPIC_ROOT}/+/+/+/doctor`,
  };
}

const DESCRIBE: Record<ProbeName | 'read', string> = {
  otherAgent: 'write as another agent of its store',
  otherTenant: 'write as another tenant',
  control: "write its store's control topics (HQ's downlink)",
  read: "read other agents' uplink topics",
};

/** Pure: what the probe shows, as the technician and HQ's broker operator should hear it. */
export function judgeRights(p: RightsProbe, topics: ProbeTopics, protocolVersion: 4 | 5): CheckResult {
  const outcome = {} as Record<ProbeName | 'read', Outcome>;
  for (const name of Object.keys(topics.publish) as ProbeName[]) {
    const ack = p.pubacks[name];
    if (p.delivered.includes(topics.publish[name])) outcome[name] = 'allowed';
    else if (ack === 135) outcome[name] = 'refused';
    // MQTT 3.1.1 has no reason codes: the broker acknowledges a publish it drops.
    else if (ack === 'acked' && protocolVersion === 5) outcome[name] = 'allowed';
    else outcome[name] = 'unknown';
  }
  outcome.read = p.delivered.includes(topics.own) ? 'allowed' : p.subscribeRefused !== null && p.pubacks.own === 'acked' ? 'refused' : 'unknown';
  const names = Object.keys(outcome) as (ProbeName | 'read')[];
  const allowed = names.filter((n) => outcome[n] === 'allowed');
  const unknown = names.filter((n) => outcome[n] === 'unknown');
  const details = { ...outcome, protocolVersion };
  if (allowed.length > 0) {
    const harm = [allowed.some((n) => n !== 'read') ? "forge other stores' data" : '', outcome.read === 'allowed' ? "read other stores' and tenants' data" : ''].filter(Boolean).join(' and ');
    return warn(
      'broker-rights',
      `the broker lets these credentials ${allowed.map((n) => DESCRIBE[n]).join(', ')}: one store's credentials can ${harm}`,
      "HQ's broker operator: give every agent its own user with the rights of `omniloop broker provision` (docs/broker.md), then run the doctor again",
      details,
    );
  }
  const why = protocolVersion === 4 ? 'under MQTT 3.1.1 a broker does not say when it drops a publish' : 'the broker did not answer every probe';
  const refused = names.filter((n) => outcome[n] === 'refused').map((n) => DESCRIBE[n].replace(/^(write|read)/, 'to $1'));
  if (refused.length === 0) return warn('broker-rights', `could not tell what these credentials may do (${why})`, 'run the doctor again; if this stays, see the broker check and the broker\'s log', details);
  const checked = `the broker refuses these credentials ${refused.join(', ')}`;
  return ok('broker-rights', unknown.length ? `${checked}; not known: ${unknown.map((n) => DESCRIBE[n]).join(', ')} (${why})` : checked, details);
}

/** One connection: subscribe to every doctor topic, publish each probe at QoS 1, then listen briefly. */
export function probeRights(url: string, options: IClientOptions, topics: ProbeTopics, timeoutMs: number): Promise<RightsProbe> {
  return new Promise((resolve) => {
    const nonce = randomBytes(8).toString('hex');
    const result: RightsProbe = { subscribeRefused: null, pubacks: { own: null, otherAgent: null, otherTenant: null, control: null }, delivered: [] };
    const client = mqtt.connect(url, { ...options, reconnectPeriod: 0, connectTimeout: timeoutMs, clean: true });
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const done = (): void => resolve(result);
      setTimeout(done, 1000).unref();
      client.end(true, {}, done);
    };
    const timer = setTimeout(finish, timeoutMs);
    client.on('error', finish);
    client.on('close', finish);
    // Only our own probes count (another doctor may be probing at the same time); nothing else is kept.
    client.on('message', (topic, payload) => {
      if (payload.length < 256 && payload.toString('utf8').includes(nonce) && !result.delivered.includes(topic)) result.delivered.push(topic);
    });
    client.once('connect', () => {
      client.subscribe(topics.read, { qos: 1 }, (err) => {
        if (settled) return;
        result.subscribeRefused = err ? ((err as Error & { code?: number }).code ?? 0x80) >= 0x80 : false;
        const all: [ProbeName | 'own', string][] = [['own', topics.own], ...(Object.entries(topics.publish) as [ProbeName, string][])];
        let pending = all.length;
        for (const [name, topic] of all) {
          client.publish(topic, JSON.stringify({ ts: Date.now(), rights: nonce }), { qos: 1 }, (e) => {
            result.pubacks[name] = e ? ((e as Error & { code?: number }).code ?? null) : 'acked';
            // Deliveries follow the PUBACKs closely; a short wait catches them.
            if (--pending === 0) setTimeout(finish, Math.min(500, timeoutMs / 4));
          });
        }
      });
    });
  });
}

export async function checkBrokerRights(broker: BrokerSettings, id: AgentIdentity, timeoutMs: number): Promise<CheckResult> {
  let options: IClientOptions;
  try {
    options = doctorClientOptions(broker, id);
  } catch (err) {
    if (err instanceof BrokerFileError) return warn('broker-rights', `not checked: ${err.message}`, 'see the broker check');
    throw err;
  }
  const topics = probeTopics(id);
  return judgeRights(await probeRights(broker.url, options, topics, timeoutMs), topics, broker.protocolVersion);
}
