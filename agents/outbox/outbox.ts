/**
 * The agent's outbox: closed sighting windows wait here (SQLite, WAL) until the broker acknowledges
 * them. A row is one MQTT message (one batch); its sequence number, with the outbox's instance id,
 * is the batch id, so a retry after a crash or a restart carries the same id and the cloud drops the
 * duplicate. Bounded by rows, bytes and age: when full, the oldest rows go and are counted — the agent
 * itself never stops. A row is deleted only after PUBACK.
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { InputError } from '../../shared/errors.js';

export interface OutboxLimits {
  maxRows: number;
  maxBytes: number;
  maxAgeMs: number;
}

export const DEFAULT_LIMITS: OutboxLimits = { maxRows: 100_000, maxBytes: 256 * 1024 * 1024, maxAgeMs: 7 * 24 * 3_600_000 };

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
  private readonly db: Database.Database;
  readonly instance: string;
  private readonly insertStmt: Database.Statement;
  private readonly peekStmt: Database.Statement;
  private readonly deleteStmt: Database.Statement;
  private readonly totalsStmt: Database.Statement;
  private readonly oldestStmt: Database.Statement;
  private readonly dropOldestStmt: Database.Statement;
  private readonly dropAgedStmt: Database.Statement;
  private readonly bumpDroppedStmt: Database.Statement;

  constructor(
    readonly path: string,
    private readonly limits: OutboxLimits = DEFAULT_LIMITS,
  ) {
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode: a power cut may lose the last transactions, never corrupt the file.
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      this.migrate();
    } catch (err) {
      throw new InputError(`cannot open the outbox ${path}: ${(err as Error).message}`);
    }
    this.instance = this.meta('instance') ?? this.setMeta('instance', randomUUID().slice(0, 8));
    this.insertStmt = this.db.prepare('INSERT INTO outbox (kind, epoch, created_ms, bytes, body) VALUES (?, ?, ?, ?, ?)');
    this.peekStmt = this.db.prepare('SELECT seq, kind, epoch, created_ms AS createdMs, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?');
    this.deleteStmt = this.db.prepare('DELETE FROM outbox WHERE seq = ?');
    this.totalsStmt = this.db.prepare('SELECT rows, bytes FROM totals WHERE id = 1');
    this.oldestStmt = this.db.prepare('SELECT min(created_ms) AS oldest FROM outbox');
    this.dropOldestStmt = this.db.prepare('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)');
    this.dropAgedStmt = this.db.prepare('DELETE FROM outbox WHERE created_ms < ?');
    this.bumpDroppedStmt = this.db.prepare("INSERT INTO meta (key, value) VALUES ('dropped', ?) ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value");
  }

  /** Appends batches in one transaction (a window is all in or not at all), then enforces the limits. */
  append(kind: string, epoch: string, bodies: string[], nowMs = Date.now()): number[] {
    const tx = this.db.transaction(() => {
      const seqs = bodies.map((b) => Number(this.insertStmt.run(kind, epoch, nowMs, Buffer.byteLength(b), b).lastInsertRowid));
      this.enforceLimits(nowMs);
      return seqs;
    });
    return tx();
  }

  /** Oldest rows first, after `afterSeq`. */
  peek(limit: number, afterSeq = 0): OutboxRow[] {
    return this.peekStmt.all(afterSeq, limit) as OutboxRow[];
  }

  /** After the broker's PUBACK. Deleting a row that is gone already is fine (a late duplicate ack). */
  delete(seq: number): void {
    this.deleteStmt.run(seq);
  }

  stats(): OutboxStats {
    const t = this.totalsStmt.get() as { rows: number; bytes: number };
    const o = this.oldestStmt.get() as { oldest: number | null };
    const seqRow = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").get() as { seq: number } | undefined;
    return { rows: t.rows, bytes: t.bytes, oldestMs: o.oldest, dropped: Number(this.meta('dropped') ?? 0), instance: this.instance, nextSeq: (seqRow?.seq ?? 0) + 1 };
  }

  /** Deletes every row (a technician's decision); they count as dropped. */
  purge(): number {
    const tx = this.db.transaction(() => {
      const n = (this.totalsStmt.get() as { rows: number }).rows;
      this.db.prepare('DELETE FROM outbox').run();
      if (n) this.bumpDroppedStmt.run(n);
      return n;
    });
    return tx();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private enforceLimits(nowMs: number): void {
    let dropped = this.dropAgedStmt.run(nowMs - this.limits.maxAgeMs).changes;
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
