/**
 * Writes an export file the safe way: readable by its owner only (0600), complete or not at all (a
 * temporary file beside it, flushed, then moved into place), and never over an existing file unless
 * asked to (`force`).
 */
import { closeSync, existsSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../../shared/errors.js';

export function writeFileAtomic(path: string, content: string, force: boolean): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? `cannot write ${path}: its folder does not exist` : `cannot write ${path} (${code ?? 'error'})`);
  }
  try {
    const buf = Buffer.from(content);
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    if (force) renameSync(tmp, path);
    else placeNew(tmp, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(code === 'EEXIST' ? `${path} exists; refusing to overwrite it (use --force)` : `cannot write ${path} (${code ?? 'error'})`);
  } finally {
    try {
      unlinkSync(tmp); // after link; after a rename it is gone already
    } catch {
      /* renamed */
    }
  }
}

/** Moves `tmp` to `path` only if nothing is there. */
function placeNew(tmp: string, path: string): void {
  try {
    // A hard link fails if the name exists: no check-then-write race with another writer.
    linkSync(tmp, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    // A file system without hard links: check, then rename (a narrow race, on an odd file system only).
    if (existsSync(path)) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
    renameSync(tmp, path);
  }
}
