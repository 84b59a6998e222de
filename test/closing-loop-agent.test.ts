/**
 * The agent's side of closing the loop: identify events hashed on arrival and published as links, HQ's
 * opt-out list applied at once and cached for a restart without broker, segments pushed by HQ turned
 * into a k-anonymous audience mix for signage — against a real Mosquitto.
 */
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentConfigSchema, type AgentConfig } from '../agents/config/agent-config.js';
import { identify } from '../agents/identify/identify.js';
import { Presence } from '../agents/activation/presence.js';
import { SegmentBook, audienceMix } from '../agents/activation/audience-mix.js';
import { Pseudonymizer } from '../agents/pseudonymize/pseudonymizer.js';
import { Agent } from '../agents/runtime/agent.js';
import { StoreApi } from '../agents/runtime/store-api.js';
import { deriveLinkKey, deriveOptoutKey } from '../shared/identity/keys.js';
import { networkToken } from '../shared/identity/link-keys.js';
import { optoutToken } from '../shared/identity/optout.js';
import { createLogger } from '../shared/log.js';
import { validateLinksMessage } from '../shared/wire/links-schema.js';
import { OPTOUT_SCHEMA, SEGMENTS_SCHEMA } from '../shared/wire/control-schema.js';
import { testControlKeys } from './helpers/control-keys.js';
import { macToBytes } from '../agents/decode/observation.js';
import { PcapWriter } from '../scripts/lib/capture-writer.js';
import { concat, probeRequest, radiotapHeader } from '../scripts/lib/frames.js';
import { Mosquitto, collect, freePort } from './helpers/mosquitto.js';
import { VECTORS, runCli } from './helpers/cli.js';

const v = JSON.parse(readFileSync(join(VECTORS, 'identity-v1.json'), 'utf8'));
const SECRET = Buffer.from(v.secret_hex, 'hex');
const dir = mkdtempSync(join(tmpdir(), 'omniloop-loop-'));
const log = createLogger('test', 'silent');
const TOKEN = 'store-api-token-for-tests';
const DAY = Date.parse('2026-11-22T12:00:00Z'); // store-day 2026-11-22 in UTC
/** A GET with the path exactly as written (no URL normalization). */
const rawStatus = (base: string, path: string) =>
  new Promise<number>((resolve, reject) => {
    const u = new URL(base);
    request({ host: u.hostname, port: u.port, path }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
const pseudo = () => new Pseudonymizer({ secret: SECRET, tenant: 'acme', timezone: 'UTC' });

describe('identify events (pure)', () => {
  const ctx = () => ({ pseudonymizer: pseudo(), linkKey: deriveLinkKey(SECRET, 'acme'), defaultCountryCode: '49', now: () => DAY });
  const jane = v.mac_consumer_ids.find((x: { mac: string; date: string }) => x.mac === 'F0:18:98:01:02:03' && x.date === '2026-11-22');

  it('hashes everything exactly as identity scheme v1 says', () => {
    const r = identify({ mac: 'F0:18:98:01:02:03', email: '  Jane.Doe@Example.COM ', phone: '+49 30 1234567', loyaltyId: ' ab-12345 ', consent: { marketing: true } }, ctx());
    expect(r).toEqual({
      ok: true,
      epoch: '2026-11-22',
      linkedDevice: true,
      connected: false,
      link: { ts: DAY, cid: jane.cid, hem: v.hashed_emails[0].sha256, hph: v.hashed_phones[0].sha256, loyalty: v.loyalty_ids[0].key, consent: { marketing: true } },
    });
    expect(JSON.stringify(r)).not.toMatch(/jane|example|1234567|AB-12345|f0:18/i);
  });

  it('links the per-network address of a connected device like a global one, with its network token', () => {
    const lk = deriveLinkKey(SECRET, 'acme');
    const mac = 'da:a1:19:00:00:01';
    const token = networkToken(lk, macToBytes(0xdaa119000001));
    // Seen associated by the agent...
    const seen = identify({ mac, email: 'jane@example.com', consent: { marketing: true } }, { ...ctx(), isConnected: (m) => m === 0xdaa119000001 });
    expect(seen).toMatchObject({ ok: true, linkedDevice: true, connected: true });
    expect(seen.ok && seen.link).toMatchObject({ cid: pseudo().cidForMac(0xdaa119000001, DAY), net: token, hem: expect.any(String), consent: { marketing: true } });
    // ...or the portal says so.
    const portal = identify({ mac, email: 'jane@example.com', consent: { marketing: false }, connected: true }, ctx());
    expect(portal).toMatchObject({ ok: true, linkedDevice: true, connected: true, link: { net: token } });
    // The token is the same on every day and in every store; the Consumer-ID is the day's.
    const nextWeek = identify({ mac, email: 'jane@example.com', consent: { marketing: true }, connected: true, ts: DAY }, { ...ctx(), now: () => DAY + 3_600_000 });
    expect(nextWeek.ok && nextWeek.link.net).toBe(token);
    expect(JSON.stringify([seen, portal])).not.toMatch(/jane|example|da:a1/i);
    // Not connected: the present rule (a randomized address is no device node).
    expect(identify({ mac, email: 'jane@example.com', consent: { marketing: false }, connected: false }, { ...ctx(), isConnected: () => false })).toMatchObject({ ok: false, status: 422, reason: /not seen connected/ });
  });

  it('refuses what it cannot link, with a reason that repeats nothing it was sent', () => {
    const c = ctx();
    expect(identify({ mac: 'F0:18:98:01:02:03', consent: { marketing: true } }, c)).toMatchObject({ ok: false, status: 422, reason: 'give at least one of email, phone, loyaltyId' });
    // A randomized address is ephemeral: no device node, so two other identifiers are needed.
    expect(identify({ mac: 'da:a1:19:00:00:01', email: 'jane@example.com', consent: { marketing: false } }, c)).toMatchObject({ ok: false, status: 422, reason: /randomized/ });
    const two = identify({ mac: 'da:a1:19:00:00:01', email: 'jane@example.com', loyaltyId: 'X1', consent: { marketing: false } }, c);
    expect(two).toMatchObject({ ok: true, linkedDevice: false });
    expect(two.ok && two.link.cid).toBeUndefined();
    expect(identify({ mac: '01:00:5e:00:00:01', email: 'jane@example.com', consent: { marketing: false } }, c)).toMatchObject({ status: 422, reason: /group/ });
    const bad = identify({ mac: 'F0:18:98:01:02:03', email: 'jane.doe@', consent: { marketing: false } }, c);
    expect(bad).toMatchObject({ ok: false, status: 422 });
    expect(JSON.stringify(bad)).not.toContain('jane');
    // Issue 14, finding 8: the unknown field's name was echoed ("unknown field name"); a name can be anything.
    const unknown = identify({ mac: 'F0:18:98:01:02:03', email: 'a@b.de', consent: { marketing: false }, 'jane.doe@example.com': 'Jane' }, c);
    expect(unknown).toMatchObject({ status: 400, reason: 'body: unknown field (1)' });
    expect(JSON.stringify(unknown)).not.toMatch(/jane/i);
    // Issue 14, finding 9: NUL and invisible characters in e-mails were hashed into the graph.
    for (const email of ['jane@example.com\u0000', 'ja\u200bne@example.com', 'jane@exa\u202emple.com', '\ufeffjane@example.com']) {
      const r = identify({ mac: 'F0:18:98:01:02:03', email, consent: { marketing: false } }, c);
      expect(r).toMatchObject({ ok: false, status: 422, reason: 'email contains control or invisible characters' });
    }
    expect(identify({ mac: 'F0:18:98:01:02:03', loyaltyId: 'AB\u00001', email: 'a@b.de', consent: { marketing: false } }, c)).toMatchObject({ status: 422, reason: /loyaltyId contains/ });
    expect(identify({ mac: 'F0:18:98:01:02:03', phone: '+49 30\t1234567', consent: { marketing: false } }, c)).toMatchObject({ status: 422, reason: /phone contains/ });
    expect(identify({ mac: 'F0:18:98:01:02:03', email: 'a@b.de' }, c)).toMatchObject({ status: 400, reason: /consent/ });
    expect(identify({ mac: 'F0:18:98:01:02:03', email: 'a@b.de', consent: { marketing: true }, ts: DAY - 2 * 86_400_000 }, c)).toMatchObject({ status: 422, reason: /24 hours/ });
    // A backfill of past events (the demo's history) allows older ones, keyed with their own day.
    const old = identify({ mac: 'F0:18:98:01:02:03', email: 'a@b.de', consent: { marketing: true }, ts: DAY - 86_400_000 - 1000 }, { ...c, maxAgeMs: 7 * 86_400_000 });
    expect(old).toMatchObject({ ok: true, epoch: '2026-11-21' });
    expect(identify({ mac: 'nope', email: 'a@b.de', consent: { marketing: true } }, c)).toMatchObject({ status: 422, reason: /not a MAC address/ });
  });
});

describe('audience mix (pure)', () => {
  it('counts who is present now by zone and segment, k-anonymous', () => {
    const p = new Presence(120_000);
    p.note('a', 1_000, -50);
    p.note('b', 2_000, -70);
    p.note('c', 3_000, -80);
    p.note('old', 0, -40);
    p.note('a', 200_000, -52); // now = 200 s: 'b', 'c' and 'old' have left
    expect(p.present().sort()).toEqual(['a']);
    p.note('b', 201_000, -70);
    p.note('c', 202_000, -80);
    p.note('d', 203_000, -45);
    expect(p.present().sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(p.present(-60).sort()).toEqual(['a', 'd']);
    expect(p.size).toBe(4); // 'old' was pruned
    const book = new SegmentBook();
    book.set({ schema: SEGMENTS_SCHEMA, tenant: 'acme', store: 's', epoch: '2026-11-22', ts: 10, cids: { a: ['regulars'], b: ['regulars', 'new'], d: ['regulars'] } });
    book.set({ schema: SEGMENTS_SCHEMA, tenant: 'acme', store: 's', epoch: '2026-11-22', ts: 5, cids: {} }); // older: ignored
    expect(audienceMix('store', p.present(), book, 2)).toEqual({ zone: 'store', k: 2, present: 4, segments: { regulars: 3, new: null }, unsegmented: null, segmentsUpdatedMs: 10 });
    expect(audienceMix('window', p.present(-60), book, 3)).toEqual({ zone: 'window', k: 3, present: null, segments: { regulars: null }, unsegmented: null, segmentsUpdatedMs: 10 });
  });
});

describe('the agent with a real broker', () => {
  let broker: Mosquitto;
  const X = 0xf01898010203; // opts out
  const Y = 0x001a11aabbcc;
  const Z = 0x3c2eff000001;
  const capture = join(dir, 'frames.pcap');
  const optoutKey = deriveOptoutKey(SECRET, 'acme');
  const keys = testControlKeys();
  /** As HQ publishes control: signed for its topic. */
  const sealed = (topic: string, msg: unknown) => keys.signer.seal(topic, typeof msg === 'string' ? msg : JSON.stringify(msg));

  beforeAll(async () => {
    broker = new Mosquitto(await freePort());
    await broker.start();
    writeFileSync(join(dir, 'api.token'), TOKEN + '\n', { mode: 0o600 });
    const w = new PcapWriter(capture, 127);
    for (let i = 0; i < 20; i++) {
      for (const [mac, dbm] of [[X, -40], [Y, -50], [Z, -75]] as const) w.add(DAY + i * 1000, concat(radiotapHeader({ flags: 0, freqMhz: 2412, signalDbm: dbm }), probeRequest({ sa: mac, seq: i })));
    }
    w.close();
  });
  afterAll(async () => broker.stop());

  async function agentFor(name: string, url = broker.url): Promise<{ agent: Agent; api: StoreApi; base: string; cfg: AgentConfig }> {
    const cfg = agentConfigSchema.parse({
      tenant: 'acme',
      store: 'berlin-1',
      agent: 'till-1',
      keyFile: 'unused',
      outbox: { path: join(dir, `${name}.db`) },
      status: { port: 0 },
      broker: { url },
      storeApi: { port: await freePort(), tokenFile: 'unused', k: 1, zones: [{ name: 'store', minRssi: -127 }, { name: 'window', minRssi: -55 }] },
      optoutCacheFile: join(dir, 'optout-cache.json'),
      control: { publicKeys: [keys.publicKey] },
    });
    const agent = new Agent(cfg, pseudo(), log, { linkKey: deriveLinkKey(SECRET, 'acme') });
    const api = new StoreApi(agent, TOKEN, log);
    const port = await api.start();
    agent.start();
    return { agent, api, base: `http://127.0.0.1:${port}`, cfg };
  }
  const post = (base: string, body: unknown, token = TOKEN) => fetch(`${base}/v1/identify`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const waitFor = async (cond: () => boolean, ms = 5000) => {
    for (const end = Date.now() + ms; !cond() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
    expect(cond()).toBe(true);
  };

  it('publishes identify events as validated links, and refuses bad ones with the reason', async () => {
    const tap = await collect(broker.url, 'omniloop/v1/acme/berlin-1/till-1/links');
    const { agent, api, base } = await agentFor('identify');
    const r = await post(base, { mac: 'F0:18:98:01:02:03', email: 'Jane.Doe@example.com', loyaltyId: 'AB-12345', consent: { marketing: true } });
    expect(r.status).toBe(202);
    expect(await r.json()).toMatchObject({ accepted: true, linkedDevice: true });
    await waitFor(() => tap.messages.length === 1);
    const m = validateLinksMessage(tap.messages[0]!.topic, tap.messages[0]!.payload);
    expect(m.ok).toBe(true);
    expect(m.ok && m.value.links[0]).toMatchObject({ hem: v.hashed_emails[0].sha256, loyalty: v.loyalty_ids[0].key, consent: { marketing: true } });
    expect(tap.messages[0]!.payload).not.toMatch(/jane|example|AB-12345|f0:18/i);

    expect((await post(base, { mac: 'F0:18:98:01:02:03', email: 'x@y.de', consent: { marketing: true } }, 'wrong-token-wrong-token')).status).toBe(401);
    expect(await (await post(base, '{"mac":')).json()).toEqual({ error: 'the body is not JSON' });
    expect((await post(base, 'x'.repeat(20_000))).status).toBe(413);
    const partial = await post(base, { mac: 'F0:18:98:01:02:03', consent: { marketing: true } });
    expect(partial.status).toBe(422);
    expect(await partial.json()).toEqual({ error: 'give at least one of email, phone, loyaltyId' });
    expect((await fetch(`${base}/v1/identify`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(405);
    expect(agent.counters.links).toBe(1);
    // Nothing raw on disk: the outbox holds only hashes.
    await agent.publisher!.drain(3000);
    await api.stop();
    await agent.stop();
    for (const f of ['identify.db', 'identify.db-wal'].filter((f) => existsSync(join(dir, f)))) expect(readFileSync(join(dir, f)).toString('latin1')).not.toMatch(/jane|AB-12345/i);
    await tap.close();
  });

  it('applies HQ opt-out list at once, caches it, and keeps it through a restart without broker', async () => {
    const sightings = await collect(broker.url, 'omniloop/v1/acme/berlin-1/till-1/sightings');
    const { agent, api, base } = await agentFor('optout');
    const pub = mqtt.connect(broker.url);
    await new Promise((r) => pub.once('connect', r));
    const list = { schema: OPTOUT_SCHEMA, tenant: 'acme', version: 5, tokens: [optoutToken(optoutKey, macToBytes(X))] };
    const topic = 'omniloop/v1/acme/control/optout';
    await pub.publishAsync(topic, sealed(topic, list), { qos: 1, retain: true });
    await waitFor(() => agent.optoutVersion === 5);
    expect(statSync(join(dir, 'optout-cache.json')).mode & 0o777).toBe(0o600);
    // An older or malformed list never replaces it.
    await pub.publishAsync(topic, sealed(topic, { ...list, version: 4, tokens: [] }), { qos: 1 });
    await pub.publishAsync(topic, sealed(topic, '{"schema":"omniloop.optout/1","tokens":["f0:18:98:01:02:03"]}'), { qos: 1 });
    await new Promise((r) => setTimeout(r, 200));
    expect(agent.optoutVersion).toBe(5);

    await agent.replay(capture, 'max');
    expect(agent.pipeline.counters.optedOut).toBe(20);
    expect(await (await post(base, { mac: 'F0:18:98:01:02:03', email: 'jane@example.com', consent: { marketing: true } })).json()).toEqual({ accepted: false, reason: 'the device opted out; nothing was stored' });
    await agent.publisher!.drain(3000);
    await waitFor(() => sightings.messages.length > 0);
    const cids = sightings.messages.flatMap((m) => (JSON.parse(m.payload).sightings as { cid: string }[]).map((s) => s.cid));
    const p = pseudo();
    expect(cids.sort()).toEqual([p.cidForMac(Y, DAY), p.cidForMac(Z, DAY)].sort());
    await api.stop();
    await agent.stop();
    await pub.endAsync();
    await sightings.close();

    // Restarted with the broker out of reach: the cached list is in force before the first frame.
    const again = await agentFor('optout-offline', `mqtt://127.0.0.1:${await freePort()}`);
    expect(again.agent.optoutVersion).toBe(5);
    await again.agent.replay(capture, 'max');
    expect(again.agent.pipeline.counters.optedOut).toBe(20);
    expect(again.agent.outbox.peek(10).map((r) => r.body).join()).not.toContain(p.cidForMac(X, DAY));
    await again.api.stop();
    await again.agent.stop(100);
  });

  it('answers signage with the audience mix of the zone, from the segments HQ pushed', async () => {
    const { agent, api, base } = await agentFor('signage');
    const pub = mqtt.connect(broker.url);
    await new Promise((r) => pub.once('connect', r));
    const p = pseudo();
    const push = { schema: SEGMENTS_SCHEMA, tenant: 'acme', store: 'berlin-1', epoch: '2026-11-22', ts: Date.now(), cids: { [p.cidForMac(Y, DAY)]: ['regulars'], [p.cidForMac(Z, DAY)]: ['regulars', 'lingerers'] } };
    await pub.publishAsync('omniloop/v1/acme/berlin-1/control/segments', sealed('omniloop/v1/acme/berlin-1/control/segments', push), { qos: 1, retain: true });
    await pub.publishAsync('omniloop/v1/acme/paris-1/control/segments', sealed('omniloop/v1/acme/paris-1/control/segments', { ...push, store: 'paris-1', cids: {} }), { qos: 1, retain: true });
    await waitFor(() => agent.segments.updatedMs === push.ts);
    await agent.replay(capture, 'max'); // X opted out (cached list), Y at -50 dBm, Z at -75 dBm
    const now = async (q = '') => (await fetch(`${base}/v1/now${q}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
    expect(await now()).toMatchObject({ zone: 'store', present: 2, segments: { regulars: 2, lingerers: 1 }, unsegmented: 0, segmentsUpdatedMs: push.ts });
    expect(await now('?zone=window')).toMatchObject({ zone: 'window', present: 1, segments: { regulars: 1 } });
    expect(await now('?zone=cellar')).toEqual({ error: 'no zone "cellar": zones are store, window' });
    expect((await fetch(`${base}/v1/now`)).status).toBe(401);
    const page = await fetch(`${base}/signage/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(await page.text()).toMatch(/signage\.js/);
    expect(await rawStatus(base, '/signage/../package.json')).toBe(404); // sent as is: fetch would resolve ../ itself
    await api.stop();
    await agent.stop();
    await pub.endAsync();
  });

  it('makes opt-out tokens from the opt-out key alone (omniloop optout add)', () => {
    const keyFile = join(dir, 'optout.key');
    writeFileSync(keyFile, Buffer.from(optoutKey).toString('base64') + '\n', { mode: 0o600 });
    const list = join(dir, 'optout.txt');
    const add = (mac: string) => runCli(['optout', 'add', '--mac', mac, '--key', keyFile, '--tenant', 'acme', '--list', list, '--json']);
    const first = JSON.parse(add('F0:18:98:01:02:03').stdout);
    expect(first).toEqual({ token: v.optout_tokens[1].token, list, added: true });
    expect(JSON.parse(add('f0-18-98-01-02-03').stdout).added).toBe(false); // the same device, written differently
    expect(readFileSync(list, 'utf8')).toBe(`${v.optout_tokens[1].token}\n`);
    const bad = add('f0:18:98');
    expect(bad.code).toBe(2);
    expect(bad.stderr).not.toContain('f0:18:98');
  });
});
