/**
 * The agent's outbox: closed sighting windows wait here (SQLite, WAL) until the broker acknowledges
 * them. A row is one MQTT message (one batch); its sequence number, with the outbox's instance id,
 * is the batch id, so a retry after a crash or a restart carries the same id and the cloud drops the
 * duplicate. Bounded by rows, bytes and age: when full, the oldest rows go and are counted — the agent
 * itself never stops. A full disk is treated the same way. A row is deleted only after PUBACK.
 *
 * Appending and deleting never throw: they run in the capture path and in the broker's callbacks, where
 * a throw crashes the agent and systemd restarts it into the same failure. For the agent
 * (`moveAsideCorrupt`), a corrupt file is renamed aside (kept for salvage) and a fresh outbox started.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, renameSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { InputError } from '../../shared/errors.js';

export interface OutboxLimits {
  maxRows: number;
  maxBytes: number;
  maxAgeMs: number;
}

export const DEFAULT_LIMITS: OutboxLimits = { maxRows: 100_000, maxBytes: 256 * 1024 * 1024, maxAgeMs: 7 * 24 * 3_600_000 };

export interface OutboxOptions {
  /** Where a full disk, a corrupt file or a failed delete is reported (one line each, throttled). */
  log?: Pick<Logger, 'warn' | 'error'>;
  /**
   * The running agent's choice: a corrupt file (at open or later) is renamed to `<path>.corrupt-<time>`
   * and a fresh outbox started. Without it (technicians' tools, which may run beside the agent and
   * must not rename its file), a corrupt file is a clear error.
   */
  moveAsideCorrupt?: boolean;
  /** SQLite's max_page_count: a hard cap on the file, which makes a "full disk" on demand for tests. */
  maxPageCount?: number;
}

export interface OutboxRow {
  seq: number;
  kind: string;
  epoch: string;
  createdMs: number;
  /** The batch body (JSON object text) without the envelope the publisher adds. */
  body: string;
}

export interface OutboxStats {
  rows: number;
  bytes: number;
  oldestMs: number | null;
  dropped: number;
  instance: string;
  nextSeq: number;
  /** Corrupt outbox files renamed aside (carried over into each fresh outbox). */
  corruptMovedAside: number;
  /** Acknowledged rows that could not be deleted (they are sent again; HQ drops the duplicate). */
  deleteFailures: number;
}

/** Each entry upgrades the schema by one version, inside a transaction. */
const MIGRATIONS: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     kind TEXT NOT NULL,
     epoch TEXT NOT NULL,
     created_ms INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     body TEXT NOT NULL
   );`,
  // Running totals kept by triggers and an index on age: enforcing the limits after each insert is O(1)
  // and O(log n) instead of a COUNT/SUM and a scan of every waiting row (quadratic with a backlog).
  `CREATE TABLE totals (id INTEGER PRIMARY KEY CHECK (id = 1), rows INTEGER NOT NULL, bytes INTEGER NOT NULL);
   INSERT INTO totals SELECT 1, count(*), coalesce(sum(bytes), 0) FROM outbox;
   CREATE TRIGGER outbox_added AFTER INSERT ON outbox BEGIN UPDATE totals SET rows = rows + 1, bytes = bytes + NEW.bytes WHERE id = 1; END;
   CREATE TRIGGER outbox_removed AFTER DELETE ON outbox BEGIN UPDATE totals SET rows = rows - 1, bytes = bytes - OLD.bytes WHERE id = 1; END;
   CREATE INDEX outbox_by_created ON outbox (created_ms);`,
];

export class Outbox {
  private db!: Database.Database;
  private instanceId!: string;
  private insertStmt!: Database.Statement;
  private peekStmt!: Database.Statement;
  private deleteStmt!: Database.Statement;
  private totalsStmt!: Database.Statement;
  private oldestStmt!: Database.Statement;
  private dropOldestStmt!: Database.Statement;
  private dropAgedStmt!: Database.Statement;
  private bumpDroppedStmt!: Database.Statement;
  private dropForSpaceStmt!: Database.Statement;
  /** Dropped rows the file could not record (it was full or gone): folded in at the next write. */
  private unrecordedDropped = 0;
  private recordedDropped = 0;
  private corruptMoved = 0;
  private deleteFailures = 0;
  /** The highest sequence number handed out: a fresh outbox after corruption continues after it. */
  private lastSeq = 0;
  private lastStats: OutboxStats | null = null;
  private lastProblem = { reason: '', ms: -Infinity };

  constructor(
    readonly path: string,
    private readonly limits: OutboxLimits = DEFAULT_LIMITS,
    private readonly opts: OutboxOptions = {},
  ) {
    try {
      this.open();
    } catch (err) {
      if (!isCorrupt(err)) throw new InputError(`cannot open the outbox ${path}: ${firstLine(err)}`);
      if (!opts.moveAsideCorrupt) throw new InputError(`the outbox ${path} is corrupt (${firstLine(err)}): the agent moves it aside when it starts`);
      if (!this.recover(err)) throw new InputError(`the outbox ${path} is corrupt (${firstLine(err)}) and cannot be replaced: check the folder's permissions and free space`);
    }
  }

  /** With the sequence number, the batch id; a fresh outbox (after corruption) has a new one. */
  get instance(): string {
    return this.instanceId;
  }

  /**
   * Appends batches in one transaction (a window is all in or not at all), then enforces the limits. A
   * full disk drops the oldest rows (counted) until the batches fit; if they never do, they are dropped
   * themselves (counted) and [] is returned. Never throws.
   */
  append(kind: string, epoch: string, bodies: string[], nowMs = Date.now()): number[] {
    const need = bodies.reduce((n, b) => n + Buffer.byteLength(b), 0);
    for (let attempt = 0; attempt < 12; attempt++) {
      try {
        return this.appendOnce(kind, epoch, bodies, nowMs);
      } catch (err) {
        if (isFull(err)) {
          // Freed pages are reused by the next insert; twice as much room each round until it fits.
          const freed = this.dropForSpace(Math.max(need, 64 * 1024) * 2 ** attempt);
          if (freed > 0) {
            this.problem('the disk (or the outbox file\'s cap) is full: dropping the oldest batches to make room (counted as dropped)', err, 'warn', { freed });
            continue;
          }
          break;
        }
        if (isCorrupt(err) && attempt === 0 && this.opts.moveAsideCorrupt && this.recover(err)) continue;
        this.unrecordedDropped += bodies.length;
        this.problem('cannot store new batches: dropped (counted)', err, 'error', { batches: bodies.length });
        return [];
      }
    }
    this.unrecordedDropped += bodies.length;
    this.problem('the disk (or the outbox file\'s cap) is full even with the outbox emptied: new batches dropped (counted)', null, 'error', { batches: bodies.length });
    return [];
  }

  /** Oldest rows first, after `afterSeq`. */
  peek(limit: number, afterSeq = 0): OutboxRow[] {
    return this.guard('read the outbox', () => this.peekStmt.all(afterSeq, limit) as OutboxRow[], () => []);
  }

  /**
   * After the broker's PUBACK. Deleting a row that is gone already is fine (a late duplicate ack). Never
   * throws: a row that cannot be deleted is counted and sent again later, and HQ drops the duplicate.
   */
  delete(seq: number): void {
    try {
      this.deleteStmt.run(seq);
    } catch (err) {
      this.deleteFailures++;
      if (isCorrupt(err) && this.opts.moveAsideCorrupt) this.recover(err);
      else this.problem('cannot delete an acknowledged batch: it is sent again later (HQ drops the duplicate)', err);
    }
  }

  stats(): OutboxStats {
    return this.guard(
      'read the outbox',
      () => {
        const t = this.totalsStmt.get() as { rows: number; bytes: number };
        const o = this.oldestStmt.get() as { oldest: number | null };
        const seqRow = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").get() as { seq: number } | undefined;
        this.lastSeq = Math.max(this.lastSeq, seqRow?.seq ?? 0);
        this.recordedDropped = Number(this.meta('dropped') ?? 0);
        const s = { rows: t.rows, bytes: t.bytes, oldestMs: o.oldest, dropped: this.recordedDropped + this.unrecordedDropped, instance: this.instance, nextSeq: (seqRow?.seq ?? 0) + 1, corruptMovedAside: this.corruptMoved, deleteFailures: this.deleteFailures };
        this.lastStats = s;
        return s;
      },
      // The last reading, with the counters of now: /status and /metrics still answer.
      () => ({ rows: 0, bytes: 0, oldestMs: null, nextSeq: this.lastSeq + 1, ...this.lastStats, dropped: this.recordedDropped + this.unrecordedDropped, instance: this.instance, corruptMovedAside: this.corruptMoved, deleteFailures: this.deleteFailures }),
    );
  }

  /** Deletes every row (a technician's decision); they count as dropped. */
  purge(): number {
    return this.guard(
      'purge the outbox',
      () =>
        this.db.transaction(() => {
          const n = (this.totalsStmt.get() as { rows: number }).rows;
          this.db.prepare('DELETE FROM outbox').run();
          if (n) this.bumpDroppedStmt.run(n);
          return n;
        })(),
      () => 0,
    );
  }

  close(): void {
    try {
      if (this.db?.open) this.db.close();
    } catch (err) {
      this.problem('cannot close the outbox cleanly', err);
    }
  }

  private open(): void {
    const db = new Database(this.path);
    try {
      this.db = db;
      db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode: a power cut may lose the last transactions, never corrupt the file.
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      if (this.opts.maxPageCount) db.pragma(`max_page_count = ${Math.max(1, Math.floor(this.opts.maxPageCount))}`);
      this.migrate();
      this.instanceId = this.meta('instance') ?? this.setMeta('instance', randomUUID().slice(0, 8));
      this.insertStmt = db.prepare('INSERT INTO outbox (kind, epoch, created_ms, bytes, body) VALUES (?, ?, ?, ?, ?)');
      this.peekStmt = db.prepare('SELECT seq, kind, epoch, created_ms AS createdMs, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?');
      this.deleteStmt = db.prepare('DELETE FROM outbox WHERE seq = ?');
      this.totalsStmt = db.prepare('SELECT rows, bytes FROM totals WHERE id = 1');
      this.oldestStmt = db.prepare('SELECT min(created_ms) AS oldest FROM outbox');
      this.dropOldestStmt = db.prepare('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)');
      this.dropAgedStmt = db.prepare('DELETE FROM outbox WHERE created_ms < ?');
      this.bumpDroppedStmt = db.prepare("INSERT INTO meta (key, value) VALUES ('dropped', ?) ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value");
      // The oldest rows whose bytes add up to at least the target (all of them if they do not).
      this.dropForSpaceStmt = db.prepare(
        'DELETE FROM outbox WHERE seq <= coalesce((SELECT seq FROM (SELECT seq, sum(bytes) OVER (ORDER BY seq) AS run FROM outbox) WHERE run >= ? ORDER BY seq LIMIT 1), (SELECT max(seq) FROM outbox))',
      );
      this.corruptMoved = Math.max(this.corruptMoved, Number(this.meta('corruptMovedAside') ?? 0));
      const seqRow = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").get() as { seq: number } | undefined;
      this.lastSeq = Math.max(this.lastSeq, seqRow?.seq ?? 0);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private appendOnce(kind: string, epoch: string, bodies: string[], nowMs: number): number[] {
    const seqs = this.db.transaction(() => {
      const seqs = bodies.map((b) => Number(this.insertStmt.run(kind, epoch, nowMs, Buffer.byteLength(b), b).lastInsertRowid));
      this.enforceLimits(nowMs, this.unrecordedDropped);
      return seqs;
    })();
    this.unrecordedDropped = 0;
    this.lastSeq = Math.max(this.lastSeq, ...seqs);
    return seqs;
  }

  /** Deletes the oldest rows for room (counted); the number deleted, 0 when nothing could be. */
  private dropForSpace(bytes: number): number {
    try {
      return this.db.transaction(() => {
        const n = this.dropForSpaceStmt.run(bytes).changes;
        if (n) this.bumpDroppedStmt.run(n);
        return n;
      })();
    } catch {
      return 0;
    }
  }

  /** A statement that must not throw in the agent: corruption is handled, anything else logged. */
  private guard<T>(what: string, run: () => T, fallback: () => T): T {
    try {
      return run();
    } catch (err) {
      if (!this.opts.moveAsideCorrupt) {
        throw new InputError(`cannot ${what} ${this.path}: ${firstLine(err)}${isCorrupt(err) ? ' (the file is corrupt: the agent moves it aside when it starts)' : ''}`);
      }
      if (!isCorrupt(err) || !this.recover(err)) this.problem(`cannot ${what}`, err);
      return fallback();
    }
  }

  /**
   * Renames the corrupt file (with its -wal and -shm) aside, where a technician can salvage it, and
   * starts a fresh outbox: a new instance id (so no batch id repeats) and sequence numbers after the
   * last one handed out (so the publisher's cursor stays valid). False if no fresh outbox could be made.
   */
  private recover(cause: unknown): boolean {
    let carriedDropped = this.unrecordedDropped;
    try {
      carriedDropped += Number(this.meta('dropped') ?? 0);
    } catch {
      // unreadable: what this process dropped is all we know
    }
    this.close();
    const aside = `${this.path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      for (const suffix of ['', '-wal', '-shm']) if (existsSync(this.path + suffix)) renameSync(this.path + suffix, aside + suffix);
      this.corruptMoved++;
      this.open();
      this.db.transaction(() => {
        this.setMeta('corruptMovedAside', String(this.corruptMoved));
        if (carriedDropped) this.bumpDroppedStmt.run(carriedDropped);
        if (this.lastSeq) this.db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)").run(this.lastSeq);
      })();
      this.unrecordedDropped = 0;
    } catch (err) {
      this.opts.log?.error({ outbox: this.path, reason: firstLine(err), cause: firstLine(cause) }, 'the outbox is corrupt and no fresh one can be made: batches are dropped until this is fixed');
      return false;
    }
    this.opts.log?.error({ outbox: this.path, movedTo: aside, reason: firstLine(cause), corruptMovedAside: this.corruptMoved }, `the outbox was corrupt: moved aside to ${aside} (its unsent batches stay there), started a fresh one`);
    return true;
  }

  /** One log line per distinct problem per minute: a full disk must not also fill the journal. */
  private problem(message: string, err: unknown, level: 'warn' | 'error' = 'error', extra: Record<string, unknown> = {}): void {
    const reason = err === null ? undefined : firstLine(err);
    const key = `${message}|${reason}`;
    const now = Date.now();
    if (key === this.lastProblem.reason && now - this.lastProblem.ms < 60_000) return;
    this.lastProblem = { reason: key, ms: now };
    this.opts.log?.[level]({ outbox: this.path, reason, ...extra }, `outbox: ${message}`);
  }

  /** `unrecorded`: rows dropped earlier that the file could not count then. */
  private enforceLimits(nowMs: number, unrecorded = 0): void {
    let dropped = unrecorded + this.dropAgedStmt.run(nowMs - this.limits.maxAgeMs).changes;
    for (;;) {
      const t = this.totalsStmt.get() as { rows: number; bytes: number };
      if (t.rows <= this.limits.maxRows && t.bytes <= this.limits.maxBytes) break;
      // Drop in chunks proportional to the excess, never the row just written unless it alone is too big.
      const excess = Math.max(t.rows - this.limits.maxRows, t.bytes > this.limits.maxBytes ? 1 : 0);
      dropped += this.dropOldestStmt.run(Math.max(1, excess)).changes;
    }
    if (dropped) this.bumpDroppedStmt.run(dropped);
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) throw new Error(`outbox schema ${version} is newer than this agent understands (${MIGRATIONS.length}); upgrade omniloop`);
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  private meta(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  private setMeta(key: string, value: string): string {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
    return value;
  }
}

/** SQLITE_CORRUPT (a bad page) or SQLITE_NOTADB (a bad header), by code or by SQLite's wording. */
export function isCorrupt(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return (typeof e?.code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(e.code)) || (typeof e?.message === 'string' && /database disk image is malformed|file is not a database/.test(e.message));
}

function isFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_FULL');
}

function firstLine(err: unknown): string {
  return String((err as Error | null)?.message ?? err).split('\n')[0]!;
}
