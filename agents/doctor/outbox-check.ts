/**
 * The outbox: how much waits to be published and for how long. Read straight from the SQLite file,
 * never through the Outbox class (which creates and migrates the file): a missing outbox is reported,
 * not made — by root, it would then belong to the wrong user. A read-write connection (not read-only)
 * because a read-only one leaves -wal/-shm files behind; it writes nothing, and on close SQLite removes
 * what it created.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { fail, firstLine, ok, warn, type CheckResult } from './check.js';

export const OLDEST_WARNING_MS = 3_600_000;
export const ROWS_WARNING_SHARE = 0.8;

export interface OutboxSnapshot {
  rows: number;
  bytes: number;
  oldestMs: number | null;
  dropped: number;
}

export type OutboxReading = { state: 'missing'; folderExists: boolean } | { state: 'unreadable'; reason: string } | { state: 'read'; snapshot: OutboxSnapshot };

export function readOutbox(path: string): OutboxReading {
  if (!existsSync(path)) return { state: 'missing', folderExists: existsSync(dirname(path)) };
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true });
  } catch (err) {
    return { state: 'unreadable', reason: firstLine(err) };
  }
  try {
    db.pragma('busy_timeout = 2000');
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox'").get() !== undefined;
    if (!hasTable) return { state: 'unreadable', reason: 'not an omniloop outbox (no outbox table)' };
    const t = db.prepare('SELECT count(*) AS rows, coalesce(sum(bytes), 0) AS bytes, min(created_ms) AS oldest FROM outbox').get() as { rows: number; bytes: number; oldest: number | null };
    const d = db.prepare("SELECT value FROM meta WHERE key = 'dropped'").get() as { value: string } | undefined;
    return { state: 'read', snapshot: { rows: t.rows, bytes: t.bytes, oldestMs: t.oldest, dropped: Number(d?.value ?? 0) } };
  } catch (err) {
    return { state: 'unreadable', reason: firstLine(err) };
  } finally {
    db.close();
  }
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}

/** Pure: what the reading means against the configured bound. */
export function judgeOutbox(path: string, reading: OutboxReading, maxRows: number, nowMs: number): CheckResult {
  if (reading.state === 'missing') {
    if (!reading.folderExists) return fail('outbox', `the outbox's folder ${dirname(path)} does not exist: the agent cannot create ${path}`, `sudo mkdir -p ${dirname(path)} && sudo chown omniloop: ${dirname(path)} (the systemd service's StateDirectory= makes /var/lib/omniloop itself)`);
    return ok('outbox', `no outbox yet at ${path} (the agent creates it on its first run)`, { path, rows: 0 });
  }
  if (reading.state === 'unreadable') {
    const permission = /unable to open|permission|readonly|CANTOPEN/i.test(reading.reason);
    if (permission) return warn('outbox', `cannot read the outbox ${path} as this user (${reading.reason})`, 'run the doctor as the agent\'s user or with sudo: sudo omniloop doctor --config ...', { path });
    return fail('outbox', `cannot read the outbox ${path}: ${reading.reason}`, `check outbox.path in the config; \`omniloop buffer stats --config ...\` reads it the agent's way`, { path });
  }
  const s = reading.snapshot;
  const oldestAgeMs = s.oldestMs === null ? null : nowMs - s.oldestMs;
  const details = { path, rows: s.rows, bytes: s.bytes, maxRows, oldestAgeSeconds: oldestAgeMs === null ? null : Math.round(oldestAgeMs / 1000), dropped: s.dropped };
  const mb = (s.bytes / 1024 / 1024).toFixed(1);
  const waiting = s.rows === 0 ? 'empty: everything is published' : `${s.rows} batch${s.rows === 1 ? '' : 'es'} (${mb} MB) waiting, oldest unsent ${age(oldestAgeMs ?? 0)} old`;
  const dropped = s.dropped ? `; ${s.dropped} dropped so far (outbox full or too old)` : '';
  const problems: string[] = [];
  if (oldestAgeMs !== null && oldestAgeMs > OLDEST_WARNING_MS) problems.push('nothing has been published for over an hour');
  if (s.rows > ROWS_WARNING_SHARE * maxRows) problems.push(`over ${Math.round(ROWS_WARNING_SHARE * 100)}% of outbox.maxRows (${maxRows}): the oldest batches will be dropped`);
  if (problems.length === 0) return ok('outbox', `${waiting}${dropped}`, details);
  return warn('outbox', `${waiting}${dropped}: ${problems.join('; ')}`, 'see the broker check for why nothing is sent; a running agent says more: omniloop status (and systemctl status omniloop-agent)', details);
}

