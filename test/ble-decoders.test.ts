/** BLE link layer (251, 256) and HCI (187, 201, 254) decoding: built frames and real captures. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../agents/capture/file-reader.js';
import { bleCrc } from '../agents/decode/ble-crc.js';
import { channelIndexFromRf } from '../agents/decode/ble-ll.js';
import { AddressClass, BlePdu, FrameStatus, Source } from '../agents/decode/observation.js';
import {
  PHDR_CRC_CHECKED,
  PHDR_CRC_VALID,
  PHDR_DEWHITENED,
  adEddystoneUid,
  adFlags,
  adIBeacon,
  adName,
  bleAdvPdu,
  bleExtAdvPdu,
  bleLlPacket,
  blePhdr,
  btMonitor,
  concat,
  h4,
  h4WithPhdr,
  hciLeAdvReportEvent,
  hciLeExtAdvReportEvent,
} from '../scripts/lib/frames.js';
import { CAPTURES } from './helpers/cli.js';
import { bytesAt, decodeCaptureFile, decodeOne } from './helpers/decode.js';

const PUBLIC = 0x001a11aabbcc;
const STATIC = 0xdaa119000001; // top bits 11
const RPA = 0x5a0000000001; // 01
const NRPA = 0x1a0000000001; // 00
const IBEACON = { uuid: 'f7826da64fa24e988024bc5b71e0893e', major: 100, minor: 7, power: -59 };

const ll = (pdu: Uint8Array, o: { badCrc?: boolean; aa?: number; rf?: number; signal?: number; flags?: number } = {}) =>
  concat(blePhdr({ rfChannel: o.rf ?? 12, signalDbm: o.signal ?? -64, ...(o.flags !== undefined ? { flags: o.flags } : {}) }), bleLlPacket(pdu, { badCrc: o.badCrc, accessAddress: o.aa }));

describe('link layer with pseudo-header (256)', () => {
  it.each([
    [BlePdu.AdvInd as number, 'ADV_IND'],
    [BlePdu.AdvNonconnInd as number, 'ADV_NONCONN_IND'],
    [BlePdu.ScanRsp as number, 'SCAN_RSP'],
    [BlePdu.AdvScanInd as number, 'ADV_SCAN_IND'],
  ])('reads %i (%s): address, class, signal, channel and data', (pduType: number, _name: string) => {
    const { status, obs } = decodeOne(256, ll(bleAdvPdu({ pduType, txAdd: 0, advA: PUBLIC, adData: concat(adFlags(), adName('Till 3')) })));
    expect(status).toBe(FrameStatus.Observed);
    const o = obs[0]!;
    expect([o.source, o.mac, o.addressClass, o.pdu, o.rssi, o.channel, o.freqMhz]).toEqual([Source.Ble, PUBLIC, AddressClass.BlePublic, pduType, -64, 38, 2426]);
    expect(o.adFlags).toBe(0x06);
    expect(Buffer.from(bytesAt(o, o.nameOff, o.nameLen), 'hex').toString()).toBe('Till 3');
  });

  it('classifies random addresses by their top bits', () => {
    const cls = (advA: number) => decodeOne(256, ll(bleAdvPdu({ pduType: 0, txAdd: 1, advA }))).obs[0]!.addressClass;
    expect([cls(STATIC), cls(RPA), cls(NRPA), cls(0x9a0000000001)]).toEqual([AddressClass.BleStatic, AddressClass.BleRpa, AddressClass.BleNrpa, AddressClass.BleNrpa]);
  });

  it('reads ADV_DIRECT_IND (no data) and extended advertising with AdvA', () => {
    const d = decodeOne(256, ll(bleAdvPdu({ pduType: 1, txAdd: 1, advA: STATIC, targetA: PUBLIC })));
    expect([d.status, d.obs[0]!.mac, d.obs[0]!.pdu]).toEqual([FrameStatus.Observed, STATIC, BlePdu.AdvDirectInd]);
    const e = decodeOne(256, ll(bleExtAdvPdu({ advA: PUBLIC, adi: 0x1234, txPower: -8, adData: adIBeacon(IBEACON) })));
    expect(e.status).toBe(FrameStatus.Observed);
    expect([e.obs[0]!.mac, e.obs[0]!.pdu, e.obs[0]!.txPower, e.obs[0]!.ibeaconMajor]).toEqual([PUBLIC, BlePdu.AdvExt, -8, 100]);
    // ADV_EXT_IND pointing to an AUX packet, without AdvA: nothing to count.
    expect(decodeOne(256, ll(bleExtAdvPdu({ adi: 0x1234 }))).status).toBe(FrameStatus.Ignored);
  });

  it('finds iBeacon and Eddystone-UID identities', () => {
    const ib = decodeOne(256, ll(bleAdvPdu({ pduType: 2, txAdd: 0, advA: PUBLIC, adData: concat(adFlags(4), adIBeacon(IBEACON)) }))).obs[0]!;
    expect(bytesAt(ib, ib.ibeaconUuidOff, 16)).toBe(IBEACON.uuid);
    expect([ib.ibeaconMajor, ib.ibeaconMinor, ib.ibeaconPower, ib.companyId]).toEqual([100, 7, -59, 0x004c]);
    const ed = decodeOne(256, ll(bleAdvPdu({ pduType: 2, txAdd: 1, advA: STATIC, adData: adEddystoneUid({ namespace: 'edd1ebeac04e5defa017', instance: '0badc0ffee01', txPower: -21 }) }))).obs[0]!;
    expect(bytesAt(ed, ed.eddystoneNsOff, 10)).toBe('edd1ebeac04e5defa017');
    expect(bytesAt(ed, ed.eddystoneNsOff + 10, 6)).toBe('0badc0ffee01');
    expect(ed.eddystonePower).toBe(-21);
    // Apple data that is not an iBeacon is just manufacturer data.
    const other = decodeOne(256, ll(bleAdvPdu({ pduType: 0, advA: PUBLIC, adData: new Uint8Array([4, 0xff, 0x4c, 0x00, 0x10]) }))).obs[0]!;
    expect([other.companyId, other.ibeaconUuidOff]).toEqual([0x004c, -1]);
  });

  it('ignores SCAN_REQ, CONNECT_IND, reserved PDU types and data-channel packets', () => {
    expect(decodeOne(256, ll(bleAdvPdu({ pduType: 3, advA: PUBLIC, adData: new Uint8Array(6) }))).status).toBe(FrameStatus.Ignored);
    expect(decodeOne(256, ll(bleAdvPdu({ pduType: 5, advA: PUBLIC, adData: new Uint8Array(28) }))).status).toBe(FrameStatus.Ignored);
    expect(decodeOne(256, ll(bleAdvPdu({ pduType: 9, advA: PUBLIC }))).status).toBe(FrameStatus.Ignored);
    expect(decodeOne(256, ll(bleAdvPdu({ pduType: 0, advA: PUBLIC }), { aa: 0x12345678 })).status).toBe(FrameStatus.Ignored);
  });

  it('checks the CRC itself unless the sniffer says it did', () => {
    const pdu = bleAdvPdu({ pduType: 0, advA: PUBLIC });
    expect(decodeOne(256, ll(pdu, { badCrc: true })).status).toBe(FrameStatus.Malformed);
    expect(decodeOne(256, ll(pdu, { badCrc: true, flags: PHDR_DEWHITENED | PHDR_CRC_CHECKED | PHDR_CRC_VALID })).status).toBe(FrameStatus.Observed);
    expect(decodeOne(256, ll(pdu, { flags: PHDR_DEWHITENED | PHDR_CRC_CHECKED })).status).toBe(FrameStatus.Malformed);
  });

  it.each([
    ['a frame shorter than the pseudo-header', new Uint8Array(9)],
    ['an RF channel above 39', (() => { const f = ll(bleAdvPdu({ pduType: 0, advA: PUBLIC })); f[0] = 40; return f; })()],
    ['a PDU length that disagrees with the frame', concat(ll(bleAdvPdu({ pduType: 0, advA: PUBLIC })), new Uint8Array(1))],
    ['a legacy payload shorter than AdvA', ll(new Uint8Array([0x00, 4, 1, 2, 3, 4]))],
    ['a legacy payload longer than 37 bytes', ll(bleAdvPdu({ pduType: 0, advA: PUBLIC, adData: new Uint8Array(32) }))],
    ['ADV_DIRECT_IND with data', ll(bleAdvPdu({ pduType: 1, advA: PUBLIC, targetA: STATIC, adData: new Uint8Array(1) }))],
    ['an AD structure running past the data', ll(bleAdvPdu({ pduType: 0, advA: PUBLIC, adData: new Uint8Array([9, 0x09, 0x41]) }))],
    ['an extended header longer than the payload', ll(new Uint8Array([0x07, 3, 10, 1, 0]))],
  ])('counts %s as malformed', (_what, frame) => {
    expect(decodeOne(256, frame).status).toBe(FrameStatus.Malformed);
  });

  it('maps RF channels to channel indices', () => {
    expect([0, 1, 11, 12, 13, 38, 39].map(channelIndexFromRf)).toEqual([37, 0, 10, 38, 11, 36, 39]);
  });

  it('reads the bare link layer (251) without radio information', () => {
    const o = decodeOne(251, bleLlPacket(bleAdvPdu({ pduType: 0, txAdd: 1, advA: RPA }))).obs[0]!;
    expect([o.mac, o.addressClass, Number.isNaN(o.rssi), o.channel]).toEqual([RPA, AddressClass.BleRpa, true, 0]);
  });
});

describe('HCI (187, 201, 254)', () => {
  const reports = [
    { eventType: 0, addrType: 0, addr: PUBLIC, data: concat(adFlags(), adIBeacon(IBEACON)), rssi: -70 },
    { eventType: 4, addrType: 1, addr: RPA, data: adName('x'), rssi: 127 },
    { eventType: 3, addrType: 3, addr: STATIC, rssi: -80 },
  ];

  it('emits every report of an LE Advertising Report event', () => {
    const { status, obs } = decodeOne(187, h4(0x04, hciLeAdvReportEvent(reports)));
    expect(status).toBe(FrameStatus.Observed);
    expect(obs.map((o) => [o.mac, o.addressClass, o.pdu, Number.isNaN(o.rssi) ? null : o.rssi])).toEqual([
      [PUBLIC, AddressClass.BlePublic, BlePdu.AdvInd, -70],
      [RPA, AddressClass.BleRpa, BlePdu.ScanRsp, null],
      [STATIC, AddressClass.BleStatic, BlePdu.AdvNonconnInd, -80],
    ]);
    expect(obs[0]!.ibeaconMinor).toBe(7);
  });

  it('reads the same through the direction pseudo-header and the Linux monitor header', () => {
    const a = decodeOne(201, h4WithPhdr(1, 0x04, hciLeAdvReportEvent(reports))).obs.map((o) => o.mac);
    const b = decodeOne(254, btMonitor(0, 3, hciLeAdvReportEvent(reports))).obs.map((o) => o.mac);
    expect(a).toEqual([PUBLIC, RPA, STATIC]);
    expect(b).toEqual(a);
    expect(decodeOne(254, btMonitor(0, 2, hciLeAdvReportEvent(reports))).status).toBe(FrameStatus.Ignored); // a command
  });

  it('reads LE Extended Advertising Reports, legacy and extended', () => {
    const { obs } = decodeOne(187, h4(0x04, hciLeExtAdvReportEvent([
      { eventType: 0x13, addrType: 0, addr: PUBLIC, rssi: -50, data: adFlags() },
      { eventType: 0x1b, addrType: 1, addr: STATIC, rssi: -55 },
      { eventType: 0x00, addrType: 1, addr: NRPA, rssi: -60, txPower: 4, data: adEddystoneUid({ namespace: 'edd1ebeac04e5defa017', instance: '0badc0ffee01' }) },
      { eventType: 0x00, addrType: 0xff, addr: 0, rssi: -60 },
    ])));
    expect(obs.map((o) => [o.mac, o.pdu, o.rssi])).toEqual([
      [PUBLIC, BlePdu.AdvInd, -50],
      [STATIC, BlePdu.ScanRsp, -55],
      [NRPA, BlePdu.AdvExt, -60],
    ]);
    expect([obs[2]!.txPower, obs[2]!.eddystoneNsOff > 0]).toEqual([4, true]);
  });

  it('emits nothing from an event whose reports overrun, and ignores other packets', () => {
    const ev = hciLeAdvReportEvent(reports);
    const overrun = ev.slice();
    overrun[2 + 2 + 9] = 200; // first report's data length
    expect(decodeOne(187, h4(0x04, overrun)).obs).toEqual([]);
    expect(decodeOne(187, h4(0x04, overrun)).status).toBe(FrameStatus.Malformed);
    const badAd = hciLeAdvReportEvent([reports[0]!, { ...reports[1]!, data: new Uint8Array([5, 9, 1]) }]);
    expect(decodeOne(187, h4(0x04, badAd))).toEqual({ status: FrameStatus.Malformed, obs: [] });
    expect(decodeOne(187, h4(0x04, ev.subarray(0, ev.length - 1))).status).toBe(FrameStatus.Malformed);
    expect(decodeOne(187, h4(0x02, new Uint8Array(8))).status).toBe(FrameStatus.Ignored); // ACL data
    expect(decodeOne(187, h4(0x04, new Uint8Array([0x0e, 4, 1, 3, 0x0c, 0]))).status).toBe(FrameStatus.Ignored); // Command Complete
  });
});

describe('real link-layer captures', () => {
  const expected = JSON.parse(readFileSync(join(CAPTURES, 'expected-by-tshark.json'), 'utf8'));

  function run(file: string) {
    const { s, obs } = decodeCaptureFile(join(CAPTURES, file), 50);
    const d = s.ble.devices;
    return { s, obs, distinct: d.public + d.static + d.rpa + d.nrpa };
  }


  /*
   * expected-by-tshark.json counts a frame as "CRC ok" when tshark did not flag its CRC as incorrect.
   * tshark never gets to the CRC of a frame whose AD structures throw a Malformed exception first, so
   * those bad-CRC frames land among its "CRC ok" ones (and bring bit-flipped, invented addresses).
   * We check every CRC; our figures equal tshark's for frames that are CRC-ok and not malformed:
   *   tshark -r F -Y 'btle.access_address==0x8e89bed6 && !btle.crc.incorrect && !_ws.malformed'
   *     -T fields -e btle.advertising_header.pdu_type -e btle.advertising_address
   * counting PDU types 0, 1, 2, 4, 6 (adv38_2: 5783 PDUs from 21 addresses; all_adv_w_scan: 2424 from 18).
   */
  it.each([
    ['ble/ble_ll256_blakete_take3_adv38_2.pcap', 5783, 21],
    ['ble/ble_ll256_blakete_take3_all_adv_w_scan.pcapng', 2424, 18],
  ])('%s: advertisements and addresses of the CRC-ok, well-formed frames', (file, advs, addrs) => {
    const { s, distinct } = run(file);
    expect(s.frames).toBe(expected[file].frames);
    expect(s.ble.advertisements).toBe(advs);
    expect(distinct).toBe(addrs);
    expect(s.ble.advertisements).toBeLessThanOrEqual(expected[file].adv_pdus_crc_ok);
    expect(s.malformed + s.ignored + s.ble.advertisements).toBe(s.frames);
  });

  it('finds the iBeacon in the pypacker capture', () => {
    const file = 'ble/ble_ll256_pypacker_btle_ibeacon.pcap';
    const { s, obs, distinct } = run(file);
    expect(s.ble.advertisements).toBe(expected[file].adv_pdus);
    expect(distinct).toBe(expected[file].distinct_addresses);
    expect(s.ble.ibeacons).toBe(1);
    const ib = obs.find((o) => o.ibeaconUuidOff >= 0)!;
    // tshark -V, Apple manufacturer data: 0215 2f234454cf6d4a0fadf2f4911ba9ffa6 0001 0001 be
    expect(bytesAt(ib, ib.ibeaconUuidOff, 16)).toBe('2f234454cf6d4a0fadf2f4911ba9ffa6');
    expect([ib.ibeaconMajor, ib.ibeaconMinor, ib.ibeaconPower]).toEqual([1, 1, -66]);
  });

  it('computes the CRC the capture carries', () => {
    let checked = 0;
    readCaptureFile(join(CAPTURES, 'ble/ble_ll256_pypacker_btle_ibeacon.pcap'), (_lt, buf, off) => {
      const p = off + 10;
      if ((buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)) >>> 0 !== 0x8e89bed6) return;
      const plen = buf[p + 5]!;
      expect(bleCrc(buf, p + 4, 2 + plen)).toBe(buf[p + 6 + plen]! | (buf[p + 7 + plen]! << 8) | (buf[p + 8 + plen]! << 16));
      checked++;
    });
    expect(checked).toBeGreaterThanOrEqual(5);
  });
});
