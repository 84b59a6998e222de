/**
 * IEEE 802.11 frames: only probe requests matter (a phone looking for networks announces its address).
 * Everything else is recognized from the first byte and skipped as Ignored without further reads.
 */
import {
  AddressClass,
  FrameStatus,
  Source,
  WifiFrame,
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
  connections = false,
): FrameStatus {
  if (len < 1) return FrameStatus.Malformed;
  if (buf[off] !== FC0_PROBE_REQUEST) return connections ? decodeConnection(buf, off, len, truncated, fcs, rssi, freqMhz, tsMs, o, sink) : FrameStatus.Ignored;
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
  // A probe request addressed to one access point (not broadcast): the network watcher may want it.
  if (connections && (buf[off + 4]! & 0x01) === 0) o.bssid = macFromBytes(buf, off + 4);
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

// Frame control byte 0: version (2 bits), type (2), subtype (4).
const TYPE_MGMT = 0;
const TYPE_DATA = 2;
const SUB_ASSOC_REQ = 0;
const SUB_REASSOC_REQ = 2;
const SUB_PROBE_RESP = 5;
const SUB_BEACON = 8;
const SUB_AUTH = 11;
const FC1_TO_DS = 0x01;
const FC1_FROM_DS = 0x02;
/** Fixed fields before the elements: beacon and probe response (timestamp, interval, capabilities). */
const ANNOUNCE_FIXED = 12;

/**
 * The frames the network watcher reads besides probe requests (connections on): a station's frames to an
 * access point — association and reassociation requests, authentication, data, null and QoS null with
 * To DS set — as WifiFrame.ToAp (mac: the station, bssid: the AP), and beacons and probe responses as
 * WifiFrame.ApAnnounce (mac: the BSSID, with the SSID). Everything else stays Ignored. Addresses are
 * checked for the group bit: a multicast transmitter is no station.
 */
function decodeConnection(buf: Uint8Array, off: number, len: number, truncated: boolean, fcs: Fcs, rssi: number, freqMhz: number, tsMs: number, o: Observation, sink: ObservationSink): FrameStatus {
  const fc0 = buf[off]!;
  if ((fc0 & 0x03) !== 0) return FrameStatus.Ignored; // another protocol version
  const type = (fc0 >> 2) & 0x03;
  const sub = fc0 >> 4;
  if (fcs === Fcs.Present && !truncated) len -= 4;
  if (len < MGMT_HEADER) return len < 2 ? FrameStatus.Malformed : FrameStatus.Ignored;
  const fc1 = buf[off + 1]!;
  let frame: WifiFrame;
  let sta = -1;
  let ap = -1;
  if (type === TYPE_MGMT) {
    if (sub === SUB_ASSOC_REQ || sub === SUB_REASSOC_REQ || sub === SUB_AUTH) {
      frame = WifiFrame.ToAp;
      sta = off + 10;
      ap = off + 4;
    } else if (sub === SUB_BEACON || sub === SUB_PROBE_RESP) {
      frame = WifiFrame.ApAnnounce;
      sta = off + 16; // BSSID (address 3)
    } else return FrameStatus.Ignored;
  } else if (type === TYPE_DATA) {
    // To DS only: station to its AP (address 1 = BSSID, address 2 = the station).
    if ((fc1 & (FC1_TO_DS | FC1_FROM_DS)) !== FC1_TO_DS) return FrameStatus.Ignored;
    frame = WifiFrame.ToAp;
    sta = off + 10;
    ap = off + 4;
  } else return FrameStatus.Ignored;
  if (buf[sta]! & 0x01 || (ap >= 0 && buf[ap]! & 0x01)) return FrameStatus.Ignored;
  resetObservation(o, buf);
  o.source = Source.Wifi;
  o.frame = frame;
  o.tsMs = tsMs;
  o.mac = macFromBytes(buf, sta);
  o.addressClass = buf[sta]! & 0x02 ? AddressClass.WifiRandomized : AddressClass.WifiGlobal;
  o.rssi = rssi;
  o.freqMhz = freqMhz;
  o.channel = freqMhz ? wifiChannelFromFreq(freqMhz) : 0;
  o.seq = (buf[off + 22]! | (buf[off + 23]! << 8)) >>> 4;
  if (ap >= 0) o.bssid = macFromBytes(buf, ap);
  if (frame === WifiFrame.ApAnnounce) {
    // The SSID element, the first after the fixed fields (a hidden network's may be empty or zeros).
    const hdr = fc1 & FC1_ORDER ? MGMT_HEADER + 4 : MGMT_HEADER;
    const p = off + hdr + ANNOUNCE_FIXED;
    const end = off + len;
    if (p + 2 > end) return FrameStatus.Malformed;
    const elen = buf[p + 1]!;
    if (buf[p] !== IE_SSID || elen > MAX_SSID || p + 2 + elen > end) return FrameStatus.Malformed;
    o.ssidOff = p + 2;
    o.ssidLen = elen;
  }
  sink(o);
  return FrameStatus.Observed;
}
