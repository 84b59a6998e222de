/**
 * The embedded cloud store: SQLite (better-sqlite3, WAL), safe for several consumer processes on one
 * file. Idempotent by batch id: a redelivered or duplicated batch inserts nothing.
 */
import Database from 'better-sqlite3';
import { InputError } from '../../shared/errors.js';
import { redact, redactHead } from '../../shared/wire/redact.js';
import type { SightingsBatch } from '../../shared/wire/sightings-schema.js';
import { DEAD_LETTER_KEEP, KNOWN_BATCH_COUNTER, MAX_SIGHTING_MS, batchDigest, epochsAround, knownBatchOutcome, newProfileKeyText, profileKeyFromText, suppressionDigest, type AgentRow, type CloudStats, type CloudStore, type DeadLetter, type EstimateRow, type GroupItem, type GroupOutcome, type IngestOutcome } from './cloud-store.js';
import { faultCode, isMessageFault } from './db-faults.js';
import type { SightingRow } from '../analytics/visits.js';
import type { Edge, GraphRules } from '../identity/graph.js';
import { linkNodes, type LinksBatch } from '../../shared/wire/links-schema.js';
import { SQLITE_GRAPH_COUNTS_MIGRATION, SQLITE_GRAPH_MIGRATION, SqliteGraph } from './sqlite-graph.js';
import { SQLITE_ROLLUPS_MIGRATION, SqliteRollups } from './sqlite-rollups.js';


const MIGRATIONS = [
  `CREATE TABLE batches (batch_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, store TEXT NOT NULL, agent TEXT NOT NULL,
     seq INTEGER NOT NULL, epoch TEXT NOT NULL, window_start INTEGER NOT NULL, window_end INTEGER NOT NULL,
     sightings INTEGER NOT NULL, received_ms INTEGER NOT NULL);
   CREATE TABLE sightings (id INTEGER PRIMARY KEY, batch_id TEXT NOT NULL, tenant TEXT NOT NULL, store TEXT NOT NULL,
     agent TEXT NOT NULL, epoch TEXT NOT NULL, cid TEXT NOT NULL, source TEXT NOT NULL, address_class TEXT NOT NULL,
     first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL, frames INTEGER NOT NULL, rssi_max REAL, rssi_mean REAL,
     beacon_type TEXT, beacon_cid TEXT);
   CREATE INDEX sightings_by_cid ON sightings (tenant, epoch, cid);
   CREATE INDEX sightings_by_store ON sightings (tenant, store, epoch, first_ms);
   CREATE TABLE ephemeral (batch_id TEXT NOT NULL, tenant TEXT NOT NULL, store TEXT NOT NULL, epoch TEXT NOT NULL,
     window_start INTEGER NOT NULL, source TEXT NOT NULL, address_class TEXT NOT NULL, devices INTEGER NOT NULL, frames INTEGER NOT NULL);
   CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, topic TEXT NOT NULL, reason TEXT NOT NULL, payload TEXT NOT NULL,
     bytes INTEGER NOT NULL, received_ms INTEGER NOT NULL);
   CREATE TABLE agents (tenant TEXT NOT NULL, store TEXT NOT NULL, agent TEXT NOT NULL, state TEXT NOT NULL,
     status TEXT NOT NULL, last_seen_ms INTEGER NOT NULL, PRIMARY KEY (tenant, store, agent));
   CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);`,
  `CREATE TABLE edges (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL, ts INTEGER NOT NULL,
     batch_id TEXT NOT NULL, store TEXT NOT NULL, marketing INTEGER NOT NULL);
   CREATE INDEX edges_by_tenant ON edges (tenant);`,
  `CREATE TABLE suppressed (digest TEXT PRIMARY KEY, erased_ms INTEGER NOT NULL);`,
  // A batch id is unique per agent, and agent names repeat across stores (every store has its ap-1):
  // the idempotency key is the sender and its batch id.
  `CREATE TABLE batches_v4 (batch_id TEXT NOT NULL, tenant TEXT NOT NULL, store TEXT NOT NULL, agent TEXT NOT NULL,
     seq INTEGER NOT NULL, epoch TEXT NOT NULL, window_start INTEGER NOT NULL, window_end INTEGER NOT NULL,
     sightings INTEGER NOT NULL, received_ms INTEGER NOT NULL, PRIMARY KEY (tenant, store, batch_id));
   INSERT INTO batches_v4 SELECT batch_id, tenant, store, agent, seq, epoch, window_start, window_end, sightings, received_ms FROM batches;
   DROP TABLE batches;
   ALTER TABLE batches_v4 RENAME TO batches;`,
  `CREATE TABLE optout (tenant TEXT NOT NULL, token TEXT NOT NULL, added_ms INTEGER NOT NULL, PRIMARY KEY (tenant, token));`,
  // Agents estimate the devices behind ephemeral addresses per window (issue 12).
  `CREATE TABLE estimates (batch_id TEXT NOT NULL, tenant TEXT NOT NULL, store TEXT NOT NULL, agent TEXT NOT NULL, epoch TEXT NOT NULL,
     window_start INTEGER NOT NULL, window_end INTEGER NOT NULL, method TEXT NOT NULL, wifi_present REAL NOT NULL,
     wifi_arrivals REAL NOT NULL, ble_present REAL NOT NULL, ble_arrivals REAL NOT NULL);
   CREATE INDEX estimates_by_day ON estimates (tenant, epoch, store);`,
  // A digest of each batch's content: a known id with other content is a conflict, not a duplicate
  // (issue 14, finding 9). Batches stored before have none and cannot be compared.
  `ALTER TABLE batches ADD COLUMN digest TEXT;`,
  // Settings of the database itself, such as the key profile ids are made with.
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  // The identity graph kept in the database, each identifier with its component and profile (issue 15).
  SQLITE_GRAPH_MIGRATION,
  // Its counters, so /v1/graph reads a few rows instead of every identifier.
  SQLITE_GRAPH_COUNTS_MIGRATION,
  // The reports' rollups per tenant-day, their marks, store-days and counters (issue 15): no report scans sightings.
  SQLITE_ROLLUPS_MIGRATION,
];

export class SqliteCloudStore implements CloudStore {
  private readonly db: Database.Database;
  private readonly insertBatch: Database.Statement;
  private readonly insertSighting: Database.Statement;
  private readonly insertEphemeral: Database.Statement;
  private readonly insertEstimate: Database.Statement;
  private readonly bump: Database.Statement;
  private readonly count: Database.Statement;
  private readonly markDay: Database.Statement;
  private readonly storedDigest: Database.Statement;
  private readonly ingestTx: Database.Transaction<(b: SightingsBatch, ms: number) => IngestOutcome>;
  private readonly isSuppressed: Database.Statement;
  private readonly linksTx: Database.Transaction<(b: LinksBatch, ms: number) => IngestOutcome>;
  private profileKeyBytes: Uint8Array | null = null;
  /** The identity graph as stored, kept up to date by every write that adds or removes edges. */
  readonly graph: SqliteGraph;
  /** The reports' rollups per tenant-day (reports/). */
  readonly rollups: SqliteRollups;

  /** `graphRules`: the identity rules to keep the graph for (the config's); without, the database's stay. */
  constructor(readonly path: string, graphRules?: GraphRules) {
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('busy_timeout = 10000');
      // Reports read rows by key all over the file (a period's devices): pages through a memory map and a
      // 64 MiB cache instead of a read() per page and SQLite's 2 MiB default.
      this.db.pragma('mmap_size = 1073741824');
      this.db.pragma('cache_size = -65536');
      this.migrate();
    } catch (err) {
      throw new InputError(`cannot open the cloud database ${path}: ${(err as Error).message}`);
    }
    const db = this.db;
    this.insertBatch = db.prepare('INSERT OR IGNORE INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.storedDigest = db.prepare('SELECT digest FROM batches WHERE tenant = ? AND store = ? AND batch_id = ?').pluck();
    this.insertSighting = db.prepare(
      'INSERT INTO sightings (batch_id, tenant, store, agent, epoch, cid, source, address_class, first_ms, last_ms, frames, rssi_max, rssi_mean, beacon_type, beacon_cid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertEphemeral = db.prepare('INSERT INTO ephemeral VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.insertEstimate = db.prepare('INSERT INTO estimates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.isSuppressed = db.prepare('SELECT 1 FROM suppressed WHERE digest = ?');
    const anySuppressed = db.prepare('SELECT EXISTS (SELECT 1 FROM suppressed) AS n').pluck();
    this.bump = db.prepare('INSERT INTO counters VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1');
    const count = db.prepare('INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value');
    const storeDay = db.prepare('INSERT OR IGNORE INTO store_days VALUES (?, ?, ?)');
    const mark = db.prepare('INSERT OR IGNORE INTO report_marks VALUES (?, ?)');
    this.count = count;
    this.markDay = mark;
    this.ingestTx = db.transaction((b: SightingsBatch, ms: number): IngestOutcome => {
      const w = b.window;
      const digest = batchDigest(b);
      if (this.insertBatch.run(b.batchId, b.tenant, b.store, b.agent, b.seq, b.epoch, w.start, w.end, b.sightings.length, ms, digest).changes === 0) return this.known(b, digest);
      // The day's reports are computed again when next read (or by the background refresh).
      storeDay.run(b.tenant, b.store, b.epoch);
      mark.run(b.tenant, b.epoch);
      count.run('batches', 1);
      // Nobody erased yet (the usual case): no digest per sighting. Read inside the transaction, so an
      // erasure by another process is seen by the next batch.
      const check = anySuppressed.get() === 1;
      let kept = 0;
      for (const s of b.sightings) {
        if (check && this.isSuppressed.get(suppressionDigest(b.tenant, `cid:${b.epoch}:${s.cid}`))) continue;
        kept++;
        this.insertSighting.run(b.batchId, b.tenant, b.store, b.agent, b.epoch, s.cid, s.source, s.addressClass, s.first, s.last, s.frames, s.rssiMax, s.rssiMean, s.beacon?.type ?? null, s.beacon?.cid ?? null);
      }
      for (const e of b.ephemeral) this.insertEphemeral.run(b.batchId, b.tenant, b.store, b.epoch, w.start, e.source, e.addressClass, e.devices, e.frames);
      const est = b.estimate;
      if (est) this.insertEstimate.run(b.batchId, b.tenant, b.store, b.agent, b.epoch, w.start, w.end, est.method, est.wifi.present, est.wifi.arrivals, est.ble.present, est.ble.arrivals);
      if (kept) count.run('sightings', kept);
      return 'stored';
    });
    const insertEdge = db.prepare('INSERT INTO edges (tenant, a, b, ts, batch_id, store, marketing) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.linksTx = db.transaction((b: LinksBatch, ms: number): IngestOutcome => {
      const first = Math.min(...b.links.map((l) => l.ts));
      const last = Math.max(...b.links.map((l) => l.ts));
      const digest = batchDigest(b);
      if (this.insertBatch.run(b.batchId, b.tenant, b.store, b.agent, b.seq, b.epoch, first, last, 0, ms, digest).changes === 0) return this.known(b, digest);
      storeDay.run(b.tenant, b.store, b.epoch);
      // Its devices become ones the period reports follow: the day's rollup keeps their visits when computed again.
      mark.run(b.tenant, b.epoch);
      count.run('batches', 1);
      const check = anySuppressed.get() === 1;
      for (const l of b.links) {
        const nodes = linkNodes(b.epoch, l);
        if (check && nodes.some((n) => this.isSuppressed.get(suppressionDigest(b.tenant, n)))) continue;
        const [hub, ...rest] = nodes;
        for (const n of rest) insertEdge.run(b.tenant, hub, n, l.ts, b.batchId, b.store, l.consent?.marketing ? 1 : 0);
      }
      this.graph.batchStored(b.tenant, b.store, b.batchId);
      return 'stored';
    });
    // The key exists before any transaction that uses it: one made in a batch rolled back would be lost.
    this.profileKeySync();
    this.graph = new SqliteGraph(db, () => this.profileKeySync());
    this.rollups = new SqliteRollups(db);
    this.graph.open(graphRules);
  }

  /** A batch id already stored (inside the batch's transaction): a duplicate or a conflict, counted. */
  private known(b: { tenant: string; store: string; batchId: string }, digest: string): IngestOutcome {
    const outcome = knownBatchOutcome(this.storedDigest.get(b.tenant, b.store, b.batchId) as string | null, digest);
    this.bump.run(KNOWN_BATCH_COUNTER[outcome]);
    return outcome;
  }

  async ingestLinks(b: LinksBatch, receivedMs: number): Promise<IngestOutcome> {
    return this.linksTx.immediate(b, receivedMs);
  }

  async ingestGroup(items: readonly GroupItem[]): Promise<GroupOutcome[]> {
    // Inside the group's transaction each batch's own transaction is a savepoint (better-sqlite3): a
    // batch the database refuses is rolled back alone, the others stay.
    return this.db
      .transaction(() =>
        items.map((it): GroupOutcome => {
          try {
            return it.kind === 'sightings' ? this.ingestTx(it.batch, it.receivedMs) : this.linksTx(it.batch, it.receivedMs);
          } catch (err) {
            if (isMessageFault(err)) return { refused: faultCode(err) };
            throw err;
          }
        }),
      )
      .immediate();
  }

  async edges(tenant: string): Promise<(Edge & { marketing: boolean })[]> {
    const rows = this.db.prepare('SELECT a, b, ts, batch_id AS batchId, store, marketing FROM edges WHERE tenant = ?').all(tenant) as (Edge & { marketing: number })[];
    return rows.map((r) => ({ ...r, marketing: r.marketing === 1 }));
  }

  async revokeBatch(tenant: string, store: string, batchId: string): Promise<number> {
    const tx = this.db.transaction(() => {
      const gone = this.db.prepare('DELETE FROM edges WHERE tenant = ? AND store = ? AND batch_id = ? RETURNING a, b').all(tenant, store, batchId) as { a: string; b: string }[];
      this.graph.removed(tenant, gone.flatMap((e) => [e.a, e.b]));
      return gone.length;
    });
    return tx.immediate();
  }

  async erase(tenant: string, nodes: string[]): Promise<{ edges: number; sightings: number }> {
    const tx = this.db.transaction(() => {
      let edges = 0;
      let sightings = 0;
      const now = Date.now();
      const ends: string[] = [];
      for (const n of nodes) {
        // By either end's index: one statement with OR scanned every edge of the tenant for each node.
        const gone = [...this.db.prepare('DELETE FROM edges WHERE tenant = ? AND a = ? RETURNING a, b').all(tenant, n), ...this.db.prepare('DELETE FROM edges WHERE tenant = ? AND b = ? RETURNING a, b').all(tenant, n)] as { a: string; b: string }[];
        edges += gone.length;
        for (const e of gone) ends.push(e.a, e.b);
        if (n.startsWith('cid:')) {
          const gone = this.db.prepare('DELETE FROM sightings WHERE tenant = ? AND epoch = ? AND cid = ?').run(tenant, n.slice(4, 14), n.slice(15)).changes;
          sightings += gone;
          if (gone) this.markDay.run(tenant, n.slice(4, 14));
          // Its visits kept beside the day's rollup go with its sightings, now, not at the next refresh.
          this.db.prepare('UPDATE report_days SET linked = json_remove(linked, ?) WHERE tenant = ? AND epoch = ?').run(`$."${n.slice(15)}"`, tenant, n.slice(4, 14));
        }
        this.db.prepare('INSERT OR IGNORE INTO suppressed VALUES (?, ?)').run(suppressionDigest(tenant, n), now);
      }
      this.graph.removed(tenant, ends);
      if (sightings) this.count.run('sightings', -sightings);
      return { edges, sightings };
    });
    return tx.immediate();
  }

  async ingestSightings(batch: SightingsBatch, receivedMs: number): Promise<IngestOutcome> {
    return this.ingestTx.immediate(batch, receivedMs);
  }

  async deadLetter(topic: string, reason: string, payload: string, receivedMs: number): Promise<void> {
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO dead_letters (topic, reason, payload, bytes, received_ms) VALUES (?, ?, ?, ?, ?)').run(redact(topic), redact(reason), redactHead(payload, DEAD_LETTER_KEEP), Buffer.byteLength(payload), receivedMs);
      this.count.run('dead_letters', 1);
    })();
  }

  async upsertAgent(tenant: string, store: string, agent: string, state: string | null, status: Record<string, unknown>, receivedMs: number): Promise<void> {
    // Metrics carry no state: they refresh what is known without changing online/offline.
    this.db
      .prepare(
        `INSERT INTO agents VALUES (@tenant, @store, @agent, coalesce(@state, 'online'), @status, @ms)
         ON CONFLICT(tenant, store, agent) DO UPDATE SET state = coalesce(@state, agents.state),
           status = @status, last_seen_ms = max(agents.last_seen_ms, @ms)`,
      )
      .run({ tenant, store, agent, state, status: JSON.stringify(status), ms: receivedMs });
  }

  async stats(): Promise<CloudStats> {
    // Counters and small tables only: nothing here grows with the sightings.
    const one = (sql: string) => Number((this.db.prepare(sql).get() as { n: number }).n);
    const counter = (name: string) => one(`SELECT coalesce(max(value), 0) AS n FROM counters WHERE name = '${name}'`);
    return {
      batches: counter('batches'),
      sightings: counter('sightings'),
      duplicates: counter('duplicates'),
      conflicts: counter('conflicts'),
      deadLetters: counter('dead_letters'),
      consumerIds: await this.rollups.consumerIds(),
      stores: one('SELECT count(*) AS n FROM (SELECT DISTINCT tenant, store FROM store_days)'),
      agents: one('SELECT count(*) AS n FROM agents'),
    };
  }

  async agents(): Promise<AgentRow[]> {
    return (this.db.prepare('SELECT tenant, store, agent, state, status, last_seen_ms AS lastSeenMs FROM agents ORDER BY tenant, store, agent').all() as (Omit<AgentRow, 'status'> & { status: string })[]).map((r) => ({ ...r, status: JSON.parse(r.status) }));
  }

  async deadLetters(limit: number): Promise<DeadLetter[]> {
    return this.db.prepare('SELECT id, topic, reason, payload, bytes, received_ms AS receivedMs FROM dead_letters ORDER BY id DESC LIMIT ?').all(limit) as DeadLetter[];
  }

  async presentCids(sinceMs: number): Promise<{ tenant: string; store: string; epoch: string; cid: string }[]> {
    const sql = `SELECT DISTINCT s.tenant, s.store, s.epoch, s.cid FROM (SELECT DISTINCT tenant, store FROM batches) k
                 JOIN sightings s ON s.tenant = k.tenant AND s.store = k.store
                 WHERE s.epoch IN (?, ?, ?) AND s.first_ms >= ? AND s.last_ms >= ?`;
    return this.db.prepare(sql).all(...epochsAround(sinceMs), sinceMs - MAX_SIGHTING_MS, sinceMs) as { tenant: string; store: string; epoch: string; cid: string }[];
  }

  async optouts(tenant: string): Promise<string[]> {
    return (this.db.prepare('SELECT token FROM optout WHERE tenant = ? ORDER BY token').all(tenant) as { token: string }[]).map((r) => r.token);
  }

  async addOptouts(tenant: string, tokens: readonly string[], nowMs: number): Promise<number> {
    const ins = this.db.prepare('INSERT OR IGNORE INTO optout VALUES (?, ?, ?)');
    return this.db.transaction(() => tokens.reduce((n, t) => n + ins.run(tenant, t, nowMs).changes, 0))();
  }

  async removeOptouts(tenant: string, tokens: readonly string[]): Promise<number> {
    const del = this.db.prepare('DELETE FROM optout WHERE tenant = ? AND token = ?');
    return this.db.transaction(() => tokens.reduce((n, t) => n + del.run(tenant, t).changes, 0))();
  }

  async tenantDays(): Promise<{ tenant: string; store: string; epoch: string }[]> {
    return this.db.prepare('SELECT tenant, store, epoch FROM store_days ORDER BY tenant, epoch DESC, store').all() as { tenant: string; store: string; epoch: string }[];
  }

  async sightingsOfDay(tenant: string, epoch: string, store?: string): Promise<SightingRow[]> {
    const sql = `SELECT store, epoch, cid, first_ms AS first, last_ms AS last, frames, rssi_max AS rssiMax, source, address_class AS addressClass FROM sightings
                 WHERE tenant = ? AND epoch = ?${store ? ' AND store = ?' : ''}`;
    return this.db.prepare(sql).all(...(store ? [tenant, epoch, store] : [tenant, epoch])) as SightingRow[];
  }

  async estimatesOfDay(tenant: string, epoch: string, store?: string): Promise<EstimateRow[]> {
    const sql = `SELECT store, agent, epoch, window_start AS start, window_end AS "end", method, wifi_present AS wifiPresent, wifi_arrivals AS wifiArrivals,
                 ble_present AS blePresent, ble_arrivals AS bleArrivals FROM estimates WHERE tenant = ? AND epoch = ?${store ? ' AND store = ?' : ''} ORDER BY window_start`;
    return this.db.prepare(sql).all(...(store ? [tenant, epoch, store] : [tenant, epoch])) as EstimateRow[];
  }

  async sightingsOfCids(tenant: string, keys: readonly { epoch: string; cid: string }[]): Promise<SightingRow[]> {
    // One indexed lookup per device (sightings_by_cid), all in one read transaction: one snapshot.
    const one = this.db.prepare(`SELECT store, epoch, cid, first_ms AS first, last_ms AS last, frames, rssi_max AS rssiMax FROM sightings WHERE tenant = ? AND epoch = ? AND cid = ?`);
    const unique = [...new Map(keys.map((k) => [`${k.epoch}|${k.cid}`, k])).values()];
    return this.db.transaction(() => unique.flatMap((k) => one.all(tenant, k.epoch, k.cid) as SightingRow[]))();
  }

  async edgesVersion(tenant: string): Promise<string> {
    // The count is the graph's counter (every added or removed edge moves it, in its transaction), the
    // max the tenant index's last entry, the batch of the top edge one lookup: none reads every edge.
    const r = this.db
      .prepare(`SELECT coalesce((SELECT n FROM graph_counts WHERE tenant = @t AND key = 'edges'), 0) AS n, m, (SELECT store || '|' || batch_id FROM edges WHERE id = m) AS top
                FROM (SELECT max(id) AS m FROM edges WHERE tenant = @t)`)
      .get({ t: tenant }) as { n: number; m: number | null; top: string | null };
    return `${r.n}:${r.m ?? 0}:${r.top ?? ''}`;
  }

  async profileKey(): Promise<Uint8Array> {
    return this.profileKeySync();
  }

  private profileKeySync(): Uint8Array {
    // Whoever comes first makes it; every other process on the file reads that one. It never changes.
    if (!this.profileKeyBytes) {
      this.db.prepare("INSERT OR IGNORE INTO meta VALUES ('profile_key', ?)").run(newProfileKeyText());
      this.profileKeyBytes = profileKeyFromText(this.db.prepare("SELECT value FROM meta WHERE key = 'profile_key'").pluck().get() as string | undefined);
    }
    return this.profileKeyBytes;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private migrate(): void {
    // Read the version inside the write lock: several consumer processes may open a new file at once.
    this.db
      .transaction(() => {
        const version = this.db.pragma('user_version', { simple: true }) as number;
        if (version > MIGRATIONS.length) throw new Error(`schema ${version} is newer than this omniloop understands`);
        for (let v = version; v < MIGRATIONS.length; v++) this.db.exec(MIGRATIONS[v]!);
        if (version < MIGRATIONS.length) this.db.pragma(`user_version = ${MIGRATIONS.length}`);
      })
      .immediate();
  }

}
