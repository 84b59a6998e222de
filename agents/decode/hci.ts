/**
 * BLE as the host sees it: HCI events from the controller (LINKTYPE_BLUETOOTH_HCI_H4 187, H4 with a
 * direction pseudo-header 201, and the Linux Bluetooth monitor 254). Advertisements arrive as LE Meta
 * events with one or more reports each; the controller has already checked the CRC.
 */
import { adStructuresValid, parseAdStructures } from './ad-structures.js';
import { classifyHciAddressType } from './ble-address.js';
import { BlePdu, FrameStatus, Source, macFromBytesReversed, resetObservation, type FrameDecoder, type Observation, type ObservationSink } from './observation.js';

const H4_EVENT = 0x04;
const MONITOR_EVENT_PKT = 3;
const EVT_LE_META = 0x3e;
const LE_ADV_REPORT = 0x02;
const LE_DIRECTED_ADV_REPORT = 0x0b;
const LE_EXT_ADV_REPORT = 0x0d;
const RSSI_UNAVAILABLE = 127;

/** Legacy report event types 0..4 in the order the Core spec numbers them. */
const LEGACY_EVENT_PDU = [BlePdu.AdvInd, BlePdu.AdvDirectInd, BlePdu.AdvScanInd, BlePdu.AdvNonconnInd, BlePdu.ScanRsp];

/** LINKTYPE_BLUETOOTH_HCI_H4 (187): an H4 packet-type byte, then the packet. */
export const decodeHciH4: FrameDecoder = (buf, off, len, _orig, tsMs, o, sink) => {
  if (len < 1) return FrameStatus.Malformed;
  if (buf[off] !== H4_EVENT) return FrameStatus.Ignored;
  return decodeHciEvent(buf, off + 1, len - 1, tsMs, o, sink);
};

/** LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR (201): a 4-byte direction, then H4. */
export const decodeHciH4Phdr: FrameDecoder = (buf, off, len, orig, tsMs, o, sink) => {
  if (len < 4) return FrameStatus.Malformed;
  return decodeHciH4(buf, off + 4, len - 4, orig - 4, tsMs, o, sink);
};

/** LINKTYPE_BLUETOOTH_LINUX_MONITOR (254): adapter index and opcode (big-endian), then the packet. */
export const decodeBtMonitor: FrameDecoder = (buf, off, len, _orig, tsMs, o, sink) => {
  if (len < 4) return FrameStatus.Malformed;
  const opcode = (buf[off + 2]! << 8) | buf[off + 3]!;
  if (opcode !== MONITOR_EVENT_PKT) return FrameStatus.Ignored;
  return decodeHciEvent(buf, off + 4, len - 4, tsMs, o, sink);
};

/** An HCI event packet (event code, parameter length, parameters) at buf[p, p+n). */
export function decodeHciEvent(buf: Uint8Array, p: number, n: number, tsMs: number, o: Observation, sink: ObservationSink): FrameStatus {
  if (n < 2) return FrameStatus.Malformed;
  const code = buf[p]!;
  const plen = buf[p + 1]!;
  if (2 + plen !== n) return FrameStatus.Malformed;
  if (code !== EVT_LE_META) return FrameStatus.Ignored;
  if (plen < 1) return FrameStatus.Malformed;
  const end = p + n;
  switch (buf[p + 2]) {
    case LE_ADV_REPORT:
      return advReports(buf, p + 3, end, tsMs, o, sink);
    case LE_EXT_ADV_REPORT:
      return extAdvReports(buf, p + 3, end, tsMs, o, sink);
    case LE_DIRECTED_ADV_REPORT:
      return directedAdvReports(buf, p + 3, end, tsMs, o, sink);
    default:
      return FrameStatus.Ignored;
  }
}

/*
 * The Core spec draws the report list of these events as parallel arrays (all event types, then all
 * address types, ...). Controllers, BlueZ and Wireshark all treat it as one report after another,
 * which is the same thing for the usual single report; we follow them. Every event is checked whole
 * before any report is emitted: a list that overruns emits nothing, since its later lengths are noise.
 */

/** LE Advertising Report: type(1) addrType(1) addr(6) dataLen(1) data rssi(1), per report. */
function advReports(buf: Uint8Array, p: number, end: number, tsMs: number, o: Observation, sink: ObservationSink): FrameStatus {
  if (p >= end) return FrameStatus.Malformed;
  const num = buf[p]!;
  let q = p + 1;
  for (let i = 0; i < num; i++) {
    if (q + 9 > end) return FrameStatus.Malformed;
    const dlen = buf[q + 8]!;
    if (q + 9 + dlen + 1 > end || !adStructuresValid(buf, q + 9, dlen)) return FrameStatus.Malformed;
    q += 9 + dlen + 1;
  }
  if (q !== end) return FrameStatus.Malformed;
  let emitted = 0;
  q = p + 1;
  for (let i = 0; i < num; i++) {
    const dlen = buf[q + 8]!;
    const evt = buf[q]!;
    if (evt < LEGACY_EVENT_PDU.length) {
      const rssi = (buf[q + 9 + dlen]! << 24) >> 24;
      if (report(buf, LEGACY_EVENT_PDU[evt]!, buf[q + 1]!, q + 2, q + 9, dlen, rssi, tsMs, o, sink)) emitted++;
    }
    q += 9 + dlen + 1;
  }
  return emitted ? FrameStatus.Observed : FrameStatus.Ignored;
}

/**
 * LE Extended Advertising Report: eventType(2) addrType(1) addr(6) primaryPhy secondaryPhy sid txPower
 * rssi(1 each) periodicInterval(2) directAddrType(1) directAddr(6) dataLen(1) data, per report.
 */
function extAdvReports(buf: Uint8Array, p: number, end: number, tsMs: number, o: Observation, sink: ObservationSink): FrameStatus {
  if (p >= end) return FrameStatus.Malformed;
  const num = buf[p]!;
  let q = p + 1;
  for (let i = 0; i < num; i++) {
    if (q + 24 > end) return FrameStatus.Malformed;
    const dlen = buf[q + 23]!;
    if (q + 24 + dlen > end || !adStructuresValid(buf, q + 24, dlen)) return FrameStatus.Malformed;
    q += 24 + dlen;
  }
  if (q !== end) return FrameStatus.Malformed;
  let emitted = 0;
  q = p + 1;
  for (let i = 0; i < num; i++) {
    const evt = buf[q]! | (buf[q + 1]! << 8);
    const dlen = buf[q + 23]!;
    const rssi = (buf[q + 13]! << 24) >> 24;
    const tx = (buf[q + 12]! << 24) >> 24;
    if (report(buf, extEventPdu(evt), buf[q + 2]!, q + 3, q + 24, dlen, rssi, tsMs, o, sink, tx === RSSI_UNAVAILABLE ? NaN : tx)) emitted++;
    q += 24 + dlen;
  }
  return emitted ? FrameStatus.Observed : FrameStatus.Ignored;
}

/** LE Directed Advertising Report: type addrType addr(6) directAddrType directAddr(6) rssi, per report. */
function directedAdvReports(buf: Uint8Array, p: number, end: number, tsMs: number, o: Observation, sink: ObservationSink): FrameStatus {
  if (p >= end) return FrameStatus.Malformed;
  const num = buf[p]!;
  if (p + 1 + 16 * num !== end) return FrameStatus.Malformed;
  let emitted = 0;
  for (let i = 0, q = p + 1; i < num; i++, q += 16) {
    const rssi = (buf[q + 15]! << 24) >> 24;
    if (report(buf, BlePdu.AdvDirectInd, buf[q + 1]!, q + 2, 0, 0, rssi, tsMs, o, sink)) emitted++;
  }
  return emitted ? FrameStatus.Observed : FrameStatus.Ignored;
}

/** Extended event type bits: 0 connectable, 1 scannable, 2 directed, 3 scan response, 4 legacy. */
function extEventPdu(evt: number): number {
  if ((evt & 0x10) === 0) return BlePdu.AdvExt;
  if (evt & 0x08) return BlePdu.ScanRsp;
  if (evt & 0x04) return BlePdu.AdvDirectInd;
  if (evt & 0x01) return BlePdu.AdvInd;
  if (evt & 0x02) return BlePdu.AdvScanInd;
  return BlePdu.AdvNonconnInd;
}

/** Emits one report (its data already validated); false when it has no address to count. */
function report(buf: Uint8Array, pdu: number, addrType: number, addrOff: number, adOff: number, adLen: number, rssi: number, tsMs: number, o: Observation, sink: ObservationSink, txPower = NaN): boolean {
  const mac = macFromBytesReversed(buf, addrOff);
  const cls = classifyHciAddressType(addrType, mac);
  if (cls === 0) return false; // anonymous advertising: nobody to count
  resetObservation(o, buf);
  o.source = Source.Ble;
  o.tsMs = tsMs;
  o.mac = mac;
  o.addressClass = cls;
  o.rssi = rssi === RSSI_UNAVAILABLE ? NaN : rssi;
  o.pdu = pdu;
  o.txPower = txPower;
  if (adLen > 0) parseAdStructures(buf, adOff, adLen, o);
  sink(o);
  return true;
}
