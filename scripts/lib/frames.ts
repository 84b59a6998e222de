/**
 * Frame builders for tests, the benchmark and the demo's traffic generator: byte-exact radiotap,
 * 802.11, PPI, BLE link-layer and HCI frames as the specifications lay them out (checked against tshark
 * in test/frame-builders.test.ts). Addresses are 48-bit integers in written order, as in Observation.
 */
import { bleCrc } from '../../agents/decode/ble-crc.js';

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function macBytes(mac: number, reversed = false): number[] {
  const b: number[] = [];
  for (let i = 5; i >= 0; i--) b.push(Math.floor(mac / 2 ** (8 * i)) & 0xff);
  return reversed ? b.reverse() : b;
}

const le16 = (v: number) => [v & 0xff, (v >> 8) & 0xff];
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const s8 = (v: number) => v & 0xff;
const text = (s: string | Uint8Array) => (typeof s === 'string' ? [...new TextEncoder().encode(s)] : [...s]);

// ---------------------------------------------------------------- radiotap

export interface RadiotapOptions {
  tsft?: bigint;
  flags?: number;
  rate500kbps?: number;
  freqMhz?: number;
  channelFlags?: number;
  signalDbm?: number;
  noiseDbm?: number;
  antenna?: number;
  /** Adds an extended present word (bit 31) for a second namespace with a per-antenna signal. */
  perAntennaSignal?: { antenna: number; signalDbm: number };
  /** A vendor namespace block (bit 30) skipped by its skip length. */
  vendor?: { oui: number; subns: number; data: Uint8Array };
}

/** A radiotap header with fields aligned as radiotap.org requires (offsets from the header start). */
export function radiotapHeader(o: RadiotapOptions): Uint8Array {
  const present: number[] = [0];
  const fields: [number, number, number[]][] = []; // [bit-word index, alignment, bytes]
  const add = (word: number, bit: number, align: number, bytes: number[]) => {
    present[word]! |= 1 << bit;
    fields.push([word, align, bytes]);
  };
  if (o.tsft !== undefined) add(0, 0, 8, [...new Uint8Array(new BigUint64Array([o.tsft]).buffer)]);
  if (o.flags !== undefined) add(0, 1, 1, [o.flags]);
  if (o.rate500kbps !== undefined) add(0, 2, 1, [o.rate500kbps]);
  if (o.freqMhz !== undefined) add(0, 3, 2, [...le16(o.freqMhz), ...le16(o.channelFlags ?? (o.freqMhz < 3000 ? 0x00a0 : 0x0140))]);
  if (o.signalDbm !== undefined) add(0, 5, 1, [s8(o.signalDbm)]);
  if (o.noiseDbm !== undefined) add(0, 6, 1, [s8(o.noiseDbm)]);
  if (o.antenna !== undefined) add(0, 11, 1, [o.antenna]);
  if (o.vendor || o.perAntennaSignal) present[0]! |= 0x80000000;
  if (o.vendor) {
    present[0]! |= 1 << 30;
    const v = o.vendor;
    fields.push([0, 2, [(v.oui >> 16) & 0xff, (v.oui >> 8) & 0xff, v.oui & 0xff, v.subns, ...le16(v.data.length), ...v.data]]);
    present.push(o.perAntennaSignal ? 0x80000000 | (1 << 29) | 0x1 : 0x1); // vendor word; then back to radiotap
  }
  if (o.perAntennaSignal) {
    if (!o.vendor) present[0]! |= 1 << 29;
    present.push(0);
    const w = present.length - 1;
    add(w, 5, 1, [s8(o.perAntennaSignal.signalDbm)]);
    add(w, 11, 1, [o.perAntennaSignal.antenna]);
  }
  const out: number[] = [0, 0, 0, 0];
  for (const p of present) out.push(...le32(p >>> 0));
  for (const [, align, bytes] of fields) {
    while (out.length % align) out.push(0);
    out.push(...bytes);
  }
  out[2] = out.length & 0xff;
  out[3] = out.length >> 8;
  return new Uint8Array(out);
}

// ---------------------------------------------------------------- 802.11

export interface ProbeRequestOptions {
  sa: number;
  /** Address 1 and 3: one access point's (a probe for a network the phone knows); broadcast by default. */
  da?: number;
  seq?: number;
  /** '' = wildcard SSID. */
  ssid?: string | Uint8Array;
  rates?: number[];
  dsChannel?: number;
  extraIes?: Uint8Array[];
  /**
   * The whole element list after the SSID, in the order a phone sends it (its rates and DS Parameter
   * Set included): replaces `rates`, `dsChannel` and `extraIes`.
   */
  elements?: Uint8Array[];
  /** Sets the +HTC/Order bit and adds the 4-byte HT Control field. */
  htc?: boolean;
}

export function ie(id: number, data: number[] | Uint8Array): Uint8Array {
  return new Uint8Array([id, data.length, ...data]);
}

export function probeRequest(o: ProbeRequestOptions): Uint8Array {
  const seq = o.seq ?? 0;
  const da = o.da ?? 0xffffffffffff;
  const hdr = [0x40, o.htc ? 0x80 : 0x00, 0, 0, ...macBytes(da), ...macBytes(o.sa), ...macBytes(da), ...le16((seq & 0xfff) << 4)];
  if (o.htc) hdr.push(0, 0, 0, 0);
  if (o.elements) return concat(new Uint8Array(hdr), ie(0, text(o.ssid ?? '')), ...o.elements);
  const ies = [ie(0, text(o.ssid ?? '')), ie(1, o.rates ?? [0x02, 0x04, 0x0b, 0x16, 0x0c, 0x12, 0x18, 0x24])];
  if (o.dsChannel !== undefined) ies.push(ie(3, [o.dsChannel]));
  return concat(new Uint8Array(hdr), ...ies, ...(o.extraIes ?? []));
}

/** DS Parameter Set (element 3): the channel the frame was sent on. */
export const dsParams = (channel: number) => ie(3, [channel]);

/** A vendor-specific element (221): OUI (24 bits), vendor type, then the vendor's data. */
export function vendorIe(oui: number, type: number, data: number[] = []): Uint8Array {
  return ie(221, [(oui >> 16) & 0xff, (oui >> 8) & 0xff, oui & 0xff, type, ...data]);
}

/** An element of the Element ID Extension kind (255): extension id, then its data. */
export function extIe(extId: number, data: number[]): Uint8Array {
  return ie(255, [extId, ...data]);
}

/** A beacon from an access point: well-formed, ignored by the decoders. */
export function beaconFrame(bssid: number, ssid: string, seq = 0): Uint8Array {
  const hdr = [0x80, 0, 0, 0, ...macBytes(0xffffffffffff), ...macBytes(bssid), ...macBytes(bssid), ...le16((seq & 0xfff) << 4)];
  const fixed = [0, 0, 0, 0, 0, 0, 0, 0, 0x64, 0, 0x11, 0x04];
  return concat(new Uint8Array([...hdr, ...fixed]), ie(0, text(ssid)), ie(1, [0x82, 0x84, 0x8b, 0x96]));
}

/** An association request from a station to an access point (management subtype 0). */
export function assocRequest(sa: number, bssid: number, ssid: string, seq = 0): Uint8Array {
  const hdr = [0x00, 0, 0, 0, ...macBytes(bssid), ...macBytes(sa), ...macBytes(bssid), ...le16((seq & 0xfff) << 4)];
  return concat(new Uint8Array([...hdr, 0x11, 0x04, 0x0a, 0x00]), ie(0, text(ssid)), ie(1, [0x82, 0x84, 0x8b, 0x96]));
}

/** A QoS null frame (data subtype 12, To DS) from a station to its access point: power-save signalling. */
export function qosNullFrame(sa: number, bssid: number, seq = 0): Uint8Array {
  return new Uint8Array([0xc8, 0x01, 0, 0, ...macBytes(bssid), ...macBytes(sa), ...macBytes(bssid), ...le16((seq & 0xfff) << 4), 0, 0]);
}

/** A probe response from an access point to one station. */
export function probeResponse(bssid: number, to: number, ssid: string, seq = 0): Uint8Array {
  const hdr = [0x50, 0, 0, 0, ...macBytes(to), ...macBytes(bssid), ...macBytes(bssid), ...le16((seq & 0xfff) << 4)];
  const fixed = [0, 0, 0, 0, 0, 0, 0, 0, 0x64, 0, 0x11, 0x04];
  return concat(new Uint8Array([...hdr, ...fixed]), ie(0, text(ssid)), ie(1, [0x82, 0x84, 0x8b, 0x96]));
}

/** A QoS-less data frame to the AP (To DS). */
export function dataFrame(sa: number, bssid: number, payload = 32, seq = 0): Uint8Array {
  const hdr = [0x08, 0x01, 0, 0, ...macBytes(bssid), ...macBytes(sa), ...macBytes(bssid), ...le16((seq & 0xfff) << 4)];
  return concat(new Uint8Array(hdr), new Uint8Array(payload));
}

const CRC32 = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** Appends the 802.11 FCS (CRC-32, little-endian). */
export function withFcs(frame: Uint8Array): Uint8Array {
  let c = 0xffffffff;
  for (const b of frame) c = CRC32[(c ^ b) & 0xff]! ^ (c >>> 8);
  c = (c ^ 0xffffffff) >>> 0;
  return concat(frame, new Uint8Array(le32(c)));
}

/** PPI header (version 0, unaligned) with one 802.11-Common field. */
export function ppiHeader(o: { freqMhz?: number; signalDbm?: number; fcs?: boolean; fcsInvalid?: boolean; dlt?: number }): Uint8Array {
  const flags = (o.fcs ? 1 : 0) | (o.fcsInvalid ? 4 : 0);
  const common = [0, 0, 0, 0, 0, 0, 0, 0, ...le16(flags), ...le16(2), ...le16(o.freqMhz ?? 0), ...le16(0x00a0), 0, 0, s8(o.signalDbm ?? 0), 0];
  const field = [...le16(2), ...le16(common.length), ...common];
  const len = 8 + field.length;
  return new Uint8Array([0, 0, ...le16(len), ...le32(o.dlt ?? 105), ...field]);
}

// ---------------------------------------------------------------- BLE link layer

export const ADV_AA = 0x8e89bed6;

export interface AdvPduOptions {
  pduType: number;
  txAdd?: 0 | 1;
  rxAdd?: 0 | 1;
  advA: number;
  targetA?: number;
  adData?: Uint8Array;
}

/** A legacy advertising-channel PDU: header(2) + AdvA (LSB first) + TargetA or data. */
export function bleAdvPdu(o: AdvPduOptions): Uint8Array {
  const payload = [...macBytes(o.advA, true)];
  if (o.targetA !== undefined) payload.push(...macBytes(o.targetA, true));
  if (o.adData) payload.push(...o.adData);
  return new Uint8Array([(o.pduType & 0x0f) | ((o.txAdd ?? 0) << 6) | ((o.rxAdd ?? 0) << 7), payload.length, ...payload]);
}

/** ADV_EXT_IND / AUX_ADV_IND with an extended header carrying AdvA (and optionally ADI and TxPower). */
export function bleExtAdvPdu(o: { advA?: number; txAdd?: 0 | 1; txPower?: number; adi?: number; adData?: Uint8Array }): Uint8Array {
  const ext: number[] = [];
  let flags = 0;
  if (o.advA !== undefined) {
    flags |= 0x01;
    ext.push(...macBytes(o.advA, true));
  }
  if (o.adi !== undefined) {
    flags |= 0x08;
    ext.push(...le16(o.adi));
  }
  if (o.txPower !== undefined) {
    flags |= 0x40;
    ext.push(s8(o.txPower));
  }
  const eh = [flags, ...ext];
  const payload = [eh.length & 0x3f, ...eh, ...(o.adData ?? [])];
  return new Uint8Array([0x07 | ((o.txAdd ?? 0) << 6), payload.length, ...payload]);
}

/** Access address (LE) + PDU + CRC-24 (corrupted on request). */
export function bleLlPacket(pdu: Uint8Array, o: { accessAddress?: number; badCrc?: boolean } = {}): Uint8Array {
  const aa = o.accessAddress ?? ADV_AA;
  let crc = bleCrc(pdu, 0, pdu.length);
  if (o.badCrc) crc ^= 0x000100;
  return new Uint8Array([...le32(aa), ...pdu, crc & 0xff, (crc >> 8) & 0xff, (crc >> 16) & 0xff]);
}

export const PHDR_DEWHITENED = 0x0001;
export const PHDR_SIGNAL_VALID = 0x0002;
export const PHDR_CRC_CHECKED = 0x0400;
export const PHDR_CRC_VALID = 0x0800;

/** LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR's 10-byte pseudo-header. */
export function blePhdr(o: { rfChannel: number; signalDbm?: number; noiseDbm?: number; flags?: number }): Uint8Array {
  const flags = o.flags ?? PHDR_DEWHITENED | (o.signalDbm !== undefined ? PHDR_SIGNAL_VALID : 0);
  return new Uint8Array([o.rfChannel, s8(o.signalDbm ?? 0), s8(o.noiseDbm ?? -128), 0, 0, 0, 0, 0, ...le16(flags)]);
}

// ---------------------------------------------------------------- AD structures

export function adStructure(type: number, data: number[] | Uint8Array): Uint8Array {
  return new Uint8Array([data.length + 1, type, ...data]);
}

export const adFlags = (flags = 0x06) => adStructure(0x01, [flags]);
export const adName = (name: string, complete = true) => adStructure(complete ? 0x09 : 0x08, text(name));

export function adIBeacon(o: { uuid: string; major: number; minor: number; power?: number }): Uint8Array {
  const uuid = [...Buffer.from(o.uuid.replace(/-/g, ''), 'hex')];
  return adStructure(0xff, [0x4c, 0x00, 0x02, 0x15, ...uuid, o.major >> 8, o.major & 0xff, o.minor >> 8, o.minor & 0xff, s8(o.power ?? -59)]);
}

export function adEddystoneUid(o: { namespace: string; instance: string; txPower?: number }): Uint8Array {
  return concat(
    adStructure(0x03, [0xaa, 0xfe]),
    adStructure(0x16, [0xaa, 0xfe, 0x00, s8(o.txPower ?? -20), ...Buffer.from(o.namespace, 'hex'), ...Buffer.from(o.instance, 'hex'), 0, 0]),
  );
}

// ---------------------------------------------------------------- HCI

export interface HciReport {
  eventType: number;
  addrType: number;
  addr: number;
  data?: Uint8Array;
  rssi?: number;
}

/** HCI event packet (no H4 byte): LE Meta / LE Advertising Report with reports one after another. */
export function hciLeAdvReportEvent(reports: HciReport[]): Uint8Array {
  const params = [0x02, reports.length];
  for (const r of reports) params.push(r.eventType, r.addrType, ...macBytes(r.addr, true), r.data?.length ?? 0, ...(r.data ?? []), s8(r.rssi ?? 127));
  return new Uint8Array([0x3e, params.length, ...params]);
}

export interface HciExtReport {
  eventType: number;
  addrType: number;
  addr: number;
  txPower?: number;
  rssi?: number;
  data?: Uint8Array;
}

/** HCI event packet: LE Meta / LE Extended Advertising Report. */
export function hciLeExtAdvReportEvent(reports: HciExtReport[]): Uint8Array {
  const params = [0x0d, reports.length];
  for (const r of reports) {
    params.push(...le16(r.eventType), r.addrType, ...macBytes(r.addr, true), 1, 0, 0xff, s8(r.txPower ?? 127), s8(r.rssi ?? 127), 0, 0, 0, 0, 0, 0, 0, 0, 0);
    params.push(r.data?.length ?? 0, ...(r.data ?? []));
  }
  return new Uint8Array([0x3e, params.length, ...params]);
}

export const h4 = (type: number, pkt: Uint8Array) => concat(new Uint8Array([type]), pkt);
/** LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR: direction (0 sent, 1 received), big-endian. */
export const h4WithPhdr = (direction: number, type: number, pkt: Uint8Array) => concat(new Uint8Array([0, 0, 0, direction]), h4(type, pkt));
/** LINKTYPE_BLUETOOTH_LINUX_MONITOR: adapter index and opcode, big-endian (3 = event). */
export const btMonitor = (index: number, opcode: number, pkt: Uint8Array) => concat(new Uint8Array([index >> 8, index & 0xff, opcode >> 8, opcode & 0xff]), pkt);

// ---------------------------------------------------------------- other capture headers

/** LINKTYPE_NORDIC_BLE (272): board id, UART header (protocol version 1, 2 or 3), event header, LL packet. */
export function nordicBle(o: { ll: Uint8Array; version?: 1 | 2 | 3; boardId?: number; channel?: number; rssi?: number; crcOk?: boolean; packetId?: number; counter?: number }): Uint8Array {
  const version = o.version ?? 3;
  const event = [10, o.crcOk === false ? 0 : 1, o.channel ?? 37, -(o.rssi ?? -60) & 0xff, 0, 0, 0x10, 0x27, 0, 0];
  const payloadLen = event.length + o.ll.length;
  const counter = le16(o.counter ?? 1);
  const packetId = o.packetId ?? (version === 3 ? 0x02 : 0x06);
  const uart = version === 1 ? [6, payloadLen, 1, ...counter, packetId] : [...le16(payloadLen), version, ...counter, packetId];
  return concat(new Uint8Array([o.boardId ?? 0, ...uart, ...event]), o.ll);
}

/** A wlan-ng Prism header (little-endian, DIDs of the (index << 12) | 0x41 kind) with channel and RSSI. */
export function prismHeader(o: { channel?: number; rssiDbm?: number; frameLen: number }): Uint8Array {
  const items: number[] = [];
  const item = (index: number, value: number | undefined) => items.push(...le32((index << 12) | 0x41), ...le16(value === undefined ? 1 : 0), ...le16(4), ...le32((value ?? 0) >>> 0));
  item(1, 1000);
  item(2, 2000);
  item(3, o.channel);
  item(4, o.rssiDbm);
  item(5, 0);
  item(6, 1);
  item(7, 0);
  item(8, 2);
  item(9, 0);
  item(10, o.frameLen);
  const dev = [...new TextEncoder().encode('wlan0'), ...new Array(11).fill(0)];
  return new Uint8Array([...le32(0x41), ...le32(24 + items.length), ...dev, ...items]);
}

/** An AVS (version 1) header: 64 bytes, big-endian, signal in dBm. */
export function avsHeader(o: { channel?: number; signalDbm?: number }): Uint8Array {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(0x80211001, 0);
  b.writeUInt32BE(64, 4);
  b.writeUInt32BE(4, 24); // phytype: DSSS/OFDM 2.4 GHz
  b.writeUInt32BE(o.channel ?? 0, 28);
  b.writeUInt32BE(10, 32); // data rate in 100 kb/s
  b.writeUInt32BE(o.signalDbm === undefined ? 0 : 2, 44); // ssi_type: 2 = dBm
  b.writeInt32BE(o.signalDbm ?? 0, 48);
  b.writeInt32BE(-95, 52);
  return new Uint8Array(b);
}

/** A whole btsnoop file (datalink 1001 H1, 1002 H4 or 2001 Linux monitor). */
export function btsnoopFile(datalink: number, records: { tsMs: number; flags: number; data: Uint8Array }[]): Uint8Array {
  const parts: Buffer[] = [Buffer.from('btsnoop\0', 'latin1'), Buffer.from([0, 0, 0, 1]), Buffer.alloc(4)];
  parts[2]!.writeUInt32BE(datalink);
  for (const r of records) {
    const h = Buffer.alloc(24);
    h.writeUInt32BE(r.data.length, 0);
    h.writeUInt32BE(r.data.length, 4);
    h.writeUInt32BE(r.flags >>> 0, 8);
    h.writeBigUInt64BE(BigInt(Math.round(r.tsMs * 1000)) + 0x00dcddb30f2f8000n, 16);
    parts.push(h, Buffer.from(r.data));
  }
  return new Uint8Array(Buffer.concat(parts));
}
