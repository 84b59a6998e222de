/**
 * The broker, end to end: connect with the agent's own settings (URL, TLS files, credentials, protocol
 * version), publish one QoS 1 message to `omniloop/v1/<tenant>/<store>/<agent>/doctor` and time the
 * PUBACK. The cloud ignores that topic kind. A client id of its own, so a running agent is not thrown
 * off the broker (same id = session takeover); no will, nothing retained. Every way this fails gets a
 * reason and a fix; the password never appears in either.
 */
import { BrokerFileError, brokerSecrets } from '../../shared/broker/broker-files.js';
import { performance } from 'node:perf_hooks';
import mqtt, { type IClientOptions } from 'mqtt';
import { TOPIC_ROOT, type AgentIdentity } from '../../shared/wire/topics.js';
import type { AgentConfig } from '../config/agent-config.js';
import { fail, ok, warn, type CheckResult } from './check.js';

export type BrokerSettings = NonNullable<AgentConfig['broker']>;

/** A publish acknowledged slower than this works, but says the link is struggling. */
export const SLOW_ROUND_TRIP_MS = 2000;

export function doctorTopic(id: AgentIdentity): string {
  return `${TOPIC_ROOT}/${id.tenant}/${id.store}/${id.agent}/doctor`;
}

export type BrokerProbeResult =
  | { ok: true; connectMs: number; roundTripMs: number }
  | { ok: false; stage: 'connect' | 'publish'; code?: string | number; message: string; timedOut?: boolean };

/** One connect and one QoS 1 publish, within `timeoutMs` in all. */
export function probeBroker(url: string, options: IClientOptions, topic: string, timeoutMs: number): Promise<BrokerProbeResult> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let connectMs = -1;
    let settled = false;
    const client = mqtt.connect(url, { ...options, reconnectPeriod: 0, connectTimeout: timeoutMs, clean: true });
    const finish = (r: BrokerProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // end()'s callback can be late or missing for a socket that never opened: do not wait on it long.
      const done = (): void => resolve(r);
      setTimeout(done, 1000).unref();
      client.end(true, {}, done);
    };
    const stage = (): 'connect' | 'publish' => (connectMs < 0 ? 'connect' : 'publish');
    const timer = setTimeout(() => finish({ ok: false, stage: stage(), message: `no answer within ${timeoutMs} ms`, timedOut: true }), timeoutMs);
    client.on('error', (err: Error & { code?: string | number }) => finish({ ok: false, stage: stage(), code: err.code, message: err.message }));
    client.on('close', () => finish({ ok: false, stage: stage(), message: connectMs < 0 ? 'the connection closed before the broker answered' : 'the connection closed before the PUBACK' }));
    client.once('connect', () => {
      connectMs = performance.now() - t0;
      const sent = performance.now();
      client.publish(topic, JSON.stringify({ ts: Date.now() }), { qos: 1 }, (err) => {
        if (err) return finish({ ok: false, stage: 'publish', code: (err as Error & { code?: number }).code, message: err.message });
        finish({ ok: true, connectMs, roundTripMs: performance.now() - sent });
      });
    });
  });
}

interface Explained {
  summary: string;
  fix: string;
}

const TLS_UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE']);

/** Pure: a failed probe, as the technician should hear it. `where` is scheme://host:port (no credentials). */
export function explainBrokerFailure(r: Extract<BrokerProbeResult, { ok: false }>, where: string, protocolVersion: 4 | 5, topic: string, timeoutMs: number, hadUsername = false): Explained {
  const tls = where.startsWith('mqtts:') || where.startsWith('ssl:') || where.startsWith('wss:');
  const host = where.replace(/^[a-z]+:\/\//, '');
  const hostname = host.replace(/:\d+$/, '');
  const code = r.code;
  const credentials = 'check broker.username and broker.password / broker.passwordFile against the broker (Mosquitto: mosquitto_passwd)';
  if (r.stage === 'publish') {
    if (code === 135) return { summary: `connected to ${where}, but the broker refused the publish to ${topic} (not authorized)`, fix: `the broker's ACL must let this user publish to ${topic.replace(/\/doctor$/, '/#')}` };
    if (r.timedOut) return { summary: `connected to ${where}, but no PUBACK within ${timeoutMs} ms`, fix: `the broker or the link is overloaded: check the broker's load and log; try a longer --timeout-ms` };
    return { summary: `connected to ${where}, but the publish failed: ${r.message}`, fix: "check the broker's log for this client" };
  }
  switch (code) {
    case 4:
    case 134:
      return { summary: `${where} refused the credentials: bad username or password`, fix: credentials };
    case 5:
    case 135:
      // Mosquitto answers a wrong password with "not authorized" under MQTT 5: say both.
      return {
        summary: `${where} refused the credentials: not authorized (${hadUsername ? 'a wrong username or password, or a user it does not let connect' : 'no username was sent'})`,
        fix: `${credentials}; the broker must allow this user (and, with client certificates, this certificate) to connect`,
      };
    case 2:
    case 133:
      return {
        summary: `${where} rejected the client identifier`,
        fix: "the doctor connects as omniloop-doctor-<agent>-<random> so that the running agent keeps its session (and its last will is not triggered); if the broker allows only the agent's own id, the agent's connection is the test: omniloop status",
      };
    case 1:
    case 132:
      return { summary: `${where} does not speak MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}`, fix: `set broker.protocolVersion: ${protocolVersion === 5 ? 4 : 5} in the config` };
    case 3:
    case 136:
    case 137:
      return { summary: `${where} is unavailable or busy (${r.message})`, fix: "retry later; check the broker's load and log" };
    case 138:
      return { summary: `${where} has banned this client`, fix: "ask the broker's operator" };
    case 'ECONNREFUSED':
      return { summary: `nothing accepts connections on ${host} (connection refused)`, fix: `check broker.url (the port: usually 1883 plain, 8883 TLS) and that the broker runs; test from here: nc -vz ${hostname} ${host.split(':').pop()}` };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { summary: `cannot resolve ${hostname} (${code})`, fix: `check the host name in broker.url and this machine's DNS: getent hosts ${hostname}` };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return { summary: `${host} is unreachable (${code})`, fix: `check the network route and the firewall for outbound TCP to ${host}: nc -vz ${hostname} ${host.split(':').pop()}` };
    case 'CERT_HAS_EXPIRED':
      return { summary: `the certificate of ${where} has expired`, fix: "the broker's operator must renew its certificate (or this machine's clock is wrong: see the clock check)" };
    case 'CERT_NOT_YET_VALID':
      return { summary: `the certificate of ${where} is not valid yet`, fix: "check this machine's clock (the clock check); otherwise the broker's certificate has a wrong start date" };
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return { summary: `the certificate of ${where} is not issued for ${hostname}`, fix: 'use in broker.url the host name the broker\'s certificate is issued for' };
  }
  if (typeof code === 'string' && TLS_UNTRUSTED.has(code)) {
    return { summary: `the certificate of ${where} is not signed by a CA this agent trusts (${code})`, fix: "set broker.caFile to the CA certificate that signed the broker's certificate" };
  }
  if (/wrong version number|packet length too long|WRONG_VERSION/i.test(r.message)) {
    return { summary: `${host} does not speak TLS (${r.message})`, fix: `use mqtt://${host} for a plain port, or the broker's TLS port (usually 8883)` };
  }
  if (typeof code === 'string' && /^ERR_SSL|^ERR_TLS/.test(code)) {
    const certificate = /certificate required|bad certificate|unknown ca|handshake failure/i.test(r.message);
    return {
      summary: `the TLS handshake with ${where} failed: ${opensslReason(r.message)}`,
      fix: certificate ? "the broker wants a client certificate it trusts: set broker.certFile and broker.keyFile to this agent's certificate and key" : "compare broker.caFile/certFile/keyFile with the broker's TLS settings",
    };
  }
  if (/connack timeout/i.test(r.message)) {
    return {
      summary: `${host} accepted the connection but sent no CONNACK within ${timeoutMs} ms`,
      fix: `${tls ? 'check that the port is the broker\'s TLS port' : 'if the port speaks TLS, use mqtts://'}; an overloaded broker answers late (see its log; try a longer --timeout-ms)`,
    };
  }
  if (r.timedOut) return { summary: `no answer from ${host} within ${timeoutMs} ms`, fix: `check the network route and firewall for outbound TCP to ${host} (nc -vz ${hostname} ${host.split(':').pop()}); ${tls ? 'check the port speaks TLS' : 'a TLS port needs mqtts://'}` };
  if (/closed before/.test(r.message) || code === 'ECONNRESET' || code === 'EPIPE') {
    return {
      summary: `${where}: ${r.message}${code ? ` (${code})` : ''}`,
      fix: tls ? "the broker may want a client certificate (broker.certFile/keyFile) or the port may not speak TLS (mqtt://); see the broker's log" : "if the port speaks TLS, use mqtts://; see the broker's log",
    };
  }
  return { summary: `cannot connect to ${where}: ${r.message}`, fix: "check broker.url and the broker's log" };
}

/** "…:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:file.c:1601:…" → the reason alone. */
export function opensslReason(message: string): string {
  return /SSL routines:[^:]*:([^:]+):/.exec(message)?.[1] ?? message.split('\n')[0]!;
}

/** scheme://host:port of a broker URL, without any user:password@. */
export function brokerWhere(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}

/** The agent's own settings under a client id of the doctor's (throws BrokerFileError for a missing file). */
export function doctorClientOptions(broker: BrokerSettings, id: AgentIdentity): IClientOptions {
  const options: IClientOptions = {
    clientId: `omniloop-doctor-${id.agent}-${Math.random().toString(16).slice(2, 8)}`,
    protocolVersion: broker.protocolVersion,
    keepalive: 30,
  };
  if (broker.username) options.username = broker.username;
  Object.assign(options, brokerSecrets(broker));
  if (broker.rejectUnauthorized === false) options.rejectUnauthorized = false;
  return options;
}

export async function checkBroker(broker: BrokerSettings | undefined, id: AgentIdentity, timeoutMs: number): Promise<CheckResult> {
  if (!broker) return warn('broker', 'no broker in the config: sightings stay in the outbox and nothing reaches HQ', 'add a broker: { url: mqtts://broker.example.com:8883, username, passwordFile, caFile } section to the config');
  const where = brokerWhere(broker.url);
  let options: IClientOptions;
  try {
    options = doctorClientOptions(broker, id);
  } catch (err) {
    if (!(err instanceof BrokerFileError)) throw err;
    return fail('broker', err.message, err.setting === 'passwordFile' ? 'put the password there (one line, chmod 600) or correct broker.passwordFile' : `put the file there or correct broker.${err.setting} in the config`);
  }
  const topic = doctorTopic(id);
  const r = await probeBroker(broker.url, options, topic, timeoutMs);
  const protocol = broker.protocolVersion === 5 ? 'MQTT 5' : 'MQTT 3.1.1';
  if (!r.ok) {
    const e = explainBrokerFailure(r, where, broker.protocolVersion, topic, timeoutMs, !!broker.username);
    return fail('broker', e.summary, e.fix, { url: where, protocolVersion: broker.protocolVersion, stage: r.stage, code: r.code ?? null });
  }
  const connectMs = Math.round(r.connectMs);
  const roundTripMs = Math.round(r.roundTripMs * 10) / 10;
  const details = { url: where, protocolVersion: broker.protocolVersion, connectMs, roundTripMs, topic };
  const summary = `${where} (${protocol}): connected in ${connectMs} ms, QoS 1 publish acknowledged in ${roundTripMs} ms`;
  if (broker.rejectUnauthorized === false) return warn('broker', `${summary}; but the broker's certificate is not verified (rejectUnauthorized: false)`, "set broker.caFile to the broker's CA and remove rejectUnauthorized: false", details);
  if (r.roundTripMs > SLOW_ROUND_TRIP_MS) return warn('broker', summary, 'a slow link: the outbox absorbs it, but check the WAN and the broker\'s load', details);
  return ok('broker', summary, details);
}
