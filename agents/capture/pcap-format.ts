/**
 * Classic pcap (https://www.tcpdump.org/manpages/pcap-savefile.5.html): a 24-byte file header, then
 * records of a 16-byte header and the packet bytes. Four magics: micro- or nanosecond timestamps, in
 * either byte order, decided once per file.
 */
import type { CaptureParser } from './capture-format.js';
import type { RecordSink } from './record.js';

const FILE_HEADER = 24;
const RECORD_HEADER = 16;
/** No link layer we read has frames near this; a larger length means the file is not what it says. */
export const MAX_RECORD = 16 * 1024 * 1024;

export function isPcapMagic(b: Uint8Array): boolean {
  const le = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  const be = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  return le === 0xa1b2c3d4 || le === 0xa1b23c4d || be === 0xa1b2c3d4 || be === 0xa1b23c4d;
}

export class PcapParser implements CaptureParser {
  readonly format = 'pcap' as const;
  linktypes: number[] = [];
  needBytes = 0;
  corrupt: string | null = null;
  records = 0;
  private headerDone = false;
  private littleEndian = true;
  /** Milliseconds per unit of the timestamp's fractional field. */
  private fracToMs = 1e-3;
  private linktype = 0;

  parse(buf: Uint8Array, start: number, end: number, sink: RecordSink): number {
    let p = start;
    if (!this.headerDone) {
      if (end - p < FILE_HEADER) {
        this.needBytes = FILE_HEADER;
        return p;
      }
      const le = (buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)) >>> 0;
      this.littleEndian = le === 0xa1b2c3d4 || le === 0xa1b23c4d;
      const magic = this.littleEndian ? le : this.u32(buf, p);
      this.fracToMs = magic === 0xa1b23c4d ? 1e-6 : 1e-3;
      const major = this.u16(buf, p + 4);
      if (major !== 2) {
        this.corrupt = `unsupported pcap version ${major}.${this.u16(buf, p + 6)}`;
        return p;
      }
      // The upper 16 bits may carry the FCS length of some link types; the link type is the low 16.
      this.linktype = this.u32(buf, p + 20) & 0xffff;
      this.linktypes = [this.linktype];
      this.headerDone = true;
      p += FILE_HEADER;
    }
    const linktype = this.linktype;
    const fracToMs = this.fracToMs;
    const le = this.littleEndian;
    while (true) {
      if (end - p < RECORD_HEADER) {
        this.needBytes = RECORD_HEADER;
        return p;
      }
      let sec: number, frac: number, incl: number, orig: number;
      if (le) {
        sec = (buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)) >>> 0;
        frac = (buf[p + 4]! | (buf[p + 5]! << 8) | (buf[p + 6]! << 16) | (buf[p + 7]! << 24)) >>> 0;
        incl = (buf[p + 8]! | (buf[p + 9]! << 8) | (buf[p + 10]! << 16) | (buf[p + 11]! << 24)) >>> 0;
        orig = (buf[p + 12]! | (buf[p + 13]! << 8) | (buf[p + 14]! << 16) | (buf[p + 15]! << 24)) >>> 0;
      } else {
        sec = this.u32(buf, p);
        frac = this.u32(buf, p + 4);
        incl = this.u32(buf, p + 8);
        orig = this.u32(buf, p + 12);
      }
      if (incl > MAX_RECORD) {
        this.corrupt = `record ${this.records + 1} claims ${incl} bytes`;
        return p;
      }
      if (end - p < RECORD_HEADER + incl) {
        this.needBytes = RECORD_HEADER + incl;
        return p;
      }
      this.records++;
      sink(linktype, buf, p + RECORD_HEADER, incl, orig < incl ? incl : orig, sec * 1000 + frac * fracToMs);
      p += RECORD_HEADER + incl;
    }
  }

  private u16(b: Uint8Array, p: number): number {
    return this.littleEndian ? b[p]! | (b[p + 1]! << 8) : (b[p]! << 8) | b[p + 1]!;
  }

  private u32(b: Uint8Array, p: number): number {
    return this.littleEndian
      ? (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0
      : ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }
}
