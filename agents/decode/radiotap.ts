/**
 * Radiotap header parser (https://www.radiotap.org): walks the whole chain of present bitmaps, honours
 * field alignment (relative to the header start), skips vendor namespaces by their skip length and stops
 * at the first field it cannot size — the header length still tells where the 802.11 frame starts.
 * Pure and allocation-free: results go into a reusable RadiotapInfo.
 */

export interface RadiotapInfo {
  /** Header length: the 802.11 frame starts here. */
  length: number;
  /** The Flags field (0 when absent). */
  flags: number;
  /** Channel (or XChannel) frequency in MHz, 0 when absent. */
  freqMhz: number;
  /** First dBm antenna signal (the combined one), NaN when absent. */
  signalDbm: number;
}

export const RT_FLAG_FCS_AT_END = 0x10;
export const RT_FLAG_BAD_FCS = 0x40;

export function newRadiotapInfo(): RadiotapInfo {
  return { length: 0, flags: 0, freqMhz: 0, signalDbm: NaN };
}

// [alignment, size] of the fields of the default namespace, by present bit (0..28); 0 size = unknown.
const ALIGN = new Uint8Array([8, 1, 1, 2, 2, 1, 1, 2, 2, 2, 1, 1, 1, 1, 2, 2, 1, 1, 4, 1, 4, 2, 8, 2, 2, 2, 1, 2, 4]);
const SIZE = new Uint8Array([8, 1, 1, 4, 2, 1, 1, 2, 2, 2, 1, 1, 1, 1, 2, 2, 1, 1, 8, 3, 8, 12, 12, 12, 12, 6, 1, 4, 0]);

const BIT_FLAGS = 1;
const BIT_CHANNEL = 3;
const BIT_DBM_SIGNAL = 5;
const BIT_XCHANNEL = 18;
const BIT_TLV = 28;
const BIT_RT_NS = 29;
const BIT_VENDOR_NS = 30;
const BIT_EXT = 31;

const MAX_PRESENT_WORDS = 64; // a real header has a handful; more means garbage

/**
 * Parses the radiotap header at buf[off, off+len). Returns false when the header is malformed (wrong
 * version, length past the frame, a field or bitmap chain running past the header).
 */
export function parseRadiotap(buf: Uint8Array, off: number, len: number, out: RadiotapInfo): boolean {
  out.flags = 0;
  out.freqMhz = 0;
  out.signalDbm = NaN;
  if (len < 8 || buf[off] !== 0) return false;
  const hdrLen = buf[off + 2]! | (buf[off + 3]! << 8);
  if (hdrLen < 8 || hdrLen > len) return false;
  out.length = hdrLen;
  if (hdrLen === seen.hdrLen && sameWords(buf, off)) return applyLayout(buf, off, out);
  seen.hdrLen = -1; // another layout: forgotten until this one is walked

  // The present words run until one without the EXT bit; the fields start right after the last one.
  let words = 1;
  while (readU32(buf, off + 4 * words) & 0x80000000) {
    words++;
    if (4 + 4 * words > hdrLen || words > MAX_PRESENT_WORDS) return false;
  }
  // Field positions depend on the header length and the present words alone (in one namespace):
  // remember them for the next frame of the same layout, as most captures repeat one layout.
  const ok = walkFields(buf, off, hdrLen, words, out);
  if (words <= LAYOUT_WORDS && seen.nsSwitch === 0) {
    seen.hdrLen = hdrLen;
    seen.words = words;
    for (let w = 0; w < words; w++) seen.present[w] = readU32(buf, off + 4 + 4 * w) | 0;
    seen.ok = ok;
  }
  return ok;
}

/** The last header layout walked: its present words, where its fields are, and the verdict. */
const LAYOUT_WORDS = 8;
const seen = {
  hdrLen: -1,
  words: 0,
  present: new Int32Array(LAYOUT_WORDS),
  ok: false,
  /**
   * Set while walking when the header switches namespace: a vendor namespace's skip length is data, and
   * a second default namespace may repeat a field. Such layouts are walked every time.
   */
  nsSwitch: 0,
  /** Positions (relative to the header) of Flags, Channel, the first dBm signal and XChannel; -1: absent. */
  flagsPos: -1,
  chanPos: -1,
  signalPos: -1,
  xchanPos: -1,
};

function sameWords(buf: Uint8Array, off: number): boolean {
  const n = seen.words;
  for (let w = 0; w < n; w++) if ((readU32(buf, off + 4 + 4 * w) | 0) !== seen.present[w]) return false;
  return true;
}

function applyLayout(buf: Uint8Array, off: number, out: RadiotapInfo): boolean {
  if (seen.flagsPos >= 0) out.flags = buf[off + seen.flagsPos]!;
  if (seen.chanPos >= 0) out.freqMhz = buf[off + seen.chanPos]! | (buf[off + seen.chanPos + 1]! << 8);
  if (seen.signalPos >= 0) out.signalDbm = (buf[off + seen.signalPos]! << 24) >> 24;
  if (out.freqMhz === 0 && seen.xchanPos >= 0) out.freqMhz = buf[off + seen.xchanPos + 4]! | (buf[off + seen.xchanPos + 5]! << 8);
  return seen.ok;
}

/** Walks the fields after `words` present words, filling out and the positions in `seen`. */
function walkFields(buf: Uint8Array, off: number, hdrLen: number, words: number, out: RadiotapInfo): boolean {
  seen.nsSwitch = 0;
  seen.flagsPos = seen.chanPos = seen.signalPos = seen.xchanPos = -1;
  let pos = 4 + 4 * words; // relative to the header start, which alignment is measured from
  let inDefaultNs = true;
  let bitBase = 0;
  for (let w = 0; w < words; w++) {
    const word = readU32(buf, off + 4 + 4 * w);
    if (inDefaultNs) {
      const fields = word & 0x1fffffff;
      if (fields !== 0) {
        if (bitBase !== 0) return true; // bits past 31 of the default namespace are not defined: nothing more to find
        for (let bit = 0; bit <= BIT_TLV; bit++) {
          if ((fields & (1 << bit)) === 0) continue;
          const size = SIZE[bit]!;
          if (size === 0) return true; // TLV list: everything we use comes before it
          const align = ALIGN[bit]!;
          pos = (pos + align - 1) & ~(align - 1);
          if (pos + size > hdrLen) return false;
          const p = off + pos;
          if (bit === BIT_FLAGS) {
            seen.flagsPos = pos;
            out.flags = buf[p]!;
          } else if (bit === BIT_CHANNEL) {
            seen.chanPos = pos;
            out.freqMhz = buf[p]! | (buf[p + 1]! << 8);
          } else if (bit === BIT_DBM_SIGNAL) {
            if (Number.isNaN(out.signalDbm)) {
              seen.signalPos = pos;
              out.signalDbm = (buf[p]! << 24) >> 24;
            }
          } else if (bit === BIT_XCHANNEL) {
            seen.xchanPos = pos;
            if (out.freqMhz === 0) out.freqMhz = buf[p + 4]! | (buf[p + 5]! << 8);
          }
          pos += size;
        }
      }
    }
    // What the next word means: back to the default namespace, into a vendor one, or more of the same.
    if (word & (1 << BIT_RT_NS)) {
      seen.nsSwitch = 1;
      inDefaultNs = true;
      bitBase = 0;
    } else if (word & (1 << BIT_VENDOR_NS)) {
      seen.nsSwitch = 1;
      pos = (pos + 1) & ~1;
      if (pos + 6 > hdrLen) return false;
      const skip = buf[off + pos + 4]! | (buf[off + pos + 5]! << 8);
      pos += 6 + skip; // the vendor's fields, whatever they are, are skipped as one block
      if (pos > hdrLen) return false;
      inDefaultNs = false;
      bitBase = 0;
    } else if (word & (1 << BIT_EXT)) {
      bitBase += 32;
    }
  }
  return true;
}

function readU32(buf: Uint8Array, p: number): number {
  return (buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)) >>> 0;
}
