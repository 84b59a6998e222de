/**
 * `omniloop doctor` against a private Mosquitto on a free port: the broker round trip, the key file,
 * TLS certificates made here with openssl, the outbox read without being created, `--json`, exit codes.
 * Checks that depend on hardware (radios, Bluetooth, capabilities, time sync) are tested through their
 * pure decision functions with the machine's answers injected.
 */
import { generateControlKeyPair } from '../shared/wire/control-signing.js';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InterfaceInfo } from '../agents/capture/interfaces.js';
import { brokerSchema } from '../shared/broker/broker-config.js';
import { formatReport } from '../agents/cli/doctor-command.js';
import { judgeBluetooth } from '../agents/doctor/bluetooth-check.js';
import { checkBroker, explainBrokerFailure } from '../agents/doctor/broker-check.js';
import type { CheckResult } from '../agents/doctor/check.js';
import { judgeClock, probeNtp } from '../agents/doctor/clock-check.js';
import { judgeDisk } from '../agents/doctor/disk-check.js';
import { runDoctor, type DoctorProbes } from '../agents/doctor/doctor.js';
import { judgeIw } from '../agents/doctor/iw-check.js';
import { judgeCaptureConfigured, judgeWifiInterface, summarizeInterfaces } from '../agents/doctor/interfaces-check.js';
import { judgeKeyMode } from '../agents/doctor/key-check.js';
import { judgeOutbox, readOutbox } from '../agents/doctor/outbox-check.js';
import { checkPcapBinding } from '../agents/doctor/pcap-check.js';
import { judgeCapturePermissions, parseAmbientCapabilities, parseCapEff } from '../agents/doctor/permissions-check.js';
import { Outbox } from '../agents/outbox/outbox.js';
import { ingestMessage } from '../cloud/ingest/ingest.js';
import { SqliteCloudStore } from '../cloud/store/sqlite-store.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { Mosquitto, collect, freePort, makeCertificates } from './helpers/mosquitto.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-doctor-'));
const keyText = Buffer.alloc(32, 7).toString('base64');
const PASSWORD = 'pw-doctor-s3cret';
let broker: Mosquitto;
let locked: Mosquitto;
/** Everything the doctor printed in these tests, for the no-secrets check at the end. */
const printed: string[] = [];

interface Report {
  checks: CheckResult[];
  ok: boolean;
}

function config(name: string, extra = '', key = 'acme.key'): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, `tenant: acme\nstore: berlin-1\nagent: ${name}\ntimezone: Europe/Berlin\nkeyFile: ${key}\nstatus:\n  port: 0\noutbox:\n  path: ${name}.db\n${extra}`);
  return path;
}

const brokerBlock = (url: string, more = '') => `broker:\n  url: ${url}\n${more}`;

function doctor(args: string[]): CliResult {
  const r = runCli(['doctor', '--timeout-ms', '5000', ...args]);
  printed.push(r.stdout, r.stderr);
  return r;
}

function doctorJson(cfg: string): { r: CliResult; report: Report; check: (id: string) => CheckResult } {
  const r = doctor(['--config', cfg, '--json']);
  const report = JSON.parse(r.stdout) as Report;
  const check = (id: string): CheckResult => {
    const c = report.checks.find((x) => x.id === id);
    if (!c) throw new Error(`no check ${id} in ${JSON.stringify(report.checks.map((x) => x.id))}`);
    return c;
  };
  return { r, report, check };
}

function openssl(cwd: string, ...args: string[]): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
}

beforeAll(async () => {
  writeFileSync(join(dir, 'acme.key'), keyText + '\n', { mode: 0o600 });
  writeFileSync(join(dir, 'broker.pass'), PASSWORD + '\n', { mode: 0o600 });
  broker = new Mosquitto(await freePort());
  locked = new Mosquitto(await freePort(), { 'ap-locked': PASSWORD });
  await Promise.all([broker.start(), locked.start()]);
});

afterAll(async () => {
  await Promise.all([broker.stop(), locked.stop()]);
});

describe('omniloop doctor', () => {
  it('on a good config: the broker answers a QoS 1 publish with its latency, the key is fine, the outbox is not created', async () => {
    const sub = await collect(broker.url, 'omniloop/v1/acme/berlin-1/+/doctor');
    const cfg = config('ap-good', brokerBlock(broker.url));
    const { r, report, check } = doctorJson(cfg);
    await new Promise((res) => setTimeout(res, 200));
    await sub.close();

    // The --json shape.
    expect(Object.keys(report).sort()).toEqual(['checks', 'ok']);
    expect(typeof report.ok).toBe('boolean');
    for (const c of report.checks) {
      expect(['ok', 'warn', 'fail']).toContain(c.status);
      expect(typeof c.id).toBe('string');
      expect(c.summary.length).toBeGreaterThan(0);
      expect(c.summary + (c.fix ?? '')).not.toContain('\n');
      if (c.status === 'ok') expect(c.fix).toBeUndefined();
      else expect(c.fix!.length).toBeGreaterThan(0);
    }
    expect(report.ok).toBe(report.checks.every((c) => c.status !== 'fail'));
    expect(r.code).toBe(report.ok ? 0 : 1);
    if (!report.ok) expect(r.stderr).toMatch(/^omniloop: \d+ checks? failed: /);

    const b = check('broker');
    expect(b.status, b.summary).toBe('ok');
    expect(b.summary).toMatch(/connected in \d+ ms, QoS 1 publish acknowledged in [\d.]+ ms/);
    expect(b.details).toMatchObject({ protocolVersion: 5, topic: 'omniloop/v1/acme/berlin-1/ap-good/doctor' });
    expect(typeof b.details!.roundTripMs).toBe('number');
    expect(typeof b.details!.connectMs).toBe('number');
    const probe = sub.messages.filter((m) => m.topic === 'omniloop/v1/acme/berlin-1/ap-good/doctor' && !m.payload.includes('"rights"')); // not the broker-rights probe
    expect(probe).toHaveLength(1);
    expect(Object.keys(JSON.parse(probe[0]!.payload))).toEqual(['ts']);
    expect(probe[0]!.retain).toBe(false);

    expect(check('config').status).toBe('ok');
    expect(check('key')).toMatchObject({ status: 'ok', details: { mode: '0600' } });
    // No capture configured: `agent run` would refuse, so this one fails on any machine.
    expect(check('capture').status).toBe('fail');
    for (const id of ['clock', 'pcap', 'interfaces', 'permissions', 'iw', 'disk']) check(id);
    expect(report.checks.some((c) => c.id.startsWith('tls-'))).toBe(false);

    expect(check('outbox').summary).toMatch(/no outbox yet/);
    expect(readdirSync(dir).filter((f) => f.startsWith('ap-good.db'))).toEqual([]);
  });

  it('prints one line per check with the fix below warnings and failures, and a tally', () => {
    const r = doctor(['--config', config('ap-text', brokerBlock(broker.url))]);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ok {4}config +.*ap-text\.yaml: tenant acme, store berlin-1, agent ap-text/);
    expect(lines.find((l) => /^ok {4}broker /.test(l))).toMatch(/acknowledged in [\d.]+ ms/);
    const capture = lines.findIndex((l) => /^FAIL {2}capture /.test(l));
    expect(lines[capture + 1]).toMatch(/^ +fix: add capture\.wifi\.interface/);
    expect(lines[lines.length - 1]).toMatch(/^\d+ ok, \d+ warnings?, \d+ failed$/);
    expect(r.code).toBe(1);
  });

  it('fails a key file others can read, with the chmod that fixes it; and a key that is not 32 bytes', () => {
    const loose = join(dir, 'loose.key');
    writeFileSync(loose, keyText + '\n');
    chmodSync(loose, 0o644);
    const { r, check } = doctorJson(config('ap-loose', '', 'loose.key'));
    expect(check('key')).toMatchObject({ status: 'fail', fix: `chmod 600 ${loose}` });
    expect(check('key').summary).toMatch(/readable by every user \(mode 0644\)/);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/failed: .*key/);
    const text = doctor(['--config', join(dir, 'ap-loose.yaml')]);
    expect(text.stdout).toContain(`fix: chmod 600 ${loose}`);

    writeFileSync(join(dir, 'short.key'), Buffer.alloc(16, 1).toString('base64') + '\n', { mode: 0o600 });
    expect(doctorJson(config('ap-short', '', 'short.key')).check('key')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/does not hold 32 bytes/) });
    expect(doctorJson(config('ap-nokey', '', 'missing.key')).check('key')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/does not exist/) });
    // Group-readable (root:omniloop 0640): the agent refuses it, so the doctor fails it too.
    expect(judgeKeyMode('/etc/omniloop/acme.key', 0o640).status).toBe('fail');
    expect(judgeKeyMode('/etc/omniloop/acme.key', 0o600).status).toBe('ok');
  });

  it('fails an unreachable broker with the reason and exits 1', async () => {
    const closed = await freePort(); // nothing listens there
    const { r, check } = doctorJson(config('ap-down', brokerBlock(`mqtt://127.0.0.1:${closed}`)));
    const b = check('broker');
    expect(b.status).toBe('fail');
    expect(b.summary).toBe(`nothing accepts connections on 127.0.0.1:${closed} (connection refused)`);
    expect(b.fix).toMatch(/nc -vz 127\.0\.0\.1 \d+/);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/failed: .*broker/);
  });

  it('gives up on a port that accepts the connection but never answers MQTT, within the timeout', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as { port: number }).port;
    const t0 = Date.now();
    const b = await checkBroker(brokerSchema.parse({ url: `mqtt://127.0.0.1:${port}` }), { tenant: 'acme', store: 'berlin-1', agent: 'ap-1' }, 400);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(b).toMatchObject({ status: 'fail', summary: `127.0.0.1:${port} accepted the connection but sent no CONNACK within 400 ms`, fix: expect.stringMatching(/mqtts:\/\//) });
    sockets.forEach((s) => s.destroy());
    await new Promise((r) => silent.close(r));
  });

  it('reports refused credentials without ever printing the password, and passes with the right ones', () => {
    const wrong = doctorJson(config('ap-wrongpw', brokerBlock(locked.url, '  username: ap-locked\n  password: not-the-password\n')));
    expect(wrong.check('broker')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/refused the credentials: not authorized \(a wrong username or password/) });
    expect(wrong.check('broker').fix).toMatch(/broker\.username and broker\.password/);
    const wrong311 = doctorJson(config('ap-wrongpw4', brokerBlock(locked.url, '  username: ap-locked\n  password: not-the-password\n  protocolVersion: 4\n')));
    expect(wrong311.check('broker').summary).toMatch(/refused the credentials/);
    expect(wrong.r.stdout + wrong.r.stderr).not.toContain('not-the-password');
    const right = doctorJson(config('ap-rightpw', brokerBlock(locked.url, '  username: ap-locked\n  passwordFile: broker.pass\n  protocolVersion: 4\n')));
    expect(right.check('broker')).toMatchObject({ status: 'ok', summary: expect.stringMatching(/\(MQTT 3\.1\.1\): connected/) });
    const noFile = doctorJson(config('ap-nopwfile', brokerBlock(locked.url, '  username: ap-locked\n  passwordFile: nowhere.pass\n')));
    expect(noFile.check('broker')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/cannot read broker\.passwordFile .*nowhere\.pass \(ENOENT\)/) });
  });

  it('fails an expired CA certificate, warns on a client certificate that expires soon, fails a key that does not match', () => {
    const tls = mkdtempSync(join(tmpdir(), 'omniloop-doctor-tls-'));
    // An expired certificate needs explicit dates: `openssl ca` takes them (OpenSSL 3.0's req does not).
    writeFileSync(join(tls, 'index.txt'), '');
    writeFileSync(join(tls, 'serial'), '01\n');
    writeFileSync(join(tls, 'ca.cnf'), '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n');
    openssl(tls, 'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=old test CA', '-keyout', 'old.key', '-out', 'old.csr');
    openssl(tls, 'ca', '-batch', '-config', 'ca.cnf', '-selfsign', '-keyfile', 'old.key', '-in', 'old.csr', '-startdate', '20200101000000Z', '-enddate', '20200201000000Z', '-out', 'old.pem');
    openssl(tls, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '10', '-subj', '/CN=ap-soon', '-keyout', 'soon.key', '-out', 'soon.pem');
    const tlsBlock = (key: string) => `  caFile: ${join(tls, 'old.pem')}\n  certFile: ${join(tls, 'soon.pem')}\n  keyFile: ${join(tls, key)}\n`;
    const { r, check } = doctorJson(config('ap-tls', brokerBlock(broker.url, tlsBlock('soon.key'))));
    expect(check('tls-caFile')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/old\.pem \(old test CA\) expired on 2020-02-01/), details: { daysLeft: expect.any(Number) } });
    expect(check('tls-caFile').fix).toMatch(/CA certificate/);
    expect(check('tls-certFile')).toMatchObject({ status: 'warn', summary: expect.stringMatching(/soon\.pem \(ap-soon\) expires on \d{4}-\d{2}-\d{2}, in (9|10) days/) });
    expect(r.code).toBe(1);
    const mismatched = doctorJson(config('ap-tls2', brokerBlock(broker.url, tlsBlock('old.key'))));
    expect(mismatched.check('tls-certFile')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/does not belong to broker\.keyFile/) });
  });

  it('explains a broker whose certificate it does not trust, and one that wants a client certificate', async () => {
    const certs = makeCertificates(mkdtempSync(join(tmpdir(), 'omniloop-doctor-tls-')));
    const tlsBroker = new Mosquitto(await freePort(), undefined, { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, requireCertificate: true });
    await tlsBroker.start();
    try {
      const untrusted = doctorJson(config('ap-untrusted', brokerBlock(tlsBroker.url)));
      expect(untrusted.check('broker')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/not signed by a CA this agent trusts/), fix: expect.stringMatching(/broker\.caFile/) });
      const noCert = doctorJson(config('ap-nocert', brokerBlock(tlsBroker.url, `  caFile: ${certs.ca}\n`)));
      expect(noCert.check('broker')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/^the TLS handshake with mqtts:\/\/127\.0\.0\.1:\d+ failed: .*certificate required$/) });
      expect(noCert.check('broker').fix).toMatch(/wants a client certificate .* broker\.certFile and broker\.keyFile/);
      const good = doctorJson(config('ap-mtls', brokerBlock(tlsBroker.url, `  caFile: ${certs.ca}\n  certFile: ${certs.clientCert}\n  keyFile: ${certs.clientKey}\n`)));
      expect(good.check('broker')).toMatchObject({ status: 'ok', summary: expect.stringMatching(/^mqtts:\/\/127\.0\.0\.1:\d+ \(MQTT 5\): connected/) });
      // makeCertificates issues for 2 days: valid, but due.
      expect(good.check('tls-certFile')).toMatchObject({ status: 'warn', summary: expect.stringMatching(/in [01] days?/) });
    } finally {
      await tlsBroker.stop();
    }
  });

  it('reports the outbox depth and the age of the oldest unsent batch, without leaving files behind', () => {
    const cfg = config('ap-backlog');
    const path = join(dir, 'ap-backlog.db');
    const ob = new Outbox(path);
    ob.append('sightings', '2026-11-23', ['{"sightings":[]}', '{"sightings":[]}'], Date.now() - 2 * 3_600_000);
    ob.append('sightings', '2026-11-23', ['{"sightings":[]}'], Date.now());
    ob.close();
    const before = readdirSync(dir).filter((f) => f.startsWith('ap-backlog.db')).sort();
    const { check } = doctorJson(cfg);
    const o = check('outbox');
    expect(o.status).toBe('warn');
    expect(o.summary).toMatch(/^3 batches \(0\.0 MB\) waiting, oldest unsent 2 h old: nothing has been published for over an hour/);
    expect(o.details).toMatchObject({ rows: 3, maxRows: 100_000, dropped: 0 });
    expect(o.details!.oldestAgeSeconds).toBeGreaterThanOrEqual(7200);
    expect(readdirSync(dir).filter((f) => f.startsWith('ap-backlog.db')).sort()).toEqual(before);

    // Near the row bound: a warning, read in-process.
    const full = join(dir, 'full.db');
    const ob2 = new Outbox(full, { maxRows: 10, maxBytes: 1 << 30, maxAgeMs: 86_400_000 });
    ob2.append('sightings', '2026-11-23', Array.from({ length: 9 }, () => '{}'));
    ob2.close();
    const judged = judgeOutbox(full, readOutbox(full), 10, Date.now());
    expect(judged).toMatchObject({ status: 'warn', summary: expect.stringMatching(/9 batches .* over 80% of outbox\.maxRows \(10\)/) });
    expect(judgeOutbox(full, readOutbox(full), 100, Date.now()).status).toBe('ok');
    expect(judgeOutbox(join(dir, 'nope', 'x.db'), readOutbox(join(dir, 'nope', 'x.db')), 100, Date.now())).toMatchObject({ status: 'fail', fix: expect.stringMatching(/mkdir -p/) });
    writeFileSync(join(dir, 'not-an-outbox.db'), 'hello');
    expect(readOutbox(join(dir, 'not-an-outbox.db')).state).toBe('unreadable');
  });

  it('a config that does not validate is a failed check, and the checks that do not need it still run', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'tenant: Not A Tenant\nkeyFile: acme.key\nbogus: 1\n');
    const { r, report, check } = doctorJson(bad);
    expect(r.code).toBe(1);
    expect(check('config')).toMatchObject({ status: 'fail', details: { notChecked: expect.arrayContaining(['key', 'broker', 'outbox']) } });
    expect(check('config').summary).toMatch(/tenant: tenant must be 1-64 characters.*unknown setting "bogus"/);
    for (const id of ['clock', 'pcap', 'interfaces', 'permissions']) check(id);
    expect(report.checks.map((c) => c.id)).not.toContain('broker');
  });

  it('exits 2 on bad usage and an unreadable config, with one line and no stack trace', () => {
    const cases: [string[], RegExp][] = [
      [[], /no agent config: pass --config FILE \(\/etc\/omniloop\/agent\.yaml does not exist here\)/],
      [['--config', join(dir, 'missing.yaml')], /config file .*missing\.yaml does not exist/],
      [['--config', dir], /cannot read config file .* \(EISDIR\)/],
      [['--config', config('ap-usage'), '--timeout-ms', 'soon'], /--timeout-ms must be a whole number/],
      [['--config', config('ap-usage'), '--bogus'], /unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const r = runCli(['doctor', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe('');
    }
  });

  it('a whole run with every machine check passing and a warning is ok; a failing one is not', async () => {
    const probes = (ntp: boolean | null): DoctorProbes => ({
      now: () => Date.parse('2026-11-23T12:00:00Z'),
      ntp: async () => ({ synchronized: ntp, source: 'test' }),
      loadPcap: async () => ({ lib_version: 'libpcap version 1.10.3' }),
      interfaces: async () => [wifi('wlan0', false, true), wifi('mon0', true, true), ble(0)],
      interfaceUp: () => true,
      uid: () => 1000,
      capEff: () => 0x3000n,
      serviceGrants: () => null,
      iw: () => ({ onPath: '/usr/sbin/iw', elsewhere: null }),
      disk: (p) => ({ path: p, freeBytes: 8 * 2 ** 30, totalBytes: 16 * 2 ** 30 }),
    });
    const capture = 'capture:\n  wifi: { interface: mon0, channels: [1, 6, 11] }\n  ble: { interface: bluetooth0 }\n';
    const control = `control:\n  publicKeys: ["${generateControlKeyPair().publicKey}"]\n`;
    const cfg = config('ap-all', capture + control + brokerBlock(broker.url));
    const good = await runDoctor(cfg, { timeoutMs: 5000, probes: probes(true) });
    // This test broker has no ACL: the rights check warns (test/broker-provision.test.ts has one that passes).
    expect(good.checks.filter((c) => c.status !== 'ok').map((c) => [c.id, c.status])).toEqual([['broker-rights', 'warn']]);
    expect(good.ok).toBe(true);
    expect(good.checks.map((c) => c.id)).toEqual(['config', 'key', 'clock', 'pcap', 'interfaces', 'wifi-interface', 'bluetooth', 'permissions', 'iw', 'broker', 'broker-rights', 'control', 'outbox', 'disk']);
    // Without HQ's control public key the agent would apply no downlink: a warning with the fix.
    const unsigned = await runDoctor(config('ap-unsigned', capture + brokerBlock(broker.url)), { timeoutMs: 5000, probes: probes(true) });
    expect(unsigned.checks.filter((c) => c.status !== 'ok' && c.id !== 'broker-rights')).toMatchObject([{ id: 'control', status: 'warn', fix: expect.stringMatching(/omniloop key public/) }]);
    const warned = await runDoctor(cfg, { timeoutMs: 5000, probes: probes(null) });
    expect(warned.checks.filter((c) => c.status !== 'ok').map((c) => [c.id, c.status])).toEqual([['clock', 'warn'], ['broker-rights', 'warn']]);
    expect(warned.ok).toBe(true); // warnings do not fail
    expect(formatReport(warned)).toMatch(/\n\d+ ok, 2 warnings, 0 failed$/);
    const unsynced = await runDoctor(cfg, { timeoutMs: 5000, probes: probes(false) });
    expect(unsynced.ok).toBe(false);
  });

  it('a configured capture interface that does not exist fails with the commands that make it, with and without a radio', async () => {
    const probes: DoctorProbes = {
      now: () => Date.now(),
      ntp: async () => ({ synchronized: true, source: 'test' }),
      loadPcap: async () => ({ lib_version: 'libpcap version 1.10.3' }),
      interfaces: async () => [wifi('wlan0', false, true), wifi('wlan1', false, true), eth0],
      interfaceUp: () => null,
      uid: () => 0,
      capEff: () => 0x3000n,
      serviceGrants: () => null,
      iw: () => ({ onPath: '/usr/sbin/iw', elsewhere: null }),
      disk: (p) => ({ path: p, freeBytes: 8 * 2 ** 30, totalBytes: 16 * 2 ** 30 }),
    };
    const withRadio = await runDoctor(config('ap-radio', 'capture:\n  wifi: { interface: mon0, radio: wlan1 }\n'), { timeoutMs: 1000, probes });
    const w = withRadio.checks.find((c) => c.id === 'wifi-interface')!;
    expect(w).toMatchObject({ status: 'fail', summary: 'no interface mon0 (capture.wifi.radio: wlan1)' });
    expect(w.fix).toBe('sudo systemctl restart omniloop-agent (it makes mon0 on wlan1 before every start), or by hand: sudo iw dev wlan1 interface add mon0 type monitor && sudo ip link set mon0 up');
    expect(withRadio.ok).toBe(false);

    const without = await runDoctor(config('ap-noradio', 'capture:\n  wifi: { interface: mon0 }\n'), { timeoutMs: 1000, probes });
    const n = without.checks.find((c) => c.id === 'wifi-interface')!;
    expect(n).toMatchObject({ status: 'fail', summary: 'no interface mon0' });
    expect(n.fix).toBe(
      'sudo iw dev wlan0 interface add mon0 type monitor && sudo ip link set mon0 up; to have the service make it before every start (after a reboot or a re-plugged adapter too), set capture.wifi.radio: wlan0 in the config, then sudo systemctl restart omniloop-agent',
    );
    // As printed: the fix on the line below the failure.
    const text = formatReport(without).split('\n');
    const at = text.findIndex((l) => /^FAIL {2}wifi-interface +no interface mon0$/.test(l));
    expect(at, text.join('\n')).toBeGreaterThan(0);
    expect(text[at + 1]).toMatch(/^ +fix: sudo iw dev wlan0 interface add mon0 type monitor && sudo ip link set mon0 up; .*set capture\.wifi\.radio: wlan0/);
  });

  it('has printed no key material and no password', () => {
    const all = printed.join('\n');
    expect(all.length).toBeGreaterThan(1000);
    expect(all).not.toContain(keyText);
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain('not-the-password');
  });
});

function wifi(name: string, monitor: boolean, capable: boolean | null): InterfaceInfo {
  return { name, kind: 'wifi', arpType: monitor ? 803 : 1, inMonitorMode: monitor, monitorCapable: capable, phy: 'phy0', note: '' };
}
function ble(n: number): InterfaceInfo {
  return { name: `bluetooth${n}`, kind: 'ble', arpType: null, inMonitorMode: false, monitorCapable: null, phy: `hci${n}`, note: '' };
}
const eth0: InterfaceInfo = { name: 'eth0', kind: 'other', arpType: 1, inMonitorMode: false, monitorCapable: false, phy: null, note: 'not a WiFi radio' };

describe('hardware checks, judged from injected answers', () => {
  it('WiFi interface: monitor mode and up, down, managed, missing, not a radio, no monitor support', () => {
    const list = [wifi('wlan0', false, true), wifi('mon0', true, true), eth0];
    expect(judgeWifiInterface(list, 'mon0', true)).toMatchObject({ status: 'ok', summary: 'mon0 is in monitor mode and up (phy0)' });
    expect(judgeWifiInterface(list, 'mon0', false)).toMatchObject({ status: 'fail', fix: 'sudo ip link set mon0 up' });
    const managed = judgeWifiInterface(list, 'wlan0', true);
    expect(managed).toMatchObject({ status: 'fail', summary: 'wlan0 is not in monitor mode (ARP type 1)' });
    expect(managed.fix).toContain('sudo iw dev wlan0 interface add mon0 type monitor && sudo ip link set mon0 up');
    expect(judgeWifiInterface([wifi('wlan0', false, true), eth0], 'mon1', null)).toMatchObject({
      status: 'fail',
      summary: 'no interface mon1',
      fix: 'sudo iw dev wlan0 interface add mon1 type monitor && sudo ip link set mon1 up; to have the service make it before every start (after a reboot or a re-plugged adapter too), set capture.wifi.radio: wlan0 in the config, then sudo systemctl restart omniloop-agent',
    });
    expect(judgeWifiInterface(list, 'mon1', null).fix).toMatch(/capture\.wifi\.interface: mon0/);
    expect(judgeWifiInterface(list, 'eth0', true)).toMatchObject({ status: 'fail', summary: 'eth0 is not a WiFi radio' });
    expect(judgeWifiInterface([wifi('wlan0', false, false)], 'wlan0', true)).toMatchObject({ status: 'fail', summary: "wlan0's driver does not support monitor mode" });
    expect(judgeWifiInterface([eth0], 'mon0', null).fix).toMatch(/WiFi adapter whose driver supports monitor mode/);
    expect(summarizeInterfaces(list)).toMatchObject({ status: 'ok', summary: 'WiFi: wlan0 (monitor-capable), mon0 (monitor); Bluetooth: none' });
    expect(summarizeInterfaces([eth0]).status).toBe('warn');
    expect(judgeCaptureConfigured({})?.status).toBe('fail');
    expect(judgeCaptureConfigured({ ble: { interface: 'bluetooth0' } })).toBeNull();
  });

  it('WiFi interface missing: with capture.wifi.radio the service remakes it on restart; without one, the fix says to set it', () => {
    const list = [wifi('wlan0', false, true), eth0];
    expect(judgeWifiInterface(list, 'mon0', null, 'wlan0')).toEqual({
      id: 'wifi-interface',
      status: 'fail',
      summary: 'no interface mon0 (capture.wifi.radio: wlan0)',
      fix: 'sudo systemctl restart omniloop-agent (it makes mon0 on wlan0 before every start), or by hand: sudo iw dev wlan0 interface add mon0 type monitor && sudo ip link set mon0 up',
      details: { interface: 'mon0', radio: 'wlan0' },
    });
    expect(judgeWifiInterface(list, 'mon0', null, 'phy0').fix).toBe(
      'sudo systemctl restart omniloop-agent (it makes mon0 on phy0 before every start), or by hand: sudo iw phy phy0 interface add mon0 type monitor && sudo ip link set mon0 up',
    );
    // The radio itself is gone (an unplugged USB adapter): plug it in first.
    expect(judgeWifiInterface(list, 'mon0', null, 'wlan1')).toMatchObject({
      status: 'fail',
      summary: 'no interface mon0, and no radio wlan1 (capture.wifi.radio) to make it on',
      fix: 'plug in the WiFi adapter (check `lsusb` and `iw dev`; fix capture.wifi.radio if it has another name), then sudo systemctl restart omniloop-agent (it makes mon0 on wlan1 before every start)',
    });
    // No radio and no candidate: the fix still names the setting.
    expect(judgeWifiInterface([eth0], 'mon0', null).fix).toMatch(/WiFi adapter whose driver supports monitor mode.*; to have the service make it .*set capture\.wifi\.radio: <radio, e\.g\. wlan1> in the config, then sudo systemctl restart omniloop-agent$/);
    // Present: the radio changes nothing.
    expect(judgeWifiInterface([...list, wifi('mon0', true, true)], 'mon0', true, 'wlan0').status).toBe('ok');
  });

  it('Bluetooth: an adapter for the configured interface', () => {
    expect(judgeBluetooth([eth0], 'bluetooth0')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/no Bluetooth adapter/), fix: expect.stringMatching(/rfkill unblock bluetooth/) });
    expect(judgeBluetooth([ble(0)], 'bluetooth0')).toMatchObject({ status: 'ok', summary: 'bluetooth0 is hci0' });
    expect(judgeBluetooth([ble(0)], 'bluetooth1')).toMatchObject({ status: 'fail', fix: 'set capture.ble.interface: bluetooth0 (or bluetooth-monitor)' });
    expect(judgeBluetooth([ble(0), ble(1)], 'bluetooth-monitor').status).toBe('ok');
    expect(judgeBluetooth([ble(0)], 'nrf0').status).toBe('warn');
  });

  it('capabilities: the CapEff bits decide, root or not; the service unit turns a failure into a warning', () => {
    expect(parseCapEff('Name:\tnode\nCapPrm:\t0000000000000000\nCapEff:\t0000000000003000\n')).toBe(0x3000n);
    expect(parseCapEff('no caps here')).toBeNull();
    const need = { needRaw: true, needAdmin: true, serviceGrants: null };
    expect(judgeCapturePermissions({ uid: 1000, capEff: 0x3000n, ...need }).status).toBe('ok');
    const user = judgeCapturePermissions({ uid: 1000, capEff: 0n, ...need });
    expect(user).toMatchObject({ status: 'fail', summary: 'uid 1000 lacks CAP_NET_RAW and CAP_NET_ADMIN (needed for capture and channel hopping)' });
    expect(user.fix).toContain('sudo setcap cap_net_raw,cap_net_admin+eip $(readlink -f $(which node))');
    expect(user.fix).toContain('systemctl enable --now omniloop-agent');
    // Docker's default set for root: CAP_NET_RAW but no CAP_NET_ADMIN.
    const docker = judgeCapturePermissions({ uid: 0, capEff: 0xa80425fbn, ...need });
    expect(docker).toMatchObject({ status: 'fail', details: { missing: ['CAP_NET_ADMIN'] } });
    expect(docker.summary).toMatch(/root lacks CAP_NET_ADMIN .*--cap-add NET_ADMIN/);
    expect(judgeCapturePermissions({ uid: 0, capEff: 0xa80425fbn, needRaw: true, needAdmin: false, serviceGrants: null }).status).toBe('ok'); // BLE only
    const unit = '[Service]\nUser=omniloop\nAmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN\nCapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN\n';
    expect(parseAmbientCapabilities(unit)).toEqual(['CAP_NET_RAW', 'CAP_NET_ADMIN']);
    expect(judgeCapturePermissions({ uid: 1000, capEff: 0n, needRaw: true, needAdmin: true, serviceGrants: parseAmbientCapabilities(unit) }).status).toBe('warn');
    expect(judgeCapturePermissions({ uid: 1000, capEff: 0n, needRaw: false, needAdmin: false, serviceGrants: null }).status).toBe('ok');
  });

  it('iw: needed whenever WiFi is captured (the hopper sets even one channel with it)', () => {
    const wifiCfg = { interface: 'mon0', channels: [6] };
    expect(judgeIw({ wifi: wifiCfg, onPath: null, elsewhere: null })).toMatchObject({ status: 'fail', fix: 'sudo apt-get install iw' });
    expect(judgeIw({ wifi: { interface: 'mon0', channels: [1, 6, 11] }, onPath: '/usr/sbin/iw', elsewhere: null })).toMatchObject({ status: 'ok', summary: '/usr/sbin/iw (the agent hops mon0 over 3 channels with it)' });
    expect(judgeIw({ wifi: wifiCfg, onPath: null, elsewhere: '/usr/sbin/iw' }).status).toBe('warn');
    expect(judgeIw({ wifi: null, onPath: null, elsewhere: null }).status).toBe('ok');
  });

  it('clock: a reset year and an unsynchronized clock fail, an unknown one warns', async () => {
    const now = Date.parse('2026-11-23T12:00:00Z');
    expect(judgeClock(0, { synchronized: true, source: 'timedatectl' })).toMatchObject({ status: 'fail', summary: expect.stringMatching(/1970-01-01T00:00:00Z/) });
    expect(judgeClock(now, { synchronized: false, source: 'timedatectl' })).toMatchObject({ status: 'fail', fix: expect.stringMatching(/timedatectl set-ntp true/) });
    expect(judgeClock(now, { synchronized: null, source: 'none' }).status).toBe('warn');
    expect(judgeClock(now, { synchronized: true, source: 'timedatectl' })).toMatchObject({ status: 'ok', summary: '2026-11-23T12:00:00Z, synchronized (timedatectl)' });
    expect(await probeNtp(async () => 'yes\n', '/nonexistent')).toEqual({ synchronized: true, source: 'timedatectl' });
    expect(await probeNtp(async () => 'no\n', '/nonexistent')).toMatchObject({ synchronized: false });
    expect(await probeNtp(async () => null, '/nonexistent')).toMatchObject({ synchronized: null });
    const flag = join(dir, 'synchronized');
    writeFileSync(flag, '');
    expect(await probeNtp(async () => null, flag)).toEqual({ synchronized: true, source: flag });
  });

  it('disk: fail under 100 MiB, warn under 1 GiB or 10%, and below the outbox bound', () => {
    const GiB = 2 ** 30;
    const d = (free: number, total: number) => ({ path: '/var/lib/omniloop', freeBytes: free, totalBytes: total });
    expect(judgeDisk(d(50 * 2 ** 20, 16 * GiB), 256 * 2 ** 20)).toMatchObject({ status: 'fail', fix: expect.stringMatching(/df -h \/var\/lib\/omniloop/) });
    expect(judgeDisk(d(0.5 * GiB, 16 * GiB), 256 * 2 ** 20).status).toBe('warn');
    expect(judgeDisk(d(2 * GiB, 100 * GiB), 256 * 2 ** 20).status).toBe('warn'); // 2%
    expect(judgeDisk(d(5 * GiB, 16 * GiB), 8 * GiB).status).toBe('warn'); // less than outbox.maxMegabytes
    expect(judgeDisk(d(5 * GiB, 16 * GiB), 256 * 2 ** 20)).toMatchObject({ status: 'ok', summary: "5.0 GiB free of 16.0 GiB (31.3%) on the outbox's filesystem (/var/lib/omniloop)" });
  });

  it('pcap: a binding that does not load fails with the install command', async () => {
    const missing = await checkPcapBinding(async () => {
      throw new Error("Cannot find module 'pcap'");
    });
    expect(missing).toMatchObject({ status: 'fail', fix: expect.stringMatching(/^sudo apt-get install libpcap-dev && npm rebuild pcap/) });
    expect(await checkPcapBinding(async () => ({ lib_version: 'libpcap version 1.10.3' }))).toMatchObject({ status: 'ok', summary: 'native pcap module loaded: libpcap version 1.10.3' });
  });

  it('broker failures: each cause has its own reason and fix', () => {
    const f = (code: string | number | undefined, message = 'x', extra: { stage?: 'connect' | 'publish'; timedOut?: boolean } = {}) =>
      explainBrokerFailure({ ok: false, stage: extra.stage ?? 'connect', code, message, ...(extra.timedOut ? { timedOut: true } : {}) }, 'mqtts://broker.example.com:8883', 5, 'omniloop/v1/acme/b/a/doctor', 5000);
    expect(f('ENOTFOUND').summary).toBe('cannot resolve broker.example.com (ENOTFOUND)');
    expect(f(132).fix).toBe('set broker.protocolVersion: 4 in the config');
    expect(f('CERT_HAS_EXPIRED').summary).toMatch(/has expired/);
    expect(f('ERR_TLS_CERT_ALTNAME_INVALID').summary).toMatch(/not issued for broker\.example\.com/);
    expect(f(undefined, 'no answer within 5000 ms', { timedOut: true }).summary).toBe('no answer from broker.example.com:8883 within 5000 ms');
    expect(f(135, 'Not authorized', { stage: 'publish' })).toMatchObject({ fix: "the broker's ACL must let this user publish to omniloop/v1/acme/b/a/#" });
  });

  it('the cloud ignores the doctor topic instead of parking it as a dead letter', async () => {
    const store = new SqliteCloudStore(join(dir, 'cloud.db'));
    expect(await ingestMessage(store, 'omniloop/v1/acme/berlin-1/ap-1/doctor', Buffer.from(JSON.stringify({ ts: Date.now() })))).toBe('ignored');
    expect((await store.stats()).deadLetters).toBe(0);
    await store.close();
  });
});
