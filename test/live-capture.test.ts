/** Live capture through the real libpcap, channel hopping through a fake `iw`, interface discovery. */
import { createSocket } from 'node:dgram';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChannelHopper, execRunner, validateChannels, type CommandRunner } from '../agents/capture/channel-hopper.js';
import { listCaptureInterfaces, parseIwSupportedModes } from '../agents/capture/interfaces.js';
import { linkTypeFromPcapName, openLiveCapture, translatePcapError, type LiveCapture } from '../agents/capture/live.js';
import { CheckError, InputError } from '../shared/errors.js';
import { runCli } from './helpers/cli.js';

const isRoot = process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('channel hopper', () => {
  function fakeRunner(refuse: number[] = []) {
    const calls: string[] = [];
    const run: CommandRunner = async (cmd, args) => {
      calls.push([cmd, ...args].join(' '));
      const ch = Number(args[args.length - 1]);
      if (refuse.includes(ch)) throw new Error('command failed: Invalid argument (-22)');
    };
    return { calls, run };
  }

  it('cycles the channel list with the dwell time', async () => {
    const { calls, run } = fakeRunner();
    const h = new ChannelHopper('mon0', [1, 6, 11], 50, run);
    await h.start();
    await sleep(180);
    h.stop();
    const n = calls.length;
    await sleep(120);
    expect(calls.length).toBe(n); // stopped means stopped
    expect(n).toBeGreaterThanOrEqual(3);
    expect(calls.slice(0, 4)).toEqual(['iw dev mon0 set channel 1', 'iw dev mon0 set channel 6', 'iw dev mon0 set channel 11', 'iw dev mon0 set channel 1'].slice(0, Math.min(4, n)));
    expect(h.hops).toBe(n);
  });

  it('uses set freq for frequencies and sets a single channel once', async () => {
    const { calls, run } = fakeRunner();
    const h = new ChannelHopper('mon0', [5955], 50, run);
    await h.start();
    await sleep(120);
    h.stop();
    expect(calls).toEqual(['iw dev mon0 set freq 5955']);
    expect(h.current).toBe(5955);
  });

  it('reports a refused channel once and skips it afterwards; all refused is an error', async () => {
    const { calls, run } = fakeRunner([13]);
    const h = new ChannelHopper('mon0', [1, 13], 50, run);
    const refused: number[] = [];
    h.on('refused', (ch) => refused.push(ch));
    await h.start();
    await sleep(200);
    h.stop();
    expect(refused).toEqual([13]);
    expect(calls.filter((c) => c.endsWith(' 13'))).toHaveLength(1);
    expect(h.usableChannels).toEqual([1]);

    const all = new ChannelHopper('mon0', [12, 13], 50, fakeRunner([12, 13]).run);
    const errors: CheckError[] = [];
    all.on('error', (e) => errors.push(e));
    all.on('refused', () => {});
    await all.start();
    expect(errors[0]?.message).toMatch(/refused every channel.*iw reg get/);
  });

  it('validates channels and dwell up front', () => {
    expect(() => validateChannels([1, 99])).toThrow(InputError);
    expect(() => validateChannels([])).toThrow(InputError);
    expect(validateChannels([1, 36, 165, 5955])).toEqual([1, 36, 165, 5955]);
    expect(() => new ChannelHopper('mon0', [1], 10)).toThrow(/dwell/);
  });

  it('runs the real `iw` through PATH, and says when it is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'omniloop-iw-'));
    const log = join(dir, 'log');
    writeFileSync(join(dir, 'iw'), `#!/bin/sh\necho "$@" >> ${log}\n[ "$5" = 14 ] && { echo "command failed: Invalid argument (-22)" >&2; exit 1; }\nexit 0\n`);
    chmodSync(join(dir, 'iw'), 0o755);
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path}`;
    try {
      await execRunner('iw', ['dev', 'mon0', 'set', 'channel', '6']);
      await expect(execRunner('iw', ['dev', 'mon0', 'set', 'channel', '14'])).rejects.toThrow(/Invalid argument/);
      expect(readFileSync(log, 'utf8')).toBe('dev mon0 set channel 6\ndev mon0 set channel 14\n');
      process.env.PATH = dir + '/nothing-here';
      const h = new ChannelHopper('mon0', [1, 6], 50);
      const errors: CheckError[] = [];
      h.on('error', (e) => errors.push(e));
      await h.start();
      expect(errors[0]?.message).toMatch(/`iw` not found: apt-get install iw/);
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('interface discovery', () => {
  it('parses the supported interface modes of `iw phy`', () => {
    const text = `Wiphy phy0\n\tmax # scan SSIDs: 4\n\tSupported interface modes:\n\t\t * IBSS\n\t\t * managed\n\t\t * AP\n\t\t * monitor\n\t\t * P2P-client\n\tBand 1:\n\t\tCapabilities: 0x1862\n`;
    expect(parseIwSupportedModes(text)).toEqual(['IBSS', 'managed', 'AP', 'monitor', 'P2P-client']);
    expect(parseIwSupportedModes('Wiphy phy1\n')).toEqual([]);
  });

  it('lists monitor interfaces, radios and Bluetooth adapters from sysfs', async () => {
    const root = mkdtempSync(join(tmpdir(), 'omniloop-sys-'));
    const mk = (name: string, type: number, phy?: string) => {
      mkdirSync(join(root, 'net', name), { recursive: true });
      writeFileSync(join(root, 'net', name, 'type'), `${type}\n`);
      if (phy) symlinkSync(`../../ieee80211/${phy}`, join(root, 'net', name, 'phy80211'));
    };
    mk('eth0', 1);
    mk('mon0', 803, 'phy0');
    mkdirSync(join(root, 'bluetooth', 'hci0'), { recursive: true });
    const list = await listCaptureInterfaces(root);
    expect(list.map((i) => [i.name, i.kind, i.inMonitorMode])).toEqual([
      ['eth0', 'other', false],
      ['mon0', 'wifi', true],
      ['bluetooth0', 'ble', false],
      ['bluetooth-monitor', 'ble', false],
    ]);
  });
});

describe('libpcap', () => {
  let open: LiveCapture | null = null;
  afterEach(() => {
    open?.close();
    open = null;
  });

  it('maps node_pcap link type names and turns libpcap errors into advice', () => {
    expect(linkTypeFromPcapName('LINKTYPE_IEEE802_11_RADIO')).toBe(127);
    expect(linkTypeFromPcapName('Unknown linktype 201')).toBe(201);
    expect(translatePcapError('mon0', new Error('mon0: No such device exists')).message).toMatch(/no interface mon0.*omniloop interfaces/);
    expect(translatePcapError('mon0', new Error("mon0: You don't have permission to capture on that device (socket: Operation not permitted)")).message).toMatch(/CAP_NET_RAW/);
    expect(translatePcapError('mon0', new Error('mon0: That device is not up')).message).toMatch(/ip link set mon0 up/);
    expect(translatePcapError('wlan0', new Error("wlan0: That device doesn't support monitor mode")).message).toMatch(/monitor mode/);
  });

  it.skipIf(!isRoot)('refuses an interface that is not in monitor mode, with the fix', async () => {
    await expect(openLiveCapture({ iface: 'lo', kind: 'wifi' }, () => {})).rejects.toThrow(/lo is not in monitor mode \(link type LINKTYPE_ETHERNET, 1\).*iw dev lo/);
    await expect(openLiveCapture({ iface: 'lo', kind: 'ble' }, () => {})).rejects.toThrow(/not a Bluetooth capture interface/);
    await expect(openLiveCapture({ iface: 'nosuch0', kind: 'wifi' }, () => {})).rejects.toThrow(/no interface nosuch0/);
  });

  it.skipIf(!isRoot)('delivers live packets with their lengths and timestamps', async () => {
    const got: { linktype: number; caplen: number; orig: number; ts: number; payload: string }[] = [];
    open = await openLiveCapture({ iface: 'lo', kind: 'wifi', anyLinkType: true, filter: 'udp and port 47999' }, (linktype, buf, off, caplen, orig, ts) => {
      got.push({ linktype, caplen, orig, ts, payload: Buffer.from(buf.subarray(off + caplen - 5, off + caplen)).toString() });
    });
    const sock = createSocket('udp4');
    const before = Date.now();
    for (let i = 0; i < 3; i++) sock.send(`probe${i}`, 47999, '127.0.0.1');
    for (let i = 0; i < 50 && got.length < 3; i++) await sleep(50);
    sock.close();
    expect(got.length).toBeGreaterThanOrEqual(3);
    expect(got[0]!.linktype).toBe(1);
    expect(got[0]!.caplen).toBe(14 + 20 + 8 + 6); // Ethernet + IPv4 + UDP + "probeN"
    expect(got[0]!.orig).toBe(got[0]!.caplen);
    expect(got.map((g) => g.payload).slice(0, 3)).toEqual(['robe0', 'robe1', 'robe2']);
    expect(Math.abs(got[0]!.ts - before)).toBeLessThan(5000);
    expect(open.stats().received).toBeGreaterThanOrEqual(3);
  });

  it('is what `omniloop capture` reports, with exit code 1', () => {
    const r = runCli(['capture', '--wifi', 'nosuch0', '--duration', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^omniloop: no interface nosuch0/m);
    expect(r.stderr).not.toMatch(/warning: SIOCGIFADDR/);
    const bad = runCli(['capture', '--wifi', 'mon0', '--channels', '1,99']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/channel 99/);
    expect(runCli(['capture']).code).toBe(2);
    const list = runCli(['interfaces', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).some((i: { name: string }) => i.name === 'lo')).toBe(true);
  });
});
