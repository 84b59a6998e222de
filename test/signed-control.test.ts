/**
 * Issue 14, finding 1: "Opt-out can be switched off for a whole tenant." A retained message on
 * omniloop/v1/<tenant>/control/optout with version 2^53−1 and no tokens was applied and cached, HQ's later
 * lists were ignored, it survived restarts, and opted-out addresses were accepted again. Now HQ signs its
 * downlink (Ed25519, one key pair per tenant) and agents apply only what it signed for that topic, only
 * forward in time, never dated far ahead — over a real Mosquitto, across restarts, and from the cache file.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentConfigSchema } from '../agents/config/agent-config.js';
import { Pseudonymizer } from '../agents/pseudonymize/pseudonymizer.js';
import { Agent } from '../agents/runtime/agent.js';
import { macToBytes } from '../agents/decode/observation.js';
import { deriveOptoutKey } from '../shared/identity/keys.js';
import { optoutToken } from '../shared/identity/optout.js';
import { createLogger } from '../shared/log.js';
import { OPTOUT_SCHEMA, SEGMENTS_SCHEMA } from '../shared/wire/control-schema.js';
import { ControlVerifier, parseControlPublicKey } from '../shared/wire/control-signing.js';
import { PcapWriter } from '../scripts/lib/capture-writer.js';
import { concat, probeRequest, radiotapHeader } from '../scripts/lib/frames.js';
import { testControlKeys } from './helpers/control-keys.js';
import { Mosquitto, freePort } from './helpers/mosquitto.js';
import { runCli } from './helpers/cli.js';

const SECRET = Buffer.alloc(32, 4);
const dir = mkdtempSync(join(tmpdir(), 'omniloop-signed-'));
const log = createLogger('test', 'silent');
const X = 0xf01898010203; // the device that opted out
const TOKEN_X = optoutToken(deriveOptoutKey(SECRET, 'acme'), macToBytes(X));
const OPTOUT_TOPIC = 'omniloop/v1/acme/control/optout';
const SEGMENTS_TOPIC = 'omniloop/v1/acme/berlin-1/control/segments';
const MAX_SAFE = 9007199254740991;
const hq = testControlKeys();
const attacker = testControlKeys();
const list = (version: number, tokens: string[]) => ({ schema: OPTOUT_SCHEMA, tenant: 'acme', version, tokens });
const seal = (topic: string, msg: unknown, keys = hq) => keys.signer.seal(topic, JSON.stringify(msg));

function agentFor(name: string, opts: { url?: string; publicKeys?: string[] | null } = {}): Agent {
  const cfg = agentConfigSchema.parse({
    tenant: 'acme',
    store: 'berlin-1',
    agent: 'ap-1',
    keyFile: 'unused',
    outbox: { path: join(dir, `${name}.db`) },
    optoutCacheFile: join(dir, `${name}-optout.json`),
    status: { port: 0 },
    ...(opts.url ? { broker: { url: opts.url } } : {}),
    ...(opts.publicKeys === null ? {} : { control: { publicKeys: opts.publicKeys ?? [hq.publicKey] } }),
  });
  return new Agent(cfg, new Pseudonymizer({ secret: SECRET, tenant: 'acme', timezone: 'UTC' }), log);
}
const control = (a: Agent, topic: string, payload: string) => a.onControl(topic, Buffer.from(payload));

describe('signed control messages (the agent)', () => {
  it('refuses the attack of the finding: an unsigned list with version 2^53-1 and no tokens', () => {
    const a = agentFor('attack');
    control(a, OPTOUT_TOPIC, seal(OPTOUT_TOPIC, list(Date.now(), [TOKEN_X])));
    const genuine = a.optoutVersion;
    expect(genuine).toBeGreaterThan(0);
    control(a, OPTOUT_TOPIC, JSON.stringify(list(MAX_SAFE, [])));
    expect(a.optoutVersion).toBe(genuine);
    expect(a.controlRejected).toBe(1);
    // HQ's next list still applies.
    control(a, OPTOUT_TOPIC, seal(OPTOUT_TOPIC, list(genuine + 1000, [TOKEN_X])));
    expect(a.optoutVersion).toBe(genuine + 1000);
    a.outbox.close();
  });

  it('refuses other keys, changed bodies, a signature for another topic, and far-future versions even when signed', () => {
    const a = agentFor('forgeries');
    const now = Date.now();
    control(a, OPTOUT_TOPIC, seal(OPTOUT_TOPIC, list(now, [TOKEN_X])));
    // Signed by someone else.
    control(a, OPTOUT_TOPIC, seal(OPTOUT_TOPIC, list(now + 1, []), attacker));
    // HQ's envelope with its body changed.
    const env = JSON.parse(seal(OPTOUT_TOPIC, list(now + 2, [TOKEN_X])));
    control(a, OPTOUT_TOPIC, JSON.stringify({ ...env, body: JSON.stringify(list(now + 2, [])) }));
    // A genuine envelope made for another topic (a store's segments) replayed here.
    control(a, OPTOUT_TOPIC, seal(SEGMENTS_TOPIC, list(now + 3, [])));
    // Signed, but dated two days ahead: it would lock out HQ's next lists.
    control(a, OPTOUT_TOPIC, seal(OPTOUT_TOPIC, list(now + 2 * 86_400_000, [])));
    // Not JSON, not an envelope, an empty retained clear (not counted: it is no message).
    control(a, OPTOUT_TOPIC, '{"schema":');
    control(a, OPTOUT_TOPIC, '{"schema":"omniloop.signed/1","key":"00","body":"","sig":""}');
    a.onControl(OPTOUT_TOPIC, Buffer.alloc(0));
    expect(a.optoutVersion).toBe(now);
    expect(a.controlRejected).toBe(6);
    // The list can shrink, but only with HQ's signature.
    control(a, OPTOUT_TOPIC, seal(OPTOUT_TOPIC, list(now + 10, [])));
    expect(a.optoutVersion).toBe(now + 10);
    a.outbox.close();
  });

  it('applies segments HQ signed for this store only, never dated ahead', () => {
    const a = agentFor('segments');
    const push = { schema: SEGMENTS_SCHEMA, tenant: 'acme', store: 'berlin-1', epoch: '2026-12-04', ts: Date.now(), cids: { ['a'.repeat(32)]: ['regulars'] } };
    control(a, SEGMENTS_TOPIC, JSON.stringify(push)); // unsigned
    control(a, SEGMENTS_TOPIC, seal('omniloop/v1/acme/paris-1/control/segments', push)); // another store's topic
    control(a, SEGMENTS_TOPIC, seal(SEGMENTS_TOPIC, { ...push, ts: Date.now() + 86_400_000 })); // far ahead
    expect(a.segments.updatedMs).toBeNull();
    expect(a.controlRejected).toBe(3);
    control(a, SEGMENTS_TOPIC, seal(SEGMENTS_TOPIC, push));
    expect(a.segments.updatedMs).toBe(push.ts);
    a.outbox.close();
  });

  it('applies no downlink without control.publicKeys, and trusts every listed key (rotation)', () => {
    const none = agentFor('no-keys', { publicKeys: null });
    control(none, OPTOUT_TOPIC, seal(OPTOUT_TOPIC, list(Date.now(), [TOKEN_X])));
    expect(none.optoutVersion).toBe(0);
    expect(none.describe().control).toEqual({ signed: false, rejected: 1 });
    none.outbox.close();
    const both = agentFor('rotation', { publicKeys: [attacker.publicKey, hq.publicKey] });
    const t = Date.now();
    control(both, OPTOUT_TOPIC, seal(OPTOUT_TOPIC, list(t, [TOKEN_X]), attacker));
    control(both, OPTOUT_TOPIC, seal(OPTOUT_TOPIC, list(t + 1, [TOKEN_X]), hq));
    expect(both.optoutVersion).toBe(t + 1);
    both.outbox.close();
  });

  it('never applies a cache file it cannot verify (written by hand, or by an agent before signing)', () => {
    const a = agentFor('cache');
    const t = Date.now();
    control(a, OPTOUT_TOPIC, seal(OPTOUT_TOPIC, list(t, [TOKEN_X])));
    a.outbox.close();
    expect(agentFor('cache').optoutVersion).toBe(t); // the signed envelope from the cache
    writeFileSync(join(dir, 'cache-optout.json'), JSON.stringify(list(MAX_SAFE, [])));
    expect(agentFor('cache').optoutVersion).toBe(0);
  });
});

describe('signed control over a real broker', () => {
  let broker: Mosquitto;
  const capture = join(dir, 'x.pcap');
  beforeAll(async () => {
    broker = new Mosquitto(await freePort());
    await broker.start();
    const w = new PcapWriter(capture, 127);
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < 10; i++) w.add(t0 + i * 1000, concat(radiotapHeader({ flags: 0, freqMhz: 2412, signalDbm: -40 }), probeRequest({ sa: X, seq: i })));
    w.close();
  });
  afterAll(async () => broker.stop());

  it("a retained forged list neither switches opt-out off nor survives a restart; HQ's signed list stays in force", async () => {
    const pub = mqtt.connect(broker.url);
    await new Promise((r) => pub.once('connect', r));
    await pub.publishAsync(OPTOUT_TOPIC, seal(OPTOUT_TOPIC, list(Date.now(), [TOKEN_X])), { qos: 1, retain: true });
    const a = agentFor('e2e', { url: broker.url });
    a.start();
    for (let i = 0; i < 250 && a.optoutVersion === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const genuine = a.optoutVersion;
    expect(genuine).toBeGreaterThan(0);
    // The attack, retained: every agent connecting later receives it.
    await pub.publishAsync(OPTOUT_TOPIC, JSON.stringify(list(MAX_SAFE, [])), { qos: 1, retain: true });
    for (let i = 0; i < 250 && a.controlRejected === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(a.controlRejected).toBe(1);
    await a.replay(capture, 'max');
    expect(a.pipeline.counters.optedOut).toBe(10);
    await a.stop(500);
    // Restarted: the forged retained message arrives first; the cached signed list stays in force.
    const b = agentFor('e2e', { url: broker.url });
    b.start();
    for (let i = 0; i < 250 && b.controlRejected === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(b.optoutVersion).toBe(genuine);
    await b.replay(capture, 'max');
    expect(b.pipeline.counters.optedOut).toBe(10);
    // HQ publishes again: applied.
    await pub.publishAsync(OPTOUT_TOPIC, seal(OPTOUT_TOPIC, list(genuine + 5, [TOKEN_X])), { qos: 1, retain: true });
    for (let i = 0; i < 250 && b.optoutVersion === genuine; i++) await new Promise((r) => setTimeout(r, 20));
    expect(b.optoutVersion).toBe(genuine + 5);
    await b.stop(500);
    await pub.endAsync();
  });
});

describe('omniloop key control', () => {
  it('writes an Ed25519 key (0600, never over a file) and prints the public key agents list; HQ refuses a key others can read', () => {
    const out = join(dir, 'acme-control.key');
    const r = runCli(['key', 'control', '--tenant', 'acme', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const made = JSON.parse(r.stdout) as { publicKey: string; keyId: string; mode: string };
    expect(made.mode).toBe('0600');
    expect(readFileSync(out, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    // The printed key verifies what the file signs.
    expect(new ControlVerifier([parseControlPublicKey(made.publicKey)]).size).toBe(1);
    expect(JSON.parse(runCli(['key', 'public', '--key', out, '--json']).stdout)).toEqual({ publicKey: made.publicKey, keyId: made.keyId });
    const again = runCli(['key', 'control', '--tenant', 'acme', '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/refusing to overwrite/);
    const loose = join(dir, 'loose-control.key');
    writeFileSync(loose, readFileSync(out), { mode: 0o644 });
    const refused = runCli(['key', 'public', '--key', loose]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/readable by others \(mode 0644\): chmod 600/);
    expect(refused.stderr).not.toMatch(/at .*\.js/); // one line, no stack
  });
});
