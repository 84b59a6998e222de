/**
 * BLE link-layer packets as sniffers capture them (LINKTYPE_BLUETOOTH_LE_LL 251, and 256 with the
 * LE pseudo-header): access address, PDU header, payload, CRC-24. Only advertising-channel packets
 * (access address 0x8E89BED6) are read; a packet whose CRC fails is malformed, since a flipped bit in
 * the address would otherwise invent a device.
 */
import { parseAdStructures } from './ad-structures.js';
import { classifyTxAdd } from './ble-address.js';
import { bleCrcOk } from './ble-crc.js';
import { BlePdu, FrameStatus, Source, macFromBytesReversed, resetObservation, type FrameDecoder, type Observation, type ObservationSink } from './observation.js';

const ADV_ACCESS_ADDRESS = 0x8e89bed6;
const PHDR_LEN = 10;
const PHDR_SIGNAL_VALID = 0x0002;
const PHDR_CRC_CHECKED = 0x0400;
const PHDR_CRC_VALID = 0x0800;

/** No channel known (linktype 251). */
export const NO_CHANNEL = -1;

/** What the capture says about the CRC: unknown (we check it), or checked by the sniffer. */
export const CRC_UNKNOWN = 0;
export const CRC_VALID = 1;
export const CRC_INVALID = 2;

/** Legacy advertising payload: AdvA(6) + up to 31 bytes of data. */
const LEGACY_MIN = 6;
const LEGACY_MAX = 37;

/** LINKTYPE_BLUETOOTH_LE_LL (251): no radio information. */
export const decodeBleLl: FrameDecoder = (buf, off, len, _origLen, tsMs, o, sink) =>
  decodeLlPacket(buf, off, len, CRC_UNKNOWN, NaN, NO_CHANNEL, tsMs, o, sink);


/** LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR (256): RF channel, signal, and whether the sniffer checked the CRC. */
export const decodeBleLlPhdr: FrameDecoder = (buf, off, len, _origLen, tsMs, o, sink) => {
  if (len < PHDR_LEN) return FrameStatus.Malformed;
  const rf = buf[off]!;
  if (rf > 39) return FrameStatus.Malformed;
  const flags = buf[off + 8]! | (buf[off + 9]! << 8);
  const rssi = flags & PHDR_SIGNAL_VALID ? (buf[off + 1]! << 24) >> 24 : NaN;
  const crc = flags & PHDR_CRC_CHECKED ? (flags & PHDR_CRC_VALID ? CRC_VALID : CRC_INVALID) : CRC_UNKNOWN;
  return decodeLlPacket(buf, off + PHDR_LEN, len - PHDR_LEN, crc, rssi, channelIndexFromRf(rf), tsMs, o, sink);
};

/** RF channel (0..39, by frequency) to the link layer's channel index (advertising: 37, 38, 39). */
export function channelIndexFromRf(rf: number): number {
  if (rf === 0) return 37;
  if (rf === 12) return 38;
  if (rf === 39) return 39;
  return rf < 12 ? rf - 1 : rf - 2;
}

/** The centre frequency of a link-layer channel index (37, 38, 39 sit at the band's two ends and middle). */
export function freqFromChannelIndex(ch: number): number {
  if (ch === 37) return 2402;
  if (ch === 38) return 2426;
  if (ch === 39) return 2480;
  return ch <= 10 ? 2404 + 2 * ch : 2428 + 2 * (ch - 11);
}

/**
 * A link-layer packet (access address, PDU, CRC) at buf[p, p+n), as every BLE sniffer format carries
 * it; `channel` is the channel index (0..39) or NO_CHANNEL.
 */
export function decodeLlPacket(buf: Uint8Array, p: number, n: number, crc: number, rssi: number, channel: number, tsMs: number, o: Observation, sink: ObservationSink): FrameStatus {
  if (n < 4 + 2 + 3) return FrameStatus.Malformed;
  const aa = (buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)) >>> 0;
  if (aa !== ADV_ACCESS_ADDRESS) return FrameStatus.Ignored; // data-channel traffic
  const hdr = buf[p + 4]!;
  const plen = buf[p + 5]!;
  if (4 + 2 + plen + 3 !== n) return FrameStatus.Malformed;
  if (crc === CRC_INVALID) return FrameStatus.Malformed;
  if (crc === CRC_UNKNOWN && !bleCrcOk(buf, p + 4, 2 + plen, p + 6 + plen)) return FrameStatus.Malformed;

  const type = hdr & 0x0f;
  const txAdd = (hdr >> 6) & 1;
  const q = p + 6; // payload
  let adOff = 0;
  let adLen = 0;
  let advA = q;
  resetObservation(o, buf);
  switch (type) {
    case BlePdu.AdvInd:
    case BlePdu.AdvNonconnInd:
    case BlePdu.ScanRsp:
    case BlePdu.AdvScanInd:
      if (plen < LEGACY_MIN || plen > LEGACY_MAX) return FrameStatus.Malformed;
      adOff = q + 6;
      adLen = plen - 6;
      break;
    case BlePdu.AdvDirectInd:
      if (plen !== 12) return FrameStatus.Malformed; // AdvA + TargetA, no data
      break;
    case BlePdu.AdvExt: {
      // Common Extended Advertising Payload: extended header length + AdvMode, flags, then the fields
      // the flags announce, in this order: AdvA, TargetA, CTEInfo, ADI, AuxPtr, SyncInfo, TxPower, ACAD.
      if (plen < 1) return FrameStatus.Malformed;
      const ehl = buf[q]! & 0x3f;
      if (1 + ehl > plen) return FrameStatus.Malformed;
      if (ehl === 0) return FrameStatus.Ignored;
      const flags = buf[q + 1]!;
      const ehEnd = q + 1 + ehl;
      let f = q + 2;
      advA = flags & 0x01 ? f : -1;
      if (flags & 0x01) f += 6;
      if (flags & 0x02) f += 6;
      if (flags & 0x04) f += 1;
      if (flags & 0x08) f += 2;
      if (flags & 0x10) f += 3;
      if (flags & 0x20) f += 18;
      const txPowerAt = flags & 0x40 ? f : -1;
      if (flags & 0x40) f += 1;
      if (f > ehEnd) return FrameStatus.Malformed;
      if (advA < 0) return FrameStatus.Ignored; // the address comes in the AUX packet
      adOff = ehEnd;
      adLen = q + plen - ehEnd;
      if (txPowerAt >= 0) o.txPower = (buf[txPowerAt]! << 24) >> 24;
      break;
    }
    default:
      return FrameStatus.Ignored; // SCAN_REQ, CONNECT_IND, reserved types: no advertiser presence
  }
  o.source = Source.Ble;
  o.tsMs = tsMs;
  o.mac = macFromBytesReversed(buf, advA);
  o.addressClass = classifyTxAdd(txAdd, o.mac);
  o.rssi = rssi;
  o.pdu = type;
  if (channel !== NO_CHANNEL) {
    o.channel = channel;
    o.freqMhz = freqFromChannelIndex(channel);
  }
  if (adLen > 0 && !parseAdStructures(buf, adOff, adLen, o)) return FrameStatus.Malformed;
  sink(o);
  return FrameStatus.Observed;
}
