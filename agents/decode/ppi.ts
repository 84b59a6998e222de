/**
 * PPI (Per-Packet Information, CACE Technologies) header: a fixed 8-byte header naming the inner link
 * type, then typed fields. Only the 802.11-Common field (type 2) carries what we use.
 */

export interface PpiInfo {
  length: number;
  dlt: number;
  freqMhz: number;
  signalDbm: number;
  fcsPresent: boolean;
  fcsInvalid: boolean;
}

export const PPI_DLT_IEEE80211 = 105;
const FIELD_80211_COMMON = 2;
const COMMON_LEN = 20;
const COMMON_FLAG_FCS = 0x0001;
const COMMON_FLAG_FCS_INVALID = 0x0004;
const PPI_FLAG_ALIGNED = 0x01;

export function newPpiInfo(): PpiInfo {
  return { length: 0, dlt: 0, freqMhz: 0, signalDbm: NaN, fcsPresent: false, fcsInvalid: false };
}

/** Parses the PPI header at buf[off, off+len); false when it is malformed. */
export function parsePpi(buf: Uint8Array, off: number, len: number, out: PpiInfo): boolean {
  out.freqMhz = 0;
  out.signalDbm = NaN;
  out.fcsPresent = false;
  out.fcsInvalid = false;
  if (len < 8 || buf[off] !== 0) return false;
  const aligned = (buf[off + 1]! & PPI_FLAG_ALIGNED) !== 0;
  const hdrLen = buf[off + 2]! | (buf[off + 3]! << 8);
  if (hdrLen < 8 || hdrLen > len) return false;
  out.length = hdrLen;
  out.dlt = (buf[off + 4]! | (buf[off + 5]! << 8) | (buf[off + 6]! << 16) | (buf[off + 7]! << 24)) >>> 0;
  let p = 8;
  while (p + 4 <= hdrLen) {
    const type = buf[off + p]! | (buf[off + p + 1]! << 8);
    const flen = buf[off + p + 2]! | (buf[off + p + 3]! << 8);
    const data = off + p + 4;
    if (p + 4 + flen > hdrLen) return false;
    if (type === FIELD_80211_COMMON) {
      if (flen < COMMON_LEN) return false;
      // tsft(8) flags(2) rate(2) freq(2) channel flags(2) fhss hopset(1) pattern(1) signal(1) noise(1)
      const flags = buf[data + 8]! | (buf[data + 9]! << 8);
      out.fcsPresent = (flags & COMMON_FLAG_FCS) !== 0;
      out.fcsInvalid = (flags & COMMON_FLAG_FCS_INVALID) !== 0;
      out.freqMhz = buf[data + 12]! | (buf[data + 13]! << 8);
      const sig = (buf[data + 18]! << 24) >> 24;
      // The spec leaves unknown values at 0; a real received signal is never 0 dBm or more.
      out.signalDbm = sig < 0 ? sig : NaN;
    }
    p += 4 + flen;
    if (aligned) p = (p + 3) & ~3;
  }
  return p === hdrLen || aligned;
}
