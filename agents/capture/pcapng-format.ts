/**
 * pcapng (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html): a sequence of blocks.
 * Each section starts with a Section Header Block fixing its byte order; Interface Description Blocks
 * give each interface its link type and timestamp resolution; packets come in Enhanced, Simple or
 * (obsolete) Packet Blocks. Everything else is skipped by its length.
 */
import type { CaptureParser } from './capture-format.js';
import { MAX_RECORD } from './pcap-format.js';
import type { RecordSink } from './record.js';

const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const PB = 0x00000002;
const SPB = 0x00000003;
const EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_END = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;
const TWO_32 = 4294967296;

export function isPcapngMagic(b: Uint8Array): boolean {
  return b[0] === 0x0a && b[1] === 0x0d && b[2] === 0x0d && b[3] === 0x0a;
}

interface Iface {
  linktype: number;
  snaplen: number;
  /** Milliseconds per timestamp unit (default resolution: microseconds). */
  msPerUnit: number;
  offsetMs: number;
}

export class PcapngParser implements CaptureParser {
  readonly format = 'pcapng' as const;
  linktypes: number[] = [];
  needBytes = 0;
  corrupt: string | null = null;
  records = 0;
  private le = true;
  private inSection = false;
  private ifaces: Iface[] = [];
  /** Simple Packet Blocks carry no timestamp: they get the last one seen, the best estimate there is. */
  private lastTsMs = 0;

  parse(buf: Uint8Array, start: number, end: number, sink: RecordSink): number {
    let p = start;
    while (true) {
      if (end - p < 12) {
        this.needBytes = 12;
        return p;
      }
      // The SHB type reads the same in both byte orders, so it can be recognized before the order is known.
      if (((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0 === SHB) {
        // A new section: its byte-order magic decides how everything up to the next one is read.
        const bomLe = (buf[p + 8]! | (buf[p + 9]! << 8) | (buf[p + 10]! << 16) | (buf[p + 11]! << 24)) >>> 0;
        if (bomLe === BYTE_ORDER_MAGIC) this.le = true;
        else if (bomLe === 0x4d3c2b1a) this.le = false;
        else return this.fail(p, 'section header with a bad byte-order magic');
        this.inSection = true;
        this.ifaces = [];
      } else if (!this.inSection) {
        return this.fail(p, 'no section header block at the start');
      }
      const type = this.u32(buf, p);
      const total = this.u32(buf, p + 4);
      if (total < 12 || total % 4 !== 0 || total > MAX_RECORD + 64) return this.fail(p, `block of type 0x${type.toString(16)} has length ${total}`);
      if (end - p < total) {
        this.needBytes = total;
        return p;
      }
      if (this.u32(buf, p + total - 4) !== total) return this.fail(p, 'block length and trailing length differ');
      const body = p + 8;
      const bodyEnd = p + total - 4;
      switch (type) {
        case EPB:
        case PB: {
          // Same layout after the interface id: 4 bytes in an EPB, 2 (plus 2 of drop count) in the old PB.
          if (bodyEnd - body < 20) return this.fail(p, 'packet block too short');
          const iface = this.ifaces[type === EPB ? this.u32(buf, body) : this.u16(buf, body)];
          if (!iface) return this.fail(p, 'packet of an undeclared interface');
          const caplen = this.u32(buf, body + 12);
          if (body + 20 + caplen > bodyEnd) return this.fail(p, 'packet longer than its block');
          const ts = this.timestamp(iface, this.u32(buf, body + 4), this.u32(buf, body + 8));
          this.records++;
          sink(iface.linktype, buf, body + 20, caplen, Math.max(caplen, this.u32(buf, body + 16)), ts);
          break;
        }
        case SPB: {
          const iface = this.ifaces[0];
          if (!iface) return this.fail(p, 'packet of an undeclared interface');
          if (bodyEnd - body < 4) return this.fail(p, 'simple packet block too short');
          const orig = this.u32(buf, body);
          let caplen = Math.min(orig, bodyEnd - body - 4);
          if (iface.snaplen > 0) caplen = Math.min(caplen, iface.snaplen);
          this.records++;
          sink(iface.linktype, buf, body + 4, caplen, Math.max(caplen, orig), this.lastTsMs);
          break;
        }
        case IDB: {
          if (bodyEnd - body < 8) return this.fail(p, 'interface description block too short');
          const iface: Iface = { linktype: this.u16(buf, body), snaplen: this.u32(buf, body + 4), msPerUnit: 1e-3, offsetMs: 0 };
          if (!this.readIfaceOptions(buf, body + 8, bodyEnd, iface)) return this.fail(p, 'interface options run past their block');
          this.ifaces.push(iface);
          if (!this.linktypes.includes(iface.linktype)) this.linktypes.push(iface.linktype);
          break;
        }
        default:
          break; // SHB body, statistics, name resolution, custom blocks: nothing we need
      }
      p += total;
    }
  }

  private readIfaceOptions(buf: Uint8Array, p: number, end: number, iface: Iface): boolean {
    while (p + 4 <= end) {
      const code = this.u16(buf, p);
      const len = this.u16(buf, p + 2);
      if (code === OPT_END) return true;
      if (p + 4 + len > end) return false;
      const v = p + 4;
      if (code === OPT_IF_TSRESOL && len >= 1) {
        const r = buf[v]!;
        const unitsPerSec = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
        iface.msPerUnit = 1000 / unitsPerSec;
      } else if (code === OPT_IF_TSOFFSET && len >= 8) {
        const lo = this.u32(buf, this.le ? v : v + 4);
        const hi = this.u32(buf, this.le ? v + 4 : v) | 0; // signed seconds
        iface.offsetMs = (hi * TWO_32 + lo) * 1000;
      }
      p = v + ((len + 3) & ~3);
    }
    return true;
  }

  private timestamp(iface: Iface, high: number, low: number): number {
    const ts = high * (TWO_32 * iface.msPerUnit) + low * iface.msPerUnit + iface.offsetMs;
    this.lastTsMs = ts;
    return ts;
  }

  private fail(_p: number, reason: string): number {
    this.corrupt = reason;
    return _p;
  }

  private u16(b: Uint8Array, p: number): number {
    return this.le ? b[p]! | (b[p + 1]! << 8) : (b[p]! << 8) | b[p + 1]!;
  }

  private u32(b: Uint8Array, p: number): number {
    return this.le
      ? (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0
      : ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }
}
