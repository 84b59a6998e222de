/**
 * Free space where the outbox lives. The outbox is bounded by outbox.maxMegabytes, but an SD card shared
 * with logs fills up anyway, and SQLite cannot write a transaction on a full disk.
 */
import { existsSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fail, ok, warn, type CheckResult } from './check.js';

const MIB = 1024 * 1024;
export const DISK_WARN_BYTES = 1024 * MIB;
export const DISK_WARN_SHARE = 0.1;
export const DISK_FAIL_BYTES = 100 * MIB;

export interface DiskSpace {
  /** The folder that was measured (the outbox's, or its nearest existing parent). */
  path: string;
  /** Bytes available to an unprivileged writer. */
  freeBytes: number;
  totalBytes: number;
}

/** statfs of the outbox's folder, or of its nearest existing parent if the folder is not made yet. */
export function probeDisk(outboxPath: string): DiskSpace {
  let dir = dirname(outboxPath);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const s = statfsSync(dir);
  return { path: dir, freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
}

const human = (b: number): string => (b >= 1024 * MIB ? `${(b / 1024 / MIB).toFixed(1)} GiB` : `${Math.round(b / MIB)} MiB`);

/** Pure: fail under 100 MiB, warn under 1 GiB or 10%, and when the outbox bound is larger than what is left. */
export function judgeDisk(d: DiskSpace, outboxMaxBytes: number): CheckResult {
  const share = d.totalBytes > 0 ? d.freeBytes / d.totalBytes : 0;
  const details = { path: d.path, freeBytes: d.freeBytes, totalBytes: d.totalBytes, freePercent: Math.round(share * 1000) / 10 };
  const text = `${human(d.freeBytes)} free of ${human(d.totalBytes)} (${details.freePercent}%) on the outbox's filesystem (${d.path})`;
  const fix = `free space there (df -h ${d.path}; sudo journalctl --vacuum-size=100M; sudo apt-get clean) or move outbox.path to a larger filesystem`;
  if (d.freeBytes < DISK_FAIL_BYTES) return fail('disk', `${text}: the outbox may not be able to write`, fix, details);
  if (d.freeBytes < DISK_WARN_BYTES || share < DISK_WARN_SHARE) return warn('disk', `${text}: running low`, fix, details);
  if (d.freeBytes < outboxMaxBytes) return warn('disk', `${text}: less than outbox.maxMegabytes (${human(outboxMaxBytes)}), so a long outage fills the disk first`, `${fix}, or lower outbox.maxMegabytes`, details);
  return ok('disk', text, details);
}
