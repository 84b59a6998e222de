/**
 * Issue 14, finding 2: any broker client could write as any store or tenant (forged sightings under a
 * made-up tenant, a forged status marking a real agent offline) and read every tenant's opt-out list
 * and status. `omniloop broker provision` gives every agent its own user and rights; here a real
 * Mosquitto runs on exactly the files it writes, and store A's credentials try every forgery.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBrokerRights, judgeRights, probeTopics } from '../agents/doctor/broker-rights-check.js';
import { agentUsername } from '../app/broker/broker-rights.js';
import { hashPassword, verifyPassword } from '../app/broker/mosquitto-password.js';
import { planProvision } from '../app/broker/provision.js';
import { parseRoster } from '../app/broker/roster.js';
import { brokerSchema } from '../shared/broker/broker-config.js';
import { runCli } from './helpers/cli.js';
import { Mosquitto, freePort } from './helpers/mosquitto.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-provision-'));
const ROSTER = `hq: [hq]
tenants:
  acme:
    berlin-1: [ap-1]
    munich-1: [ap-1]
  globex:
    paris-1: [ap-1]
`;

function provision(roster: string, out = join(dir, 'out')): { out: string; stdout: string; stderr: string } {
  const file = join(dir, 'roster.yaml');
  writeFileSync(file, roster);
  const r = runCli(['broker', 'provision', '--agents', file, '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  return { out, stdout: r.stdout, stderr: r.stderr };
}

const password = (out: string, user: string): string => readFileSync(join(out, 'credentials', `${user}.password`), 'utf8').trim();

/** Connects, or rejects with the broker's reason code. */
function connect(url: string, opts: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.once('connect', () => resolve(c));
    c.once('error', (e: Error & { code?: number }) => {
      c.end(true);
      reject(e.code ?? e.message);
    });
  });
}

/** 'acked', or the PUBACK's reason code. */
const publish = (c: MqttClient, topic: string, body = '{}', retain = false): Promise<'acked' | number> =>
  new Promise((resolve) => c.publish(topic, body, { qos: 1, retain }, (e) => resolve(e ? ((e as Error & { code?: number }).code ?? -1) : 'acked')));

const subscribe = (c: MqttClient, filter: string): Promise<'granted' | number> =>
  new Promise((resolve) => c.subscribe(filter, { qos: 1 }, (e) => resolve(e ? ((e as Error & { code?: number }).code ?? -1) : 'granted')));

const end = (c: MqttClient): Promise<void> => new Promise((r) => c.end(true, {}, () => r()));
const settle = (ms = 300): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the roster and the files (pure)', () => {
  it('refuses a bad roster with one line naming every problem', () => {
    const bad: [string, RegExp][] = [
      ['tenants:\n  acme:\n    berlin-1: [control]\n', /tenants\.acme\.berlin-1: "control" is reserved/],
      ['tenants:\n  acme:\n    berlin-1: [ap-1, ap-1]\n', /ap-1 is listed twice/],
      ['tenants:\n  acme:\n    berlin/1: [ap-1]\n', /tenants\.acme\.berlin\/1: the store name must be 1-64 characters/],
      ['tenants:\n  a.b:\n    s: [ap-1]\n', /tenants\.a\.b: the tenant name must be/],
      ['tenants:\n  acme:\n    s: [Ap 1]\n', /a name must be 1-64/],
      ['tenants:\n  acme:\n    s:\n', /a store lists its agents/],
      ['tenants: {}\n', /lists no tenant/],
      ['hq: [hq]\ntenants:\n  acme:\n    s: [a]\nextra: 1\n', /unknown setting "extra"/],
      ['tenants:\n  acme:\n    s: [a]\n  acme:\n    t: [b]\n', /not valid YAML at line 4/],
      ['- a\n- b\n', /must be a YAML mapping/],
    ];
    for (const [text, message] of bad) expect(() => parseRoster(text, 'r.yaml'), text).toThrow(message);
  });

  it('writes $7$ hashes the way mosquitto_passwd checks them, and reads its hashes', () => {
    const file = join(dir, 'passwd-tool');
    writeFileSync(file, '');
    expect(spawnSync('mosquitto_passwd', ['-b', file, 'u', 'the-password']).status).toBe(0);
    const theirs = readFileSync(file, 'utf8').trim().split(':')[1]!;
    expect(theirs).toMatch(/^\$7\$101\$/);
    expect(verifyPassword('the-password', theirs)).toBe(true);
    expect(verifyPassword('the-passworD', theirs)).toBe(false);
    const ours = hashPassword('the-password');
    expect(verifyPassword('the-password', ours)).toBe(true);
    expect(ours).not.toBe(hashPassword('the-password')); // a new salt every time
    expect(verifyPassword('x', 'plain:text')).toBe(false);
  });

  it('re-provisioning keeps every password and hash line, adds new users, drops removed ones', () => {
    const paths = { passwordFile: '/etc/mosquitto/omniloop/passwd', aclFile: '/etc/mosquitto/omniloop/acl' };
    const first = planProvision(parseRoster(ROSTER, 'r'), { passwords: new Map(), hashes: new Map() }, paths);
    expect(first.added).toEqual(['hq.hq', 'acme.berlin-1.ap-1', 'acme.munich-1.ap-1', 'globex.paris-1.ap-1']);
    const hashes = new Map(first.files.passwd.trim().split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)] as [string, string]));
    const again = planProvision(parseRoster(ROSTER, 'r'), { passwords: first.passwords, hashes }, paths);
    expect(again.files).toEqual(first.files);
    expect([again.added, again.removed, again.kept.length]).toEqual([[], [], 4]);
    const changed = planProvision(parseRoster(ROSTER.replace('munich-1: [ap-1]', 'hamburg-1: [ap-1]'), 'r'), { passwords: first.passwords, hashes }, paths);
    expect([changed.added, changed.removed]).toEqual([['acme.hamburg-1.ap-1'], ['acme.munich-1.ap-1']]);
    expect(changed.passwords.get('acme.berlin-1.ap-1')).toBe(first.passwords.get('acme.berlin-1.ap-1'));
    expect(changed.files.passwd).toContain(`acme.berlin-1.ap-1:${hashes.get('acme.berlin-1.ap-1')}\n`);
    expect(changed.files.passwd + changed.files.acl).not.toContain('munich-1');
    expect(changed.files.conf).toContain('password_file /etc/mosquitto/omniloop/passwd\nacl_file /etc/mosquitto/omniloop/acl\n');
    // A hash line that no longer matches its password (edited by hand) is made again.
    const stale = planProvision(parseRoster(ROSTER, 'r'), { passwords: first.passwords, hashes: new Map([...hashes, ['hq.hq', hashPassword('other')]]) }, paths);
    expect(verifyPassword(first.passwords.get('hq.hq')!, /hq\.hq:(\S+)/.exec(stale.files.passwd)![1]!)).toBe(true);
  });
});

describe("the doctor's judgement of its probes (pure)", () => {
  const topics = probeTopics({ tenant: 'acme', store: 'berlin-1', agent: 'ap-1' });
  it('probes harmless topics: doctor topics HQ ignores, and a control subtopic agents ignore', () => {
    expect(topics).toEqual({
      own: 'omniloop/v1/acme/berlin-1/ap-1/doctor',
      publish: { otherAgent: 'omniloop/v1/acme/berlin-1/omniloop-doctor/doctor', otherTenant: 'omniloop/v1/omniloop-doctor/berlin-1/ap-1/doctor', control: 'omniloop/v1/acme/berlin-1/control/doctor' },
      read: 'omniloop/v1/+/+/+/doctor',
    });
    expect(probeTopics({ tenant: 'omniloop-doctor', store: 's', agent: 'omniloop-doctor' }).publish.otherAgent).toBe('omniloop/v1/omniloop-doctor/s/omniloop-doctor-2/doctor');
  });
  it('a broker that answered nothing is not a pass; one allowed probe is a warning', () => {
    const none = { subscribeRefused: null, pubacks: { own: null, otherAgent: null, otherTenant: null, control: null }, delivered: [] };
    expect(judgeRights(none, topics, 5)).toMatchObject({ status: 'warn', summary: 'could not tell what these credentials may do (the broker did not answer every probe)' });
    const one = { subscribeRefused: false, pubacks: { own: 'acked' as const, otherAgent: 135, otherTenant: 135, control: 'acked' as const }, delivered: [] };
    expect(judgeRights(one, topics, 5)).toMatchObject({ status: 'warn', summary: expect.stringMatching(/^the broker lets these credentials write its store's control topics \(HQ's downlink\): one store's credentials can forge other stores' data$/) });
  });
});

describe('omniloop broker provision (CLI)', () => {
  it('writes the files with their modes, prints no password, and a second run changes nothing', () => {
    const out = join(dir, 'cli-out');
    const r = provision(ROSTER, out);
    expect(r.stdout).toMatch(/1 HQ user and 3 agents \(4 added, 0 kept, 0 removed\)/);
    const mode = (p: string) => (statSync(join(out, p)).mode & 0o777).toString(8);
    expect([mode('credentials'), mode('credentials/acme.berlin-1.ap-1.password'), mode('passwd'), mode('acl')]).toEqual(['700', '600', '640', '640']);
    const files = ['mosquitto.conf', 'passwd', 'acl', 'emqx-acl.conf', ...readdirSync(join(out, 'credentials')).map((f) => `credentials/${f}`)];
    const before = files.map((f) => readFileSync(join(out, f), 'utf8'));
    for (const user of ['hq.hq', 'acme.berlin-1.ap-1']) expect(r.stdout + r.stderr).not.toContain(password(out, user));
    const again = provision(ROSTER, out);
    expect(again.stdout).toMatch(/\(0 added, 4 kept, 0 removed\)/);
    expect(files.map((f) => readFileSync(join(out, f), 'utf8'))).toEqual(before);
  });

  it('bad input: one line, exit 2, no stack trace, no secret', () => {
    const out = join(dir, 'bad-out');
    provision(ROSTER, out);
    writeFileSync(join(out, 'credentials', 'acme.berlin-1.ap-1.password'), 'hunter2 not ours\n');
    writeFileSync(join(dir, 'bad.yaml'), 'tenants:\n  acme:\n    s: [control]\n');
    const cases: [string[], RegExp][] = [
      [['broker', 'provision', '--agents', join(dir, 'missing.yaml'), '--out', out], /agents file .*missing\.yaml does not exist/],
      [['broker', 'provision', '--agents', join(dir, 'bad.yaml'), '--out', out], /"control" is reserved/],
      [['broker', 'provision', '--agents', join(dir, 'roster.yaml'), '--out', out], /acme\.berlin-1\.ap-1\.password does not hold a password written by omniloop broker provision/],
      [['broker', 'provision', '--agents', join(dir, 'roster.yaml')], /required option '-o, --out <dir>'/],
      [['broker', 'check', '--conf', join(dir, 'nope.conf')], /broker config .*nope\.conf does not exist/],
    ];
    for (const [args, message] of cases) {
      const r = runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(r.stderr.includes('run with --help') ? 2 : 1);
      expect(r.stderr).not.toMatch(/\n\s+at |hunter2/);
    }
  });
});

describe('a real Mosquitto on the provisioned files: store A cannot act as anyone else', () => {
  let broker: Mosquitto;
  /** The same users without the ACL: how brokers ran before (finding 2). */
  let open: Mosquitto;
  let out: string;
  const A = { tenant: 'acme', store: 'berlin-1', agent: 'ap-1' };
  const B = { tenant: 'acme', store: 'munich-1', agent: 'ap-1' };
  const G = { tenant: 'globex', store: 'paris-1', agent: 'ap-1' };
  const as = (id: typeof A, protocolVersion: 4 | 5 = 5): IClientOptions => ({ username: agentUsername(id), password: password(out, agentUsername(id)), protocolVersion });
  let hq: MqttClient;
  const seenByHq: { topic: string; payload: string }[] = [];

  beforeAll(async () => {
    out = provision(ROSTER).out;
    broker = new Mosquitto(await freePort(), undefined, undefined, readFileSync(join(out, 'mosquitto.conf'), 'utf8'));
    open = new Mosquitto(await freePort(), undefined, undefined, readFileSync(join(out, 'mosquitto.conf'), 'utf8').replace(/^acl_file .*\n/m, ''));
    await Promise.all([broker.start(), open.start()]);
    hq = await connect(broker.url, { username: 'hq.hq', password: password(out, 'hq.hq') });
    hq.on('message', (topic, payload) => seenByHq.push({ topic, payload: payload.toString() }));
    expect(await subscribe(hq, 'omniloop/v1/#')).toBe('granted');
  });
  afterAll(async () => {
    await end(hq);
    await Promise.all([broker.stop(), open.stop()]);
  });

  it('only known users connect: no anonymous client, no wrong or borrowed password', async () => {
    await expect(connect(broker.url, {})).rejects.toBe(135);
    await expect(connect(broker.url, { username: agentUsername(A), password: 'wrong' })).rejects.toBe(135);
    await expect(connect(broker.url, { username: agentUsername(A), password: password(out, agentUsername(B)) })).rejects.toBe(135);
    await expect(connect(broker.url, { username: 'acme.berlin-1.ap-1', password: password(out, 'acme.berlin-1.ap-1'), protocolVersion: 4 }).then(end)).resolves.toBeUndefined();
  });

  it('without the ACL (users and passwords only) the attack works: A forges B and reads another tenant', async () => {
    const tap = await connect(open.url, { username: 'hq.hq', password: password(out, 'hq.hq') });
    const seen: string[] = [];
    tap.on('message', (t) => seen.push(t));
    await subscribe(tap, 'omniloop/v1/#');
    const a = await connect(open.url, as(A));
    const read: string[] = [];
    a.on('message', (t) => read.push(t));
    await subscribe(a, 'omniloop/v1/#');
    expect(await publish(tap, 'omniloop/v1/globex/control/optout', 'globex-list', true)).toBe('acked');
    expect(await publish(a, 'omniloop/v1/acme/munich-1/ap-1/sightings', '{"forged":1}')).toBe('acked');
    expect(await publish(a, 'omniloop/v1/globex/paris-1/ap-1/status', '{"state":"offline"}', true)).toBe('acked');
    await settle();
    expect(seen).toEqual(expect.arrayContaining(['omniloop/v1/acme/munich-1/ap-1/sightings', 'omniloop/v1/globex/paris-1/ap-1/status']));
    expect(read).toContain('omniloop/v1/globex/control/optout');
    await Promise.all([tap, a].map(end));
  });

  it('A publishes its own topics; every forgery gets PUBACK 135 and never reaches HQ', async () => {
    const a = await connect(broker.url, as(A));
    const g = await connect(broker.url, as(G));
    expect(await publish(g, 'omniloop/v1/globex/paris-1/ap-1/status', '{"state":"online"}', true)).toBe('acked');
    expect(await publish(a, 'omniloop/v1/acme/berlin-1/ap-1/sightings', '{"own":1}')).toBe('acked');
    expect(await publish(a, 'omniloop/v1/acme/berlin-1/ap-1/status', '{"state":"online"}', true)).toBe('acked');
    const forgeries = [
      'omniloop/v1/acme/munich-1/ap-1/sightings', // store B of the same tenant
      'omniloop/v1/made-up/berlin-1/ap-1/sightings', // a made-up tenant
      'omniloop/v1/globex/paris-1/ap-1/status', // marks another tenant's real agent offline
      'omniloop/v1/acme/berlin-1/ap-2/links', // another agent of its own store
      'omniloop/v1/acme/control/optout', // HQ's downlinks
      'omniloop/v1/acme/berlin-1/control/segments',
      'omniloop/v1/acme/berlin-1/ap-1', // its own agent level, not a kind
      'omniloop/v1/acme/berlin-1/ap-1/sightings/x',
    ];
    for (const t of forgeries) expect(await publish(a, t, '{"state":"offline","forged":1}', true), t).toBe(135);
    // MQTT 3.1.1 has no reason codes: the broker acknowledges and drops.
    const a4 = await connect(broker.url, as(A, 4));
    expect(await publish(a4, 'omniloop/v1/acme/munich-1/ap-1/sightings', '{"forged":4}')).toBe('acked');
    await settle();
    expect(seenByHq.filter((m) => m.payload.includes('forged'))).toEqual([]);
    expect(seenByHq.map((m) => m.topic)).toEqual(expect.arrayContaining(['omniloop/v1/acme/berlin-1/ap-1/sightings', 'omniloop/v1/globex/paris-1/ap-1/status']));
    // The real agent's retained status is still what it said.
    const late = await connect(broker.url, { username: 'hq.hq', password: password(out, 'hq.hq') });
    const retained: string[] = [];
    late.on('message', (t, p) => t.endsWith('/status') && retained.push(`${t} ${p}`));
    await subscribe(late, 'omniloop/v1/+/+/+/status');
    await settle();
    expect(retained.sort()).toEqual(['omniloop/v1/acme/berlin-1/ap-1/status {"state":"online"}', 'omniloop/v1/globex/paris-1/ap-1/status {"state":"online"}']);
    await Promise.all([a, g, a4, late].map(end));
  });

  it("A reads only its tenant's opt-out list and its store's control topics; HQ alone writes them", async () => {
    for (const [t, body] of [
      ['omniloop/v1/acme/control/optout', 'acme-list'],
      ['omniloop/v1/globex/control/optout', 'globex-list'],
      ['omniloop/v1/acme/berlin-1/control/segments', 'berlin-push'],
      ['omniloop/v1/acme/munich-1/control/segments', 'munich-push'],
    ]) {
      expect(await publish(hq, t!, body!, true), t).toBe('acked');
    }
    expect(await publish(hq, 'omniloop/v1/acme/berlin-1/ap-1/sightings', '{"forged":"by hq"}')).toBe(135); // HQ cannot forge uplink either
    const a = await connect(broker.url, as(A));
    const got: string[] = [];
    a.on('message', (t, p) => got.push(`${t} ${p}`));
    // Mosquitto's acl_file grants every SUBSCRIBE and filters what it delivers: nothing foreign arrives.
    for (const f of ['omniloop/v1/#', 'omniloop/v1/globex/control/optout', 'omniloop/v1/+/+/+/status', 'omniloop/v1/acme/control/optout', 'omniloop/v1/acme/berlin-1/control/#']) await subscribe(a, f);
    const g = await connect(broker.url, as(G));
    await publish(g, 'omniloop/v1/globex/paris-1/ap-1/sightings', '{"live":1}');
    await publish(hq, 'omniloop/v1/globex/control/optout', 'globex-list-2', true);
    await settle();
    expect([...new Set(got)].sort()).toEqual(['omniloop/v1/acme/berlin-1/control/segments berlin-push', 'omniloop/v1/acme/control/optout acme-list']);
    // The shipped message limit is set by the opt-out list, far above an uplink batch's 1 MiB.
    const big = new Promise<number>((r) => a.on('message', (_t, p) => p.length > 1000 && r(p.length)));
    expect(await publish(hq, 'omniloop/v1/acme/control/optout', 'x'.repeat(3 << 20))).toBe('acked');
    expect(await big).toBe(3 << 20);
    await Promise.all([a, g].map(end));
  });

  it("the agent's doctor checks what its credentials may do: all refused here, all allowed without the ACL", async () => {
    const settings = (url: string, protocolVersion: 4 | 5) => brokerSchema.parse({ url, username: agentUsername(A), passwordFile: join(out, 'credentials', `${agentUsername(A)}.password`), protocolVersion });
    const locked = await checkBrokerRights(settings(broker.url, 5), A, 5000);
    expect(locked).toMatchObject({ status: 'ok', details: { otherAgent: 'refused', otherTenant: 'refused', control: 'refused', read: 'refused' } });
    expect(locked.summary).toMatch(/^the broker refuses these credentials to write as another agent of its store, to write as another tenant, to write its store's control topics .*, to read other agents' uplink topics$/);
    const locked4 = await checkBrokerRights(settings(broker.url, 4), A, 5000);
    expect(locked4).toMatchObject({ status: 'ok', details: { read: 'refused', otherAgent: 'unknown', control: 'unknown' }, summary: expect.stringMatching(/not known: .* \(under MQTT 3\.1\.1 a broker does not say when it drops a publish\)/) });
    for (const v of [5, 4] as const) {
      const loose = await checkBrokerRights(settings(open.url, v), A, 5000);
      expect(loose, `MQTT ${v}`).toMatchObject({ status: 'warn', details: { otherAgent: 'allowed', otherTenant: 'allowed', control: 'allowed', read: 'allowed' }, fix: expect.stringMatching(/omniloop broker provision/) });
      expect(loose.summary).toMatch(/: one store's credentials can forge other stores' data and read other stores' and tenants' data$/);
    }
    // The same through `omniloop doctor`, right after the broker check.
    const cfg = join(dir, 'agent.yaml');
    writeFileSync(join(dir, 'acme.key'), Buffer.alloc(32, 7).toString('base64') + '\n', { mode: 0o600 });
    const agentYaml = (url: string) => `tenant: acme\nstore: berlin-1\nagent: ap-1\ntimezone: UTC\nkeyFile: acme.key\noutbox:\n  path: doctor.db\nbroker:\n  url: ${url}\n  username: ${agentUsername(A)}\n  passwordFile: ${join(out, 'credentials', `${agentUsername(A)}.password`)}\n`;
    for (const [url, status] of [[broker.url, 'ok'], [open.url, 'warn']] as const) {
      writeFileSync(cfg, agentYaml(url));
      const r = runCli(['doctor', '--json', '--timeout-ms', '5000', '--config', cfg]);
      const ids = (JSON.parse(r.stdout) as { checks: { id: string; status: string }[] }).checks;
      expect(ids.findIndex((c) => c.id === 'broker-rights')).toBe(ids.findIndex((c) => c.id === 'broker') + 1);
      expect(ids.find((c) => c.id === 'broker-rights')?.status, url).toBe(status);
      expect(r.stdout + r.stderr).not.toContain(password(out, agentUsername(A)));
    }
  });

  it("client ids: on a plain listener another store's credentials take over HQ's session and its queue is lost; use_username_as_clientid on the agents' listener stops that", async () => {
    const agentsPort = await freePort();
    const bound = new Mosquitto(await freePort(), undefined, undefined, readFileSync(join(out, 'mosquitto.conf'), 'utf8') + `listener ${agentsPort} 127.0.0.1\nuse_username_as_clientid true\n`);
    await bound.start();
    const hqSession = { username: 'hq.hq', password: password(out, 'hq.hq'), clientId: 'omniloop-cloud-omniloop-cloud-hq-1', clean: false, properties: { sessionExpiryInterval: 3600 } };
    const takeover = async (hqUrl: string, agentsUrl: string): Promise<number> => {
      const first = await connect(hqUrl, hqSession);
      await subscribe(first, '$share/omniloop-cloud/omniloop/v1/+/+/+/+');
      await new Promise<void>((r) => first.end(false, {}, () => r()));
      const a = await connect(agentsUrl, as(A));
      for (let i = 0; i < 100; i++) await publish(a, 'omniloop/v1/acme/berlin-1/ap-1/sightings', `{"n":${i}}`);
      await end(a);
      await end(await connect(agentsUrl, { ...as(G), clientId: hqSession.clientId, clean: true })); // HQ's id, another store's credentials
      let got = 0;
      const back = mqtt.connect(hqUrl, { protocolVersion: 5, reconnectPeriod: 0, ...hqSession });
      back.on('message', () => got++);
      await new Promise<void>((r) => back.once('connect', () => r()));
      await settle(500);
      await end(back);
      return got;
    };
    expect(await takeover(broker.url, broker.url)).toBe(0);
    expect(await takeover(bound.url, `mqtt://127.0.0.1:${agentsPort}`)).toBe(100);
    await bound.stop();
  });

  it('re-provisioned and reloaded: a removed agent is disconnected and locked out, a new one gets in, the others keep their passwords', async () => {
    const b = await connect(broker.url, as(B)); // connected before the change
    const bClosed = new Promise<void>((r) => b.once('close', () => r()));
    const oldA = password(out, agentUsername(A));
    const oldB = password(out, agentUsername(B));
    const r = provision(ROSTER.replace('munich-1: [ap-1]', 'hamburg-1: [ap-1]'));
    expect(r.stdout).toMatch(/\(1 added, 3 kept, 1 removed\)/);
    expect(password(out, agentUsername(A))).toBe(oldA);
    broker.reload();
    await settle(500);
    const H = { tenant: 'acme', store: 'hamburg-1', agent: 'ap-1' };
    const h = await connect(broker.url, as(H));
    expect(await publish(h, 'omniloop/v1/acme/hamburg-1/ap-1/sightings')).toBe('acked');
    expect(() => password(out, agentUsername(B))).toThrow(/ENOENT/); // its credentials file is gone too
    await expect(connect(broker.url, { username: agentUsername(B), password: oldB })).rejects.toBe(135);
    await bClosed; // the reload disconnected the removed user
    await Promise.all([h, await connect(broker.url, as(A))].map(end));
  });
});
