/**
 * IEEE 802.11 frames: only probe requests matter (a phone looking for networks announces its address).
 * Everything else is recognized from the first byte and skipped as Ignored without further reads.
 */
import {
  AddressClass,
  FrameStatus,
  Source,
  macFromBytes,
  resetObservation,
  type Observation,
  type ObservationSink,
} from './observation.js';
import { fcsMatches } from './crc32.js';
import { wifiChannelFromFreq } from './wifi-channel.js';

const FC0_PROBE_REQUEST = 0x40; // version 0, type 0 (management), subtype 4
const FC1_ORDER = 0x80; // +HTC: a 4-byte HT Control field follows the sequence control
const MGMT_HEADER = 24;
const IE_SSID = 0;
const IE_DS_PARAMS = 3;
const MAX_SSID = 32;

/** Whether the frame ends in its 4-byte FCS. */
export const Fcs = {
  Absent: 0,
  Present: 1,
  /** The radio header does not say (Prism, AVS, plain 802.11): checked when the elements do not fit. */
  Unknown: 2,
} as const;
export type Fcs = (typeof Fcs)[keyof typeof Fcs];

/**
 * Decodes an 802.11 frame at buf[off, off+len). `fcs` says whether the last 4 bytes are the FCS;
 * `rssi`/`freqMhz` come from the radio header (NaN / 0 when unknown). `truncated` = the capture cut the
 * frame (snap length), so an element list that runs off the end is the capture's doing, not the sender's.
 */
export function decodeDot11(
  buf: Uint8Array,
  off: number,
  len: number,
  truncated: boolean,
  fcs: Fcs,
  rssi: number,
  freqMhz: number,
  tsMs: number,
  o: Observation,
  sink: ObservationSink,
): FrameStatus {
  if (len < 1) return FrameStatus.Malformed;
  if (buf[off] !== FC0_PROBE_REQUEST) return FrameStatus.Ignored;
  if (fcs === Fcs.Present && !truncated) len -= 4;
  if (len < MGMT_HEADER) return FrameStatus.Malformed;
  const hdr = buf[off + 1]! & FC1_ORDER ? MGMT_HEADER + 4 : MGMT_HEADER;
  if (len < hdr) return FrameStatus.Malformed;
  // A transmitter address should never have the group bit, but real sniffers record such frames
  // (bit errors without an FCS to catch them) and tshark counts them: so do we.
  const sa0 = buf[off + 10]!;

  resetObservation(o, buf);
  o.source = Source.Wifi;
  o.tsMs = tsMs;
  o.mac = macFromBytes(buf, off + 10);
  o.addressClass = sa0 & 0x02 ? AddressClass.WifiRandomized : AddressClass.WifiGlobal;
  o.rssi = rssi;
  o.freqMhz = freqMhz;
  o.channel = freqMhz ? wifiChannelFromFreq(freqMhz) : 0;
  o.seq = (buf[off + 22]! | (buf[off + 23]! << 8)) >>> 4;
  const ieStart = off + hdr;
  let end = off + len;
  // Unknown FCS: elements that do not fit, but do once the last 4 bytes are read as a matching FCS.
  if (fcs === Fcs.Unknown && !truncated && len >= hdr + 4 && !elementsFit(buf, ieStart, end) && fcsMatches(buf, off, len - 4)) end -= 4;
  o.ieOff = ieStart;
  o.ieLen = end - ieStart;

  // Walk the information elements: an element running past the frame is a broken frame, unless the
  // capture itself cut the frame short.
  let p = ieStart;
  while (p + 2 <= end) {
    const id = buf[p]!;
    const elen = buf[p + 1]!;
    if (p + 2 + elen > end) {
      if (truncated) break;
      return FrameStatus.Malformed;
    }
    if (id === IE_SSID && o.ssidOff < 0) {
      if (elen > MAX_SSID) return FrameStatus.Malformed;
      o.ssidOff = p + 2;
      o.ssidLen = elen;
    } else if (id === IE_DS_PARAMS && elen === 1 && o.channel === 0) {
      o.channel = buf[p + 2]!; // no radio header channel: the channel the phone says it is probing on
    }
    p += 2 + elen;
  }
  if (p !== end && !truncated) return FrameStatus.Malformed; // a single stray byte after the last element
  sink(o);
  return FrameStatus.Observed;
}

function elementsFit(buf: Uint8Array, p: number, end: number): boolean {
  while (p + 2 <= end) p += 2 + buf[p + 1]!;
  return p === end;
}
