/** pcap and pcapng parsing on files built byte by byte: byte orders, resolutions, sections, odd blocks, damage. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaptureBuffer, readCaptureFile, readCaptureFileAsync } from '../agents/capture/file-reader.js';
import { PcapWriter, PcapngWriter, type PcapWriterOptions } from '../scripts/lib/capture-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-formats-'));
type Rec = { linktype: number; bytes: string; orig: number; ts: number };

function collect(data: Uint8Array, chunk?: number): { recs: Rec[]; result: ReturnType<typeof readCaptureBuffer> } {
  const recs: Rec[] = [];
  const sink = (linktype: number, buf: Uint8Array, off: number, caplen: number, orig: number, ts: number) =>
    recs.push({ linktype, bytes: Buffer.from(buf.subarray(off, off + caplen)).toString('hex'), orig, ts });
  if (chunk === undefined) return { recs, result: readCaptureBuffer(data, sink) };
  const path = join(dir, `chunk-${Math.random()}`);
  writeFileSync(path, data);
  return { recs, result: readCaptureFile(path, sink, { chunkBytes: chunk }) };
}

const frames = [new Uint8Array([1, 2, 3]), new Uint8Array(300).fill(7), new Uint8Array([9])];
const T0 = 1_763_884_800_123.456; // ms with microseconds

function pcapFile(opts: { nanoseconds?: boolean; bigEndian?: boolean }): Uint8Array {
  const path = join(dir, `p-${opts.nanoseconds}-${opts.bigEndian}.pcap`);
  const w = new PcapWriter(path, 127, opts);
  frames.forEach((f, i) => w.add(T0 + i, f, i === 1 ? 400 : f.length));
  w.close();
  return readFileSync(path);
}

describe('classic pcap', () => {
  it.each([
    [{}, 'µs little-endian'],
    [{ bigEndian: true }, 'µs big-endian'],
    [{ nanoseconds: true }, 'ns little-endian'],
    [{ nanoseconds: true, bigEndian: true }, 'ns big-endian'],
  ])('%j (%s): every record, length, original length and timestamp', (opts: PcapWriterOptions, _label: string) => {
    const { recs, result } = collect(pcapFile(opts));
    expect(result).toMatchObject({ format: 'pcap', linktypes: [127], records: 3, truncated: null, corrupt: null });
    expect(recs.map((r) => r.bytes)).toEqual(frames.map((f) => Buffer.from(f).toString('hex')));
    expect(recs.map((r) => r.orig)).toEqual([3, 400, 1]);
    recs.forEach((r, i) => expect(r.ts).toBeCloseTo(T0 + i, 3));
  });

  it('reports a last record cut short, after delivering the ones before it', () => {
    const whole = pcapFile({});
    const { recs, result } = collect(whole.subarray(0, whole.length - 1));
    expect(recs).toHaveLength(2);
    expect(result.truncated).toEqual({ offset: whole.length - 17, have: 16, need: 17 });
    expect(result.corrupt).toBeNull();
  });

  it('stops at an absurd record length and says where', () => {
    const f = Buffer.from(pcapFile({}));
    f.writeUInt32LE(0x7fffffff, 24 + 16 + 3 + 8); // second record's incl_len
    const { recs, result } = collect(f);
    expect(recs).toHaveLength(1);
    expect(result.corrupt).toEqual({ offset: 24 + 16 + 3, reason: expect.stringMatching(/record 2 claims 2147483647 bytes/) });
  });

  it('gives the same records with a tiny buffer that every record straddles, growing it for large ones', () => {
    const whole = pcapFile({ nanoseconds: true });
    expect(collect(whole, 64).recs).toEqual(collect(whole).recs);
  });

  it('rejects what is not a capture, and a file cut inside its header', () => {
    expect(() => collect(new TextEncoder().encode('hello world'))).toThrow(/not a capture file omniloop reads \(magic 0x68656c6c\)/);
    expect(() => collect(new Uint8Array(0))).toThrow(/is empty/);
    expect(() => collect(pcapFile({}).subarray(0, 20))).toThrow(/cut short inside its file header/);
  });
});

describe('pcapng', () => {
  it('reads interfaces with their link types and timestamp resolutions', () => {
    const path = join(dir, 'two.pcapng');
    const w = new PcapngWriter(path, [{ linktype: 127 }, { linktype: 256, tsresol: 9 }, { linktype: 201, tsresol: 0x80 | 20 }]);
    w.add(0, T0, frames[0]!);
    w.add(1, T0 + 1, frames[1]!, 500);
    w.add(2, T0 + 2, frames[2]!);
    w.close();
    const { recs, result } = collect(readFileSync(path));
    expect(result).toMatchObject({ format: 'pcapng', linktypes: [127, 256, 201], records: 3, truncated: null, corrupt: null });
    expect(recs.map((r) => [r.linktype, r.orig])).toEqual([
      [127, 3],
      [256, 500],
      [201, 1],
    ]);
    expect(recs[0]!.ts).toBeCloseTo(T0, 3);
    expect(recs[1]!.ts).toBeCloseTo(T0 + 1, 3);
    expect(recs[2]!.ts).toBeCloseTo(T0 + 2, 2); // 2^-20 s units: ~1 µs
  });

  it('handles big-endian sections, if_tsoffset, simple and obsolete packet blocks and unknown blocks', () => {
    const be = (v: number, n = 4) => {
      const b = Buffer.alloc(n);
      n === 2 ? b.writeUInt16BE(v) : b.writeUInt32BE(v);
      return b;
    };
    const block = (type: number, body: Buffer, bigEndian: boolean) => {
      const pad = Buffer.alloc((4 - (body.length % 4)) % 4);
      const total = 12 + body.length + pad.length;
      const w = (v: number) => (bigEndian ? be(v) : Buffer.from(new Uint32Array([v]).buffer));
      return Buffer.concat([w(type), w(total), body, pad, w(total)]);
    };
    // Section 1, big-endian: IDB with if_tsoffset = 1000 s, one EPB, one SPB, a custom block.
    const shbBe = block(0x0a0d0d0a, Buffer.concat([be(0x1a2b3c4d), be(1, 2), be(0, 2), Buffer.alloc(8, 0xff)]), true);
    const opts = Buffer.concat([be(14, 2), be(8, 2), Buffer.from([0, 0, 0, 0, 0, 0, 0x03, 0xe8]), be(0, 2), be(0, 2)]);
    const idbBe = block(1, Buffer.concat([be(105, 2), be(0, 2), be(65535), opts]), true);
    const epbBe = block(6, Buffer.concat([be(0), be(0), be(5_000_000), be(3), be(3), Buffer.from([0xaa, 0xbb, 0xcc])]), true);
    const spbBe = block(3, Buffer.concat([be(2), Buffer.from([0xdd, 0xee])]), true);
    const custom = block(0x00000bad, Buffer.alloc(12), true);
    // Section 2, little-endian: an obsolete Packet Block on its own interface.
    const le32 = (v: number) => Buffer.from(new Uint32Array([v]).buffer);
    const le16 = (v: number) => Buffer.from(new Uint16Array([v]).buffer);
    const shbLe = block(0x0a0d0d0a, Buffer.concat([le32(0x1a2b3c4d), le16(1), le16(0), Buffer.alloc(8, 0xff)]), false);
    const idbLe = block(1, Buffer.concat([le16(256), le16(0), le32(0)]), false);
    const pb = block(2, Buffer.concat([le16(0), le16(0), le32(0), le32(7_000_000), le32(1), le32(1), Buffer.from([0x11])]), false);
    const { recs, result } = collect(Buffer.concat([shbBe, idbBe, epbBe, spbBe, custom, shbLe, idbLe, pb]));
    expect(result.corrupt).toBeNull();
    expect(result.linktypes).toEqual([105, 256]);
    expect(recs.map((r) => [r.linktype, r.bytes, r.orig])).toEqual([
      [105, 'aabbcc', 3],
      [105, 'ddee', 2],
      [256, '11', 1],
    ]);
    expect(recs[0]!.ts).toBeCloseTo(1000 * 1000 + 5000, 6); // 5 s in µs units + 1000 s offset
    expect(recs[1]!.ts).toBe(recs[0]!.ts); // an SPB has no timestamp: the last one seen
    expect(recs[2]!.ts).toBeCloseTo(7000, 6);
  });

  it('reports damaged blocks as corrupt at their offset', () => {
    const path = join(dir, 'bad.pcapng');
    const w = new PcapngWriter(path, [{ linktype: 127 }]);
    w.add(0, T0, frames[0]!);
    w.add(0, T0, frames[1]!);
    w.close();
    const good = readFileSync(path);
    const shbAndIdb = 28 + 32;
    const epb1 = 12 + 20 + 4; // 3 bytes of data padded to 4
    const badTrailer = Buffer.from(good);
    badTrailer.writeUInt32LE(99, shbAndIdb + epb1 - 4);
    expect(collect(badTrailer).result.corrupt).toEqual({ offset: shbAndIdb, reason: 'block length and trailing length differ' });
    const badIface = Buffer.from(good);
    badIface.writeUInt32LE(5, shbAndIdb + 8);
    expect(collect(badIface).result.corrupt?.reason).toBe('packet of an undeclared interface');
    const odd = Buffer.from(good);
    odd.writeUInt32LE(13, shbAndIdb + 4);
    expect(collect(odd).result.corrupt?.reason).toMatch(/length 13/);
    const cut = collect(good.subarray(0, good.length - 10));
    expect([cut.recs.length, cut.result.truncated?.offset]).toEqual([1, shbAndIdb + epb1]);
  });
});

describe('the async reader', () => {
  it('delivers the same records and can be aborted', async () => {
    const path = join(dir, 'async.pcap');
    const w = new PcapWriter(path, 127);
    for (let i = 0; i < 5000; i++) w.add(T0 + i, frames[i % 3]!);
    w.close();
    let n = 0;
    const r = await readCaptureFileAsync(path, () => n++, { chunkBytes: 4096 });
    expect([n, r.records]).toEqual([5000, 5000]);
    const ac = new AbortController();
    let m = 0;
    const p = readCaptureFileAsync(path, () => {
      if (++m === 10) ac.abort();
    }, { chunkBytes: 4096, signal: ac.signal });
    expect((await p).records).toBeLessThan(5000);
  });
});
