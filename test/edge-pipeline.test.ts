/**
 * capture → decode → pseudonymize end to end: generated captures against their exact ground truth,
 * beacon Consumer-IDs against the reference vectors, opt-out, the config file.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { macToBytes } from '../agents/decode/observation.js';
import { deriveOptoutKey } from '../shared/identity/keys.js';
import { optoutToken } from '../shared/identity/optout.js';
import { PcapWriter } from '../scripts/lib/capture-writer.js';
import { adEddystoneUid, adFlags, adIBeacon, bleAdvPdu, bleLlPacket, blePhdr, concat, probeRequest, radiotapHeader } from '../scripts/lib/frames.js';
import { generateCapture } from '../scripts/gen-capture.js';
import { VECTORS, runCli } from './helpers/cli.js';

const v = JSON.parse(readFileSync(join(VECTORS, 'identity-v1.json'), 'utf8'));
const dir = mkdtempSync(join(tmpdir(), 'omniloop-pipe-'));
const key = join(dir, 'acme.key');
const id = ['--key', key, '--tenant', 'acme', '--timezone', 'Europe/Berlin'];

beforeAll(() => writeFileSync(key, Buffer.from(v.secret_hex, 'hex').toString('base64') + '\n', { mode: 0o600 }));

describe('generated captures', () => {
  it.each(['wifi', 'ble', 'mixed'] as const)('%s: the summary equals the ground truth', (kind) => {
    const out = join(dir, `gen-${kind}.cap`);
    const truth = generateCapture({ out, frames: 30_000, devices: 3_000, kind, seed: 42, malformedShare: 0.01, ignoredShare: 0.05 });
    const r = runCli(['decode', out, '--summary', '--json', ...id]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    // Distinct addresses are exact; the estimate of devices behind them is the estimator's (see estimate tests).
    const { estimated: wifiEstimated, associated, ...wifiDevices } = s.wifi.devices;
    const { estimated: bleEstimated, ...bleDevices } = s.ble.devices;
    const { connectedFrames, ...wifi } = s.wifi;
    // No store network given: nothing is associated, no connection frame is read.
    expect([associated, connectedFrames]).toEqual([0, 0]);
    expect({ frames: s.frames, malformed: s.malformed, ignored: s.ignored, wifi: { ...wifi, devices: wifiDevices }, ble: { ...s.ble, devices: bleDevices } }).toEqual(truth);
    expect(wifiEstimated).toBeGreaterThanOrEqual(truth.wifi.devices.global);
    expect(wifiEstimated).toBeLessThanOrEqual(truth.wifi.devices.global + truth.wifi.devices.randomized);
    expect(bleEstimated).toBeGreaterThanOrEqual(truth.ble.devices.public + truth.ble.devices.static);
    expect(bleEstimated).toBeLessThanOrEqual(truth.ble.devices.public + truth.ble.devices.static + truth.ble.devices.rpa + truth.ble.devices.nrpa);
    expect(truth.malformed).toBeGreaterThan(50);
  });
});

describe('one store-day of known devices', () => {
  const file = join(dir, 'known.pcap');
  const day = Date.parse('2026-11-22T10:00:00Z');
  const wifiMac = 0x001a11aabbcc; // a vector address (global)
  const bleMac = 0xf01898010203; // a vector address, advertised as a public BLE address
  const ibeacon = v.ibeacon_consumer_ids[0];
  const eddy = v.eddystone_consumer_ids[0];

  beforeAll(() => {
    const wifi = new PcapWriter(file, 127);
    for (let i = 0; i < 5; i++) wifi.add(day + i * 1000, concat(radiotapHeader({ flags: 0, freqMhz: 2412, signalDbm: -50 }), probeRequest({ sa: wifiMac, seq: i })));
    wifi.close();
    const ble = new PcapWriter(join(dir, 'known-ble.pcap'), 256);
    const pdu = (ad: Uint8Array) => concat(blePhdr({ rfChannel: 0, signalDbm: -60 }), bleLlPacket(bleAdvPdu({ pduType: 2, txAdd: 0, advA: bleMac, adData: ad })));
    ble.add(day, pdu(concat(adFlags(4), adIBeacon({ uuid: ibeacon.uuid, major: ibeacon.major, minor: ibeacon.minor }))));
    ble.add(day + 1, pdu(adEddystoneUid({ namespace: eddy.namespace, instance: eddy.instance })));
    ble.close();
  });

  it('gives the reference Consumer-IDs to addresses and beacons', () => {
    const w = runCli(['decode', file, '--json', ...id]);
    const wl = w.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(wl).toHaveLength(5);
    expect(new Set(wl.map((o) => o.cid))).toEqual(new Set([v.mac_consumer_ids.find((m: { mac: string; date: string }) => m.mac === '00:1a:11:aa:bb:cc' && m.date === '2026-11-22').cid]));
    const b = runCli(['decode', join(dir, 'known-ble.pcap'), '--json', ...id]);
    const [ib, ed] = b.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(ib.cid).toBe(v.mac_consumer_ids.find((m: { mac: string; date: string }) => m.mac === 'F0:18:98:01:02:03' && m.date === '2026-11-22').cid);
    expect(ib.ibeacon).toEqual({ uuid: ibeacon.uuid, major: 100, minor: 7, measuredPower: -59, cid: ibeacon.cid });
    expect(ed.eddystone).toMatchObject({ namespace: eddy.namespace, instance: eddy.instance, cid: eddy.cid });
  });

  it('drops an opted-out device before it is counted or printed', () => {
    const list = join(dir, 'optout.txt');
    const token = optoutToken(deriveOptoutKey(Buffer.from(v.secret_hex, 'hex'), 'acme'), macToBytes(wifiMac));
    expect(token).toBe(v.optout_tokens[0].token);
    writeFileSync(list, `${token}\n`);
    const s = JSON.parse(runCli(['decode', file, '--summary', '--json', ...id, '--optout', list]).stdout);
    expect([s.optedOut, s.wifi.probeRequests, s.wifi.devices.global]).toEqual([5, 0, 0]);
    expect(runCli(['decode', file, '--json', ...id, '--optout', list]).stdout).toBe('');
  });

  it('takes tenant, zone, key and opt-out list from the config file, relative to it', () => {
    mkdirSync(join(dir, 'etc'), { recursive: true });
    writeFileSync(join(dir, 'etc', 'agent.yaml'), 'tenant: acme\nstore: berlin-1\nagent: ap-1\ntimezone: Europe/Berlin\nkeyFile: ../acme.key\n');
    const r = runCli(['decode', file, '--json', '--config', join(dir, 'etc', 'agent.yaml')]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.split('\n')[0]!).cid).toBe('a78e0562cf172608359c14850c574d53');
  });

  it('explains every mistake in the config file', () => {
    const cfg = join(dir, 'bad.yaml');
    const check = (text: string, pattern: RegExp) => {
      writeFileSync(cfg, text);
      const r = runCli(['decode', file, '--summary', '--config', cfg]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toMatch(pattern);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    };
    check('tenant: [unclosed\n', /not valid YAML/);
    check('- a\n- b\n', /must be a YAML mapping/);
    check('tenant: acme\n', /keyFile/);
    check('tenant: Acme!\nkeyFile: k\n', /tenant must be/);
    check('tenant: acme\nkeyFile: k\ntimezone: Mars/Base\n', /timezone: not an IANA time zone/);
    check('tenant: acme\nkeyFile: k\nrolloverHours: 25\n', /rolloverHours/);
    check('tenant: acme\nkeyFile: k\ncolour: blue\n', /unknown setting "colour"/);
    check('tenant: acme\nkeyFile: k\ncapture:\n  wifi:\n    interface: mon0\n    dwellMs: 5\n', /capture\.wifi\.dwellMs/);
    check('tenant: acme\nkeyFile: missing.key\n', /missing\.key does not exist/);
  });
});
