/**
 * Writing to the terminal. stdout carries results (text or JSON lines), stderr carries notices and errors,
 * so `omniloop decode F --json | jq` always gets clean JSON.
 */

let stdoutClosed = false;

// A reader that goes away (`| head`) is not an error: stop writing and exit quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') {
    stdoutClosed = true;
    process.exit(0);
  }
  throw err;
});

export function isStdoutClosed(): boolean {
  return stdoutClosed;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

export function printLine(text = ''): void {
  process.stdout.write(text + '\n');
}

export function notice(text: string): void {
  process.stderr.write(`omniloop: ${text}\n`);
}

/**
 * Buffers many small writes (one JSON line per frame) into large ones; a write per line would make
 * stdout the bottleneck. Respects back-pressure only at flush points, which keeps memory bounded by `limit`.
 */
export class BufferedStdout {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly limit = 1 << 16) {}

  write(line: string): void {
    this.parts.push(line);
    this.size += line.length;
    if (this.size >= this.limit) this.flushSync();
  }

  flushSync(): void {
    if (this.parts.length === 0 || stdoutClosed) return;
    const chunk = this.parts.join('');
    this.parts = [];
    this.size = 0;
    writeAllSync(1, chunk);
  }
}

import { writeSync } from 'node:fs';

function writeAllSync(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue; // non-blocking pipe is full: retry
      if (code === 'EPIPE') {
        stdoutClosed = true;
        process.exit(0);
      }
      throw err;
    }
  }
}

/** Formats a table of rows for a technician's terminal. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) => r.map((c, i) => (typeof rows[0]?.[i] === 'number' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}
