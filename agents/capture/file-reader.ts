/**
 * The I/O edge of file capture: streams a capture through its format parser with one reusable buffer,
 * so a file of any size needs the same memory. The sync reader is the fastest (decode, benchmark); the
 * async one yields to the event loop between chunks (replay inside a running agent). Both share one loop.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { setImmediate as nextTick } from 'node:timers/promises';
import { InputError } from '../../shared/errors.js';
import { MAGIC_BYTES, openCaptureParser, type CaptureFormat, type CaptureParser } from './capture-format.js';
import type { RecordSink } from './record.js';

export interface ReadResult {
  format: CaptureFormat;
  linktypes: number[];
  records: number;
  bytes: number;
  /** A last record cut short by the end of the file (an interrupted capture): reported, not fatal. */
  truncated: { offset: number; have: number; need: number } | null;
  /** The file stopped being a capture in the middle: reading stopped there; what came before was delivered. */
  corrupt: { offset: number; reason: string } | null;
}

export interface ReadOptions {
  /** Bytes read at a time (default 1 MiB); the buffer grows beyond it only for a larger single record. */
  chunkBytes?: number;
}

type ReadFn = (buf: Uint8Array, off: number, len: number) => number;

const DEFAULT_CHUNK = 1024 * 1024;

/** One pass over a byte source: fill, parse whole records, keep the unfinished tail, repeat. */
class CaptureStream {
  private buf: Uint8Array;
  private start = 0;
  private end = 0;
  /** File offset of buf[0]. */
  private base = 0;
  private parser: CaptureParser | null = null;
  private truncated: ReadResult['truncated'] = null;
  private corrupt: ReadResult['corrupt'] = null;
  done = false;

  constructor(
    private readonly read: ReadFn,
    private readonly label: string,
    chunkBytes: number,
  ) {
    this.buf = new Uint8Array(Math.max(64, chunkBytes));
  }

  /** Reads and parses one chunk; sets `done` at the end of the data or at corruption. */
  step(sink: RecordSink): void {
    this.makeRoom();
    const n = this.read(this.buf, this.end, this.buf.length - this.end);
    this.end += n;
    const eof = n === 0;
    if (!this.parser) {
      if (this.end < MAGIC_BYTES) {
        if (!eof) return;
        throw new InputError(this.end === 0 ? `${this.label} is empty` : `${this.label} is not a capture file (${this.end} bytes)`);
      }
      this.parser = openCaptureParser(this.buf.subarray(0, MAGIC_BYTES), this.label);
    }
    const parser = this.parser;
    this.start = parser.parse(this.buf, this.start, this.end, sink);
    if (parser.corrupt !== null) {
      this.corrupt = { offset: this.base + this.start, reason: parser.corrupt };
      this.done = true;
    } else if (eof) {
      if (this.start < this.end) {
        if (this.base + this.start === 0) throw new InputError(`${this.label} is cut short inside its file header (${this.end} bytes)`);
        this.truncated = { offset: this.base + this.start, have: this.end - this.start, need: parser.needBytes };
      }
      this.done = true;
    }
  }

  /** Moves the unparsed tail to the front and grows the buffer when one record needs more than it holds. */
  private makeRoom(): void {
    const tail = this.end - this.start;
    const need = Math.max(this.parser?.needBytes ?? 0, tail + 1);
    if (need > this.buf.length) {
      const bigger = new Uint8Array(Math.max(need, this.buf.length * 2));
      bigger.set(this.buf.subarray(this.start, this.end));
      this.buf = bigger;
    } else if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end);
    }
    this.base += this.start;
    this.start = 0;
    this.end = tail;
  }

  result(): ReadResult {
    const p = this.parser!;
    return {
      format: p.format,
      linktypes: [...p.linktypes],
      records: p.records,
      bytes: this.base + this.end,
      truncated: this.truncated,
      corrupt: this.corrupt,
    };
  }
}

function openForReading(path: string): { fd: number; read: ReadFn } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw fileError(path, err);
  }
  const read: ReadFn = (buf, off, len) => {
    try {
      return readSync(fd, buf, off, len, null);
    } catch (err) {
      throw fileError(path, err);
    }
  };
  return { fd, read };
}

function fileError(path: string, err: unknown): InputError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new InputError(`${path} does not exist`);
  if (code === 'EISDIR') return new InputError(`${path} is a directory, not a capture file`);
  if (code === 'EACCES' || code === 'EPERM') return new InputError(`cannot read ${path}: permission denied`);
  return new InputError(`cannot read ${path} (${code ?? (err as Error).message})`);
}

export function readCaptureFile(path: string, sink: RecordSink, opts: ReadOptions = {}): ReadResult {
  const { fd, read } = openForReading(path);
  try {
    const stream = new CaptureStream(read, path, opts.chunkBytes ?? DEFAULT_CHUNK);
    while (!stream.done) stream.step(sink);
    return stream.result();
  } finally {
    closeSync(fd);
  }
}

export interface AsyncReadOptions extends ReadOptions {
  signal?: AbortSignal;
  /** Called between chunks (the place to flush, pace or yield). */
  onChunk?: () => Promise<void> | void;
}

export async function readCaptureFileAsync(path: string, sink: RecordSink, opts: AsyncReadOptions = {}): Promise<ReadResult> {
  const { fd, read } = openForReading(path);
  try {
    const stream = new CaptureStream(read, path, opts.chunkBytes ?? 1024 * 1024);
    while (!stream.done && !opts.signal?.aborted) {
      stream.step(sink);
      await opts.onChunk?.();
      await nextTick();
    }
    return stream.result();
  } finally {
    closeSync(fd);
  }
}

/** The same over bytes already in memory (tests, generated data). */
export function readCaptureBuffer(data: Uint8Array, sink: RecordSink, label = 'capture'): ReadResult {
  let pos = 0;
  const read: ReadFn = (buf, off, len) => {
    const n = Math.min(len, data.length - pos);
    buf.set(data.subarray(pos, pos + n), off);
    pos += n;
    return n;
  };
  const stream = new CaptureStream(read, label, DEFAULT_CHUNK);
  while (!stream.done) stream.step(sink);
  return stream.result();
}
