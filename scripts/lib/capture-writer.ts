/**
 * Writes pcap and pcapng files through a fixed buffer (a million frames never sit in memory at once).
 * For tests, the benchmark and the demo's generated traffic.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

const FLUSH_AT = 1 << 20;

class BufferedFile {
  private buf = Buffer.alloc(FLUSH_AT * 2);
  private len = 0;
  private readonly fd: number;
  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }
  reserve(n: number): Buffer {
    if (this.len + n > this.buf.length) {
      this.flush();
      if (n > this.buf.length) this.buf = Buffer.alloc(n * 2);
    }
    return this.buf;
  }
  get offset(): number {
    return this.len;
  }
  advance(n: number): void {
    this.len += n;
    if (this.len >= FLUSH_AT) this.flush();
  }
  flush(): void {
    let off = 0;
    while (off < this.len) off += writeSync(this.fd, this.buf, off, this.len - off);
    this.len = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

export interface PcapWriterOptions {
  nanoseconds?: boolean;
  bigEndian?: boolean;
  snaplen?: number;
}

export class PcapWriter {
  private readonly f: BufferedFile;
  private readonly be: boolean;
  private readonly ns: boolean;
  count = 0;

  constructor(path: string, linktype: number, o: PcapWriterOptions = {}) {
    this.f = new BufferedFile(path);
    this.be = !!o.bigEndian;
    this.ns = !!o.nanoseconds;
    const b = this.f.reserve(24);
    const at = this.f.offset;
    this.u32(b, at, this.ns ? 0xa1b23c4d : 0xa1b2c3d4);
    this.u16(b, at + 4, 2);
    this.u16(b, at + 6, 4);
    this.u32(b, at + 8, 0);
    this.u32(b, at + 12, 0);
    this.u32(b, at + 16, o.snaplen ?? 262144);
    this.u32(b, at + 20, linktype);
    this.f.advance(24);
  }

  /** `origLen` larger than the frame writes a record cut by the snap length. */
  add(tsMs: number, frame: Uint8Array, origLen = frame.length): void {
    const b = this.f.reserve(16 + frame.length);
    const at = this.f.offset;
    const sec = Math.floor(tsMs / 1000);
    const frac = this.ns ? Math.round((tsMs - sec * 1000) * 1e6) : Math.round((tsMs - sec * 1000) * 1e3);
    this.u32(b, at, sec);
    this.u32(b, at + 4, frac);
    this.u32(b, at + 8, frame.length);
    this.u32(b, at + 12, origLen);
    b.set(frame, at + 16);
    this.f.advance(16 + frame.length);
    this.count++;
  }

  close(): void {
    this.f.close();
  }

  private u16(b: Buffer, at: number, v: number): void {
    if (this.be) b.writeUInt16BE(v, at);
    else b.writeUInt16LE(v, at);
  }

  private u32(b: Buffer, at: number, v: number): void {
    if (this.be) b.writeUInt32BE(v >>> 0, at);
    else b.writeUInt32LE(v >>> 0, at);
  }
}

/** pcapng with one Section Header Block and one Interface Description Block per link type. */
export class PcapngWriter {
  private readonly f: BufferedFile;
  private readonly ifaces: { linktype: number; tsresol: number }[];
  count = 0;

  /** tsresol: the if_tsresol byte (6 = µs, 9 = ns, 0x80|20 = 2^-20 s). */
  constructor(path: string, ifaces: { linktype: number; tsresol?: number }[]) {
    this.f = new BufferedFile(path);
    this.ifaces = ifaces.map((i) => ({ linktype: i.linktype, tsresol: i.tsresol ?? 6 }));
    this.block(0x0a0d0d0a, Buffer.from([0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    for (const i of this.ifaces) {
      const body = Buffer.alloc(8 + 8 + 4);
      body.writeUInt16LE(i.linktype, 0);
      body.writeUInt32LE(262144, 4);
      body.writeUInt16LE(9, 8); // if_tsresol
      body.writeUInt16LE(1, 10);
      body[12] = i.tsresol;
      body.writeUInt32LE(0, 16); // opt_endofopt
      this.block(1, body);
    }
  }

  add(iface: number, tsMs: number, frame: Uint8Array, origLen = frame.length): void {
    const r = this.ifaces[iface]!.tsresol;
    const unitsPerMs = (r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r) / 1000;
    const units = BigInt(Math.round(tsMs * unitsPerMs));
    const pad = (4 - (frame.length % 4)) % 4;
    const total = 12 + 20 + frame.length + pad;
    const b = this.f.reserve(total);
    const at = this.f.offset;
    b.writeUInt32LE(6, at);
    b.writeUInt32LE(total, at + 4);
    b.writeUInt32LE(iface, at + 8);
    b.writeUInt32LE(Number(units >> 32n), at + 12);
    b.writeUInt32LE(Number(units & 0xffffffffn), at + 16);
    b.writeUInt32LE(frame.length, at + 20);
    b.writeUInt32LE(origLen, at + 24);
    b.set(frame, at + 28);
    b.fill(0, at + 28 + frame.length, at + 28 + frame.length + pad);
    b.writeUInt32LE(total, at + total - 4);
    this.f.advance(total);
    this.count++;
  }

  close(): void {
    this.f.close();
  }

  private block(type: number, body: Buffer): void {
    const total = 12 + body.length;
    const b = this.f.reserve(total);
    const at = this.f.offset;
    b.writeUInt32LE(type, at);
    b.writeUInt32LE(total, at + 4);
    body.copy(b, at + 8);
    b.writeUInt32LE(total, at + 8 + body.length);
    this.f.advance(total);
  }
}
