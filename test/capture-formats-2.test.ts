/**
 * Issue 7's formats: btsnoop files (Android HCI snoop logs, btmon), the nRF Sniffer's Nordic BLE link
 * type, Prism and AVS radio headers — on real captures and on frames built from the specifications,
 * checked against tshark where it decodes them.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaptureBuffer } from '../agents/capture/file-reader.js';
import { AddressClass, BlePdu, FrameStatus } from '../agents/decode/observation.js';
import { EdgePipeline } from '../agents/pipeline/edge-pipeline.js';
import { Pseudonymizer } from '../agents/pseudonymize/pseudonymizer.js';
import { PcapWriter } from '../scripts/lib/capture-writer.js';
import {
  adFlags,
  adIBeacon,
  avsHeader,
  bleAdvPdu,
  bleLlPacket,
  btsnoopFile,
  concat,
  hciLeAdvReportEvent,
  nordicBle,
  prismHeader,
  probeRequest,
} from '../scripts/lib/frames.js';
import { CAPTURES, runCli } from './helpers/cli.js';
import { decodeCaptureFile, decodeOne } from './helpers/decode.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-formats2-'));
const hasTshark = spawnSync('sh', ['-c', 'command -v tshark']).status === 0;
const SA = 0xf01898010203;
const ADV = 0x5a0000000001; // resolvable private


function tshark(path: string, fields: string[], filter?: string): string[][] {
  const args = ['-r', path, '-T', 'fields', ...fields.flatMap((f) => ['-e', f]), ...(filter ? ['-Y', filter] : [])];
  const r = spawnSync('tshark', args, { encoding: 'utf8' });
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => l.split('\t'));
}

describe('btsnoop', () => {
  it('reads the Android HCI snoop log: 412 advertising reports from 36 addresses, iBeacons from 4 devices', () => {
    const { read, obs, s } = decodeCaptureFile(join(CAPTURES, 'ble/ble_btsnoop_csacca_ibeacon_btsnoop_hci.log'));
    expect(read).toMatchObject({ format: 'btsnoop', linktypes: [187], records: 2572, truncated: null, corrupt: null });
    expect(s.ble.advertisements).toBe(412);
    const d = s.ble.devices;
    expect(d.public + d.static + d.rpa + d.nrpa).toBe(36);
    const beacons = obs.filter((o) => o.ibeaconUuidOff >= 0);
    expect(beacons).toHaveLength(11);
    expect(new Set(beacons.map((o) => o.mac)).size).toBe(4);
    // tshark: two identities, 494e54454c4c495f524f434b535f4857 with major 0x5072 and 0x5075, minor 0xf2ff.
    expect(new Set(beacons.map((o) => `${o.ibeaconMajor}/${o.ibeaconMinor}`))).toEqual(new Set(['20594/62207', '20597/62207']));
    expect(s.ble.ibeacons).toBe(2);
    expect(s.malformed).toBe(0);
  });

  it('reads H4, H1 and Linux-monitor btsnoop files with their timestamps', () => {
    const ev = hciLeAdvReportEvent([{ eventType: 0, addrType: 1, addr: ADV, data: adFlags(), rssi: -42 }]);
    const t = Date.parse('2026-11-23T10:00:00.123Z');
    const files: [number, { tsMs: number; flags: number; data: Uint8Array }[]][] = [
      [1002, [{ tsMs: t, flags: 3, data: concat(new Uint8Array([0x04]), ev) }]],
      [1001, [{ tsMs: t, flags: 3, data: ev }, { tsMs: t + 1, flags: 0, data: new Uint8Array([1, 0, 0, 0]) }]],
      [2001, [{ tsMs: t, flags: (0 << 16) | 3, data: ev }, { tsMs: t + 1, flags: 2, data: new Uint8Array([3, 0x20, 0]) }]],
    ];
    for (const [dl, recs] of files) {
      const got: { lt: number; ts: number }[] = [];
      const obs: number[] = [];
      const pipeline = new EdgePipeline(new Pseudonymizer({ secret: new Uint8Array(32), tenant: 't', timezone: 'UTC' }), (o) => obs.push(o.mac));
      const r = readCaptureBuffer(btsnoopFile(dl, recs), (lt, buf, off, len, orig, ts) => {
        got.push({ lt, ts });
        pipeline.onRecord(lt, buf, off, len, orig, ts);
      });
      expect(r.format).toBe('btsnoop');
      expect(got[0]!.lt).toBe(dl === 2001 ? 254 : 187);
      expect(got[0]!.ts).toBeCloseTo(t, 3);
      expect(obs, `datalink ${dl}`).toEqual([ADV]);
      expect(pipeline.counters.frames).toBe(recs.length);
    }
    expect(readCaptureBuffer(btsnoopFile(1003, []), () => {}).corrupt?.reason).toMatch(/datalink 1003 is not supported/);
  });
});

describe('Nordic BLE (272)', () => {
  const ll = bleLlPacket(bleAdvPdu({ pduType: 0, txAdd: 1, advA: ADV, adData: concat(adFlags(), adIBeacon({ uuid: 'f7826da64fa24e988024bc5b71e0893e', major: 5, minor: 6 })) }));

  it.each([1, 2, 3] as const)('protocol version %i: address, RSSI, channel and beacon', (version) => {
    const { status, obs } = decodeOne(272, nordicBle({ ll, version, channel: 38, rssi: -71 }));
    expect(status).toBe(FrameStatus.Observed);
    const o = obs[0]!;
    expect([o.mac, o.addressClass, o.pdu, o.rssi, o.channel, o.freqMhz, o.ibeaconMajor]).toEqual([ADV, AddressClass.BleRpa, BlePdu.AdvInd, -71, 38, 2426, 5]);
  });

  it('rejects bad-CRC packets as linktype 256 does, and inconsistent headers', () => {
    expect(decodeOne(272, nordicBle({ ll, crcOk: false })).status).toBe(FrameStatus.Malformed);
    const bad = nordicBle({ ll });
    expect(decodeOne(272, bad.subarray(0, bad.length - 1)).status).toBe(FrameStatus.Malformed);
    expect(decodeOne(272, nordicBle({ ll, channel: 40 })).status).toBe(FrameStatus.Malformed);
    expect(decodeOne(272, nordicBle({ ll, packetId: 0x0e })).status).toBe(FrameStatus.Ignored); // PING_RESP
  });

  it.skipIf(!hasTshark)('agrees with tshark on a capture of them', () => {
    const path = join(dir, 'nordic.pcap');
    const w = new PcapWriter(path, 272);
    const macs = [0x5a0000000001, 0xc00000000002, 0x001a11aabbcc];
    macs.forEach((m, i) => w.add(1e12 + i, nordicBle({ ll: bleLlPacket(bleAdvPdu({ pduType: i === 2 ? 2 : 0, txAdd: i === 2 ? 0 : 1, advA: m, adData: adFlags() })), version: 3, channel: 37 + i, rssi: -50 - i })));
    w.add(1e12 + 9, nordicBle({ ll: bleLlPacket(bleAdvPdu({ pduType: 0, advA: 0x111111111111 })), crcOk: false }));
    w.close();
    const ours = decodeCaptureFile(path).obs.map((o) => [o.mac.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:'), String(o.rssi), String(o.channel)]);
    const theirs = tshark(path, ['btle.advertising_address', 'nordic_ble.rssi', 'nordic_ble.channel'], 'nordic_ble.crcok == 1');
    expect(ours).toEqual(theirs);
  });
});

describe('Prism (119) and AVS (163)', () => {
  it('reads the pypacker Prism capture: 2 probe requests from 2 sources, with RSSI', () => {
    const { obs, s } = decodeCaptureFile(join(CAPTURES, 'wifi/wifi_prism119_pypacker_prism.pcap'));
    expect(s.frames).toBe(80);
    expect(s.wifi.probeRequests).toBe(2);
    expect(s.wifi.devices.global + s.wifi.devices.randomized).toBe(2);
    // tshark: wlan.sa 70:1a:04:b2:b9:ce, -87 dBm, seq 938; 00:80:48:55:af:ac, -88 dBm, seq 14. The frames
    // end in an FCS the Prism header does not announce: recognized because it matches.
    expect(obs.map((o) => [o.mac, o.rssi, o.seq])).toEqual([
      [0x701a04b2b9ce, -87, 938],
      [0x00804855afac, -88, 14],
    ]);
  });

  it('reads AVS headers, under 163 and under 119', () => {
    const frame = probeRequest({ sa: SA, seq: 5, ssid: 'x' });
    for (const lt of [163, 119]) {
      const { status, obs } = decodeOne(lt, concat(avsHeader({ channel: 11, signalDbm: -66 }), frame));
      expect(status).toBe(FrameStatus.Observed);
      expect([obs[0]!.mac, obs[0]!.rssi, obs[0]!.channel]).toEqual([SA, -66, 11]);
    }
    expect(decodeOne(163, concat(avsHeader({}), frame)).obs[0]!.rssi).toBeNaN();
    const bad = concat(avsHeader({}), frame);
    bad[7] = 200; // header length past the frame
    expect(decodeOne(163, bad).status).toBe(FrameStatus.Malformed);
    expect(decodeOne(163, concat(prismHeader({ frameLen: frame.length }), frame)).status).toBe(FrameStatus.Malformed); // not AVS
  });

  it.skipIf(!hasTshark)('agrees with tshark on built Prism and AVS captures', () => {
    for (const [lt, header] of [
      [119, (i: number) => prismHeader({ channel: 1 + 5 * i, rssiDbm: -40 - i, frameLen: 0 })],
      [163, (i: number) => avsHeader({ channel: 1 + 5 * i, signalDbm: -40 - i })],
    ] as const) {
      const path = join(dir, `old-${lt}.pcap`);
      const w = new PcapWriter(path, lt);
      for (let i = 0; i < 3; i++) w.add(1e12 + i, concat(header(i), probeRequest({ sa: SA + i, seq: i })));
      w.close();
      const ours = decodeCaptureFile(path).obs.map((o) => [o.mac.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:'), String(o.rssi), String(o.channel)]);
      const theirs = tshark(path, ['wlan.sa', 'wlan_radio.signal_dbm', 'wlan_radio.channel'], 'wlan.fc.type_subtype==4');
      expect(ours, `link type ${lt}`).toEqual(theirs);
    }
  });
});

describe('format detection', () => {
  it('goes by the magic number, not the file name', () => {
    const disguised = join(dir, 'snoop.pcap');
    copyFileSync(join(CAPTURES, 'ble/ble_btsnoop_csacca_ibeacon_btsnoop_hci.log'), disguised);
    const ng = join(dir, 'really-pcapng.cap');
    copyFileSync(join(CAPTURES, 'ble/ble_ll256_blakete_take3_all_adv_w_scan.pcapng'), ng);
    const a = JSON.parse(runCli(['decode', disguised, '--summary', '--json']).stdout);
    const b = JSON.parse(runCli(['decode', ng, '--summary', '--json']).stdout);
    expect([a.linktype, a.ble.advertisements]).toEqual([187, 412]);
    expect([b.linktype, b.frames]).toEqual([256, 3755]);
    writeFileSync(join(dir, 'x.log'), 'btsnoo');
    expect(runCli(['decode', join(dir, 'x.log')]).stderr).toMatch(/not a capture file/);
  });
});
