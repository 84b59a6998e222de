/**
 * Older WiFi capture headers in front of 802.11: Prism (LINKTYPE_IEEE802_11_PRISM 119, from the
 * wlan-ng drivers: a message of DID items in host byte order) and AVS (LINKTYPE_IEEE802_11_AVS 163, a
 * fixed big-endian header). Both may appear under 119, told apart by AVS's version magic.
 */
import type { RadiotapInfo } from './radiotap.js';
import { wifiFreqFromChannel } from './wifi-channel.js';

/** The same few facts the radiotap parser gives: header length, frequency, signal; flags unused. */
export type RadioHeaderInfo = RadiotapInfo;

const PRISM_MIN = 24; // msgcode, msglen, devname[16]
const ITEM = 12; // did(4) status(2) len(2) data(4)
const DID_CHANNEL = 3;
const DID_RSSI = 4;
const DID_SIGNAL = 6;

const AVS_MAGIC_MASK = 0xfffffff0;
const AVS_MAGIC = 0x80211000;
const AVS_V1_LEN = 64;
const AVS_SSI_DBM = 2;

export function isAvs(buf: Uint8Array, off: number, len: number): boolean {
  return len >= 4 && (readU32BE(buf, off) & AVS_MAGIC_MASK) >>> 0 === AVS_MAGIC;
}

/** Parses a Prism header; false when malformed. */
export function parsePrism(buf: Uint8Array, off: number, len: number, out: RadioHeaderInfo): boolean {
  out.flags = 0;
  out.freqMhz = 0;
  out.signalDbm = NaN;
  if (len < PRISM_MIN) return false;
  // Host byte order: whichever reading of the message length is plausible.
  let le = true;
  let msglen = readU32LE(buf, off + 4);
  if (msglen < PRISM_MIN || msglen > len) {
    le = false;
    msglen = readU32BE(buf, off + 4);
    if (msglen < PRISM_MIN || msglen > len) return false;
  }
  out.length = msglen;
  let rssi = NaN;
  let signal = NaN;
  for (let p = off + PRISM_MIN; p + ITEM <= off + msglen; p += ITEM) {
    const did = le ? readU32LE(buf, p) : readU32BE(buf, p);
    const status = le ? buf[p + 4]! | (buf[p + 5]! << 8) : (buf[p + 4]! << 8) | buf[p + 5]!;
    if (status !== 0) continue; // "not supplied"
    // Two DID numbering schemes exist: (index << 16) | 0x44 and (index << 12) | 0x41.
    const index = (did & 0xffff) === 0x0044 ? did >>> 16 : (did & 0x0fff) === 0x041 ? (did >>> 12) & 0xf : -1;
    const value = le ? readU32LE(buf, p + 8) | 0 : readU32BE(buf, p + 8) | 0;
    if (index === DID_CHANNEL) out.freqMhz = wifiFreqFromChannel(value);
    else if (index === DID_RSSI) rssi = value;
    else if (index === DID_SIGNAL) signal = value;
  }
  // Drivers fill these in different units; only a value that reads as dBm is used as dBm.
  out.signalDbm = isDbm(rssi) ? rssi : isDbm(signal) ? signal : NaN;
  return true;
}

/** Parses an AVS header (version 1 or 2, big-endian); false when malformed. */
export function parseAvs(buf: Uint8Array, off: number, len: number, out: RadioHeaderInfo): boolean {
  out.flags = 0;
  out.freqMhz = 0;
  out.signalDbm = NaN;
  if (len < AVS_V1_LEN || !isAvs(buf, off, len)) return false;
  const hdrLen = readU32BE(buf, off + 4);
  if (hdrLen < AVS_V1_LEN || hdrLen > len) return false;
  out.length = hdrLen;
  // version(4) length(4) mactime(8) hosttime(8) phytype(4) channel(4) datarate(4) antenna(4)
  // priority(4) ssi_type(4) ssi_signal(4) ssi_noise(4) preamble(4) encoding(4)
  out.freqMhz = wifiFreqFromChannel(readU32BE(buf, off + 28));
  if (readU32BE(buf, off + 44) === AVS_SSI_DBM) {
    const s = readU32BE(buf, off + 48) | 0;
    if (isDbm(s)) out.signalDbm = s;
  }
  return true;
}

function isDbm(v: number): boolean {
  return v < 0 && v >= -130;
}

function readU32LE(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

function readU32BE(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}
