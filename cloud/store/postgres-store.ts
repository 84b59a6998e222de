/**
 * The production cloud store: PostgreSQL through `pg`, in a schema of its own. Same tables and the
 * same idempotency as the SQLite store: the batch id is the primary key, and a batch's rows go in one
 * transaction, so any number of consumers and any redelivery give the same data.
 */
import pg from 'pg';
import { CheckError } from '../../shared/errors.js';
import { redact, redactHead } from '../../shared/wire/redact.js';
import type { SightingsBatch } from '../../shared/wire/sightings-schema.js';
import type { SightingRow } from '../analytics/visits.js';
import type { Edge, GraphRules } from '../identity/graph.js';
import { PostgresGraph, postgresGraphCountsUpgrade, postgresGraphDdl, postgresGraphUpgrade } from './postgres-graph.js';
import { linkNodes, type LinksBatch } from '../../shared/wire/links-schema.js';
import { DEAD_LETTER_KEEP, KNOWN_BATCH_COUNTER, MAX_SIGHTING_MS, batchDigest, epochsAround, knownBatchOutcome, newProfileKeyText, profileKeyFromText, suppressionDigest, type AgentRow, type CloudStats, type CloudStore, type DeadLetter, type EstimateRow, type GroupItem, type GroupOutcome, type IngestOutcome } from './cloud-store.js';
import { writeGroup } from './postgres-group.js';
import { checkin, checkout, inTransaction } from './postgres-tx.js';
import { DayPartitions, isMissingPartition, partitionExisting } from './postgres-partitions.js';
import { BEGIN_MARKING, PostgresRollups, bumpCounters, bumpCountersSql, markDays, noteIngest, postgresRollupsDdl, postgresRollupsUpgrade } from './postgres-rollups.js';

const SCHEMA_VERSION = 8;

/**
 * The raw tables, partitioned by store-day (postgres-partitions.ts): what agents send, by the day it is
 * for. The sightings' ids come from a sequence of their own, which outlives a table's conversion.
 */
const rawTablesDdl = (s: string) => `
  CREATE SEQUENCE IF NOT EXISTS ${s}.sightings_id_seq;
  CREATE TABLE IF NOT EXISTS ${s}.sightings (id bigint NOT NULL DEFAULT nextval('${s}.sightings_id_seq'), batch_id text NOT NULL, tenant text NOT NULL, store text NOT NULL,
    agent text NOT NULL, epoch text NOT NULL, cid text NOT NULL, source text NOT NULL, address_class text NOT NULL, first_ms bigint NOT NULL,
    last_ms bigint NOT NULL, frames int NOT NULL, rssi_max real, rssi_mean real, beacon_type text, beacon_cid text, PRIMARY KEY (epoch, id)) PARTITION BY RANGE (epoch);
  CREATE INDEX IF NOT EXISTS sightings_by_cid ON ${s}.sightings (tenant, epoch, cid);
  CREATE INDEX IF NOT EXISTS sightings_by_store ON ${s}.sightings (tenant, store, epoch, first_ms);
  CREATE TABLE IF NOT EXISTS ${s}.ephemeral (batch_id text NOT NULL, tenant text NOT NULL, store text NOT NULL, epoch text NOT NULL,
    window_start bigint NOT NULL, source text NOT NULL, address_class text NOT NULL, devices int NOT NULL, frames int NOT NULL) PARTITION BY RANGE (epoch);
  CREATE TABLE IF NOT EXISTS ${s}.estimates (batch_id text NOT NULL, tenant text NOT NULL, store text NOT NULL, agent text NOT NULL, epoch text NOT NULL,
    window_start bigint NOT NULL, window_end bigint NOT NULL, method text NOT NULL, wifi_present real NOT NULL, wifi_arrivals real NOT NULL,
    ble_present real NOT NULL, ble_arrivals real NOT NULL) PARTITION BY RANGE (epoch);
  CREATE INDEX IF NOT EXISTS estimates_by_day ON ${s}.estimates (tenant, epoch, store);`;

const ddl = (s: string) => `
  CREATE SCHEMA IF NOT EXISTS ${s};
  CREATE TABLE IF NOT EXISTS ${s}.meta (key text PRIMARY KEY, value text NOT NULL);
  CREATE TABLE IF NOT EXISTS ${s}.batches (batch_id text NOT NULL, tenant text NOT NULL, store text NOT NULL, agent text NOT NULL,
    seq bigint NOT NULL, epoch text NOT NULL, window_start bigint NOT NULL, window_end bigint NOT NULL, sightings int NOT NULL, received_ms bigint NOT NULL,
    digest text, PRIMARY KEY (tenant, store, batch_id));
  ${rawTablesDdl(s)}
  CREATE TABLE IF NOT EXISTS ${s}.dead_letters (id bigserial PRIMARY KEY, topic text NOT NULL, reason text NOT NULL, payload text NOT NULL,
    bytes int NOT NULL, received_ms bigint NOT NULL);
  CREATE TABLE IF NOT EXISTS ${s}.agents (tenant text NOT NULL, store text NOT NULL, agent text NOT NULL, state text NOT NULL,
    status jsonb NOT NULL, last_seen_ms bigint NOT NULL, PRIMARY KEY (tenant, store, agent));
  CREATE TABLE IF NOT EXISTS ${s}.counters (name text PRIMARY KEY, value bigint NOT NULL);
  CREATE TABLE IF NOT EXISTS ${s}.edges (id bigserial PRIMARY KEY, tenant text NOT NULL, a text NOT NULL, b text NOT NULL, ts bigint NOT NULL,
    batch_id text NOT NULL, store text NOT NULL, marketing boolean NOT NULL);
  CREATE INDEX IF NOT EXISTS edges_by_tenant ON ${s}.edges (tenant);
  CREATE TABLE IF NOT EXISTS ${s}.suppressed (digest text PRIMARY KEY, erased_ms bigint NOT NULL);
  CREATE TABLE IF NOT EXISTS ${s}.optout (tenant text NOT NULL, token text NOT NULL, added_ms bigint NOT NULL, PRIMARY KEY (tenant, token));
  ${postgresGraphDdl(s)}
  ${postgresRollupsDdl(s)}
  INSERT INTO ${s}.meta VALUES ('schema_version', '${SCHEMA_VERSION}') ON CONFLICT DO NOTHING;`;

export class PostgresCloudStore implements CloudStore {
  private profileKeyBytes: Promise<Uint8Array> | null = null;
  /** The identity graph as stored, kept up to date by every write that adds or removes edges. */
  readonly graph: PostgresGraph;
  readonly rollups: PostgresRollups;
  /** The raw tables' day partitions this process knows exist. */
  private readonly partitions: DayPartitions;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {
    this.graph = new PostgresGraph(pool, s, () => this.profileKey());
    this.rollups = new PostgresRollups(pool, s);
    this.partitions = new DayPartitions(pool, s);
  }

  /** Runs an ingest with its days' partitions there; a row that found none (dropped meanwhile) sends the process to the catalog again. */
  private async withPartitions<T>(epochs: Iterable<string>, work: () => Promise<T>): Promise<T> {
    await this.partitions.ensure(epochs);
    try {
      return await work();
    } catch (err) {
      if (isMissingPartition(err)) this.partitions.forget();
      throw err;
    }
  }

  /** `graphRules`: the identity rules to keep the graph for (the config's); without, the database's stay. */
  static async open(url: string, schema = 'omniloop', graphRules?: GraphRules): Promise<PostgresCloudStore> {
    // No JIT: its compile of a cheap statement the planner misjudges (a table that just grew) took longer than the statement.
    const pool = new pg.Pool({ connectionString: url, max: 4, options: '-c jit=off' });
    pool.on('error', () => {}); // an idle client's error surfaces on the next query
    try {
      const c = await pool.connect();
      try {
        // Several consumers may start at once: one creates the schema, the others wait for it.
        await c.query('SELECT pg_advisory_lock(742001)');
        await c.query(ddl(schema));
        const v = Number((await c.query(`SELECT value FROM ${schema}.meta WHERE key = 'schema_version'`)).rows[0]?.value);
        if (v > SCHEMA_VERSION) throw new Error(`schema ${v} is newer than this omniloop understands`);
        if (v < 2) {
          // Agent names repeat across stores: a batch is identified by its sender and its batch id.
          await c.query(`ALTER TABLE ${schema}.batches DROP CONSTRAINT batches_pkey, ADD PRIMARY KEY (tenant, store, batch_id);
                         UPDATE ${schema}.meta SET value = '2' WHERE key = 'schema_version'`);
        }
        // Version 3 added the estimates table, which the DDL above creates where it is missing.
        if (v < 3) await c.query(`UPDATE ${schema}.meta SET value = '3' WHERE key = 'schema_version'`);
        // Version 4: a digest of each batch's content, so a known id with other content is a conflict.
        if (v < 4) {
          await c.query(`ALTER TABLE ${schema}.batches ADD COLUMN IF NOT EXISTS digest text;
                         UPDATE ${schema}.meta SET value = '4' WHERE key = 'schema_version'`);
        }
        // Version 5: the identity graph in the database (the DDL creates its tables); existing edges are replayed into it.
        if (v < 5) await c.query(`${postgresGraphUpgrade(schema)} UPDATE ${schema}.meta SET value = '5' WHERE key = 'schema_version'`);
        // Version 6: the graph's counters (the DDL creates the table), counted once.
        if (v < 6) await c.query(`${postgresGraphCountsUpgrade(schema)} UPDATE ${schema}.meta SET value = '6' WHERE key = 'schema_version'`);
        // Version 7: the reports' rollups, marks, store-days and counters (the DDL creates the tables).
        if (v < 7) await c.query(`${postgresRollupsUpgrade(schema)} UPDATE ${schema}.meta SET value = '7' WHERE key = 'schema_version'`);
        // Version 8: the raw tables partitioned by store-day, rows moved into their days' partitions.
        if (v < 8) {
          await c.query('BEGIN');
          try {
            await partitionExisting(c, schema, rawTablesDdl(schema));
            await c.query(`UPDATE ${schema}.meta SET value = '8' WHERE key = 'schema_version'; COMMIT`);
          } catch (err) {
            await c.query('ROLLBACK').catch(() => {});
            throw err;
          }
        }
      } finally {
        await c.query('SELECT pg_advisory_unlock(742001)').catch(() => {});
        c.release();
      }
    } catch (err) {
      await pool.end().catch(() => {});
      throw new CheckError(`cannot use PostgreSQL at ${url.replace(/\/\/[^@/]*@/, '//***@')}: ${(err as Error).message}`);
    }
    const store = new PostgresCloudStore(pool, schema);
    try {
      await store.graph.open(graphRules);
    } catch (err) {
      await pool.end().catch(() => {});
      throw new CheckError(`cannot keep the identity graph in PostgreSQL at ${url.replace(/\/\/[^@/]*@/, '//***@')}: ${(err as Error).message}`);
    }
    return store;
  }

  async ingestSightings(b: SightingsBatch, receivedMs: number): Promise<IngestOutcome> {
    return this.withPartitions([b.epoch], () => this.storeSightings(b, receivedMs));
  }

  private async storeSightings(b: SightingsBatch, receivedMs: number): Promise<IngestOutcome> {
    const s = this.s;
    const w = b.window;
    return this.batchTx([b.batchId, b.tenant, b.store, b.agent, b.seq, b.epoch, w.start, w.end, b.sightings.length, receivedMs, batchDigest(b)], async (c) => {
      const sup = await c.query(`SELECT digest FROM ${s}.suppressed WHERE digest = ANY($1)`, [b.sightings.map((x) => suppressionDigest(b.tenant, `cid:${b.epoch}:${x.cid}`))]);
      const erased = new Set(sup.rows.map((r) => r.digest as string));
      const keep = erased.size ? b.sightings.filter((x) => !erased.has(suppressionDigest(b.tenant, `cid:${b.epoch}:${x.cid}`))) : b.sightings;
      if (keep.length) {
        // One statement for the whole batch: unnest() of column arrays.
        const col = <T>(f: (x: SightingsBatch['sightings'][number]) => T) => keep.map(f);
        await c.query(
          `INSERT INTO ${s}.sightings (batch_id, tenant, store, agent, epoch, cid, source, address_class, first_ms, last_ms, frames, rssi_max, rssi_mean, beacon_type, beacon_cid)
           SELECT $1, $2, $3, $4, $5, * FROM unnest($6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::int[], $12::real[], $13::real[], $14::text[], $15::text[])`,
          [b.batchId, b.tenant, b.store, b.agent, b.epoch, col((x) => x.cid), col((x) => x.source), col((x) => x.addressClass), col((x) => x.first), col((x) => x.last), col((x) => x.frames), col((x) => x.rssiMax), col((x) => x.rssiMean), col((x) => x.beacon?.type ?? null), col((x) => x.beacon?.cid ?? null)],
        );
      }
      for (const e of b.ephemeral) {
        await c.query(`INSERT INTO ${s}.ephemeral VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`, [b.batchId, b.tenant, b.store, b.epoch, w.start, e.source, e.addressClass, e.devices, e.frames]);
      }
      const est = b.estimate;
      if (est) {
        await c.query(`INSERT INTO ${s}.estimates VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`, [b.batchId, b.tenant, b.store, b.agent, b.epoch, w.start, w.end, est.method, est.wifi.present, est.wifi.arrivals, est.ble.present, est.ble.arrivals]);
      }
      await noteIngest(c, s, [b], [b], { batches: 1, sightings: keep.length });
    });
  }

  /**
   * One batch in one transaction: claims its id in `batches` (a known id changes nothing: a duplicate,
   * or a conflict when its digest differs), then lets `work` write its rows.
   */
  private async batchTx(batchRow: unknown[], work: (c: pg.PoolClient) => Promise<void>): Promise<IngestOutcome> {
    const c = await this.checkout();
    const s = this.s;
    try {
      await c.query(BEGIN_MARKING);
      const ins = await c.query(`INSERT INTO ${s}.batches VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT DO NOTHING`, batchRow);
      if (ins.rowCount === 0) {
        const outcome = await this.known(c, batchRow);
        await c.query('COMMIT');
        return outcome;
      }
      await work(c);
      await c.query('COMMIT');
      return 'stored';
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      // Two consumers racing on one batch id: the loser sees a unique violation; the winner's row decides.
      if ((err as { code?: string }).code === '23505') return await this.known(c, batchRow);
      throw err;
    } finally {
      checkin(c);
    }
  }

  /** A batch id already stored (row as batchTx takes it): a duplicate or a conflict, counted. */
  private async known(c: pg.PoolClient, [batchId, tenant, store, , , , , , , , digest]: unknown[]): Promise<IngestOutcome> {
    const s = this.s;
    const r = await c.query(`SELECT digest FROM ${s}.batches WHERE tenant = $1 AND store = $2 AND batch_id = $3`, [tenant, store, batchId]);
    const outcome = knownBatchOutcome((r.rows[0]?.digest as string | null | undefined) ?? null, digest as string);
    await c.query(`INSERT INTO ${s}.counters VALUES ($1, 1) ON CONFLICT (name) DO UPDATE SET value = ${s}.counters.value + 1`, [KNOWN_BATCH_COUNTER[outcome]]);
    return outcome;
  }

  private checkout(): Promise<pg.PoolClient> {
    return checkout(this.pool);
  }

  async ingestGroup(items: readonly GroupItem[]): Promise<GroupOutcome[]> {
    if (!items.length) return [];
    return this.withPartitions(
      items.filter((it) => it.kind === 'sightings').map((it) => it.batch.epoch),
      () => this.storeGroup(items),
    );
  }

  private storeGroup(items: readonly GroupItem[]): Promise<GroupOutcome[]> {
    return inTransaction(
      this.pool,
      async (c) => {
        const out = await writeGroup(c, this.s, items);
        await this.graph.batchesStored(c, items.filter((it, i) => it.kind === 'links' && out[i] === 'stored').map((it) => it.batch));
        return out;
      },
      BEGIN_MARKING,
    );
  }

  async ingestLinks(b: LinksBatch, receivedMs: number): Promise<IngestOutcome> {
    const s = this.s;
    const first = Math.min(...b.links.map((l) => l.ts));
    const last = Math.max(...b.links.map((l) => l.ts));
    return this.batchTx([b.batchId, b.tenant, b.store, b.agent, b.seq, b.epoch, first, last, 0, receivedMs, batchDigest(b)], async (c) => {
      // Suppressed identifiers (erased people) for the whole batch in one query, then every edge in one insert.
      const perLink = b.links.map((l) => ({ l, nodes: linkNodes(b.epoch, l) }));
      const digests = perLink.flatMap((x) => x.nodes.map((n) => suppressionDigest(b.tenant, n)));
      const sup = await c.query(`SELECT digest FROM ${s}.suppressed WHERE digest = ANY($1)`, [digests]);
      const erased = new Set(sup.rows.map((r) => r.digest as string));
      const as: string[] = [];
      const bs: string[] = [];
      const tss: number[] = [];
      const consent: boolean[] = [];
      for (const { l, nodes } of perLink) {
        if (erased.size && nodes.some((n) => erased.has(suppressionDigest(b.tenant, n)))) continue;
        const [hub, ...rest] = nodes;
        for (const n of rest) {
          as.push(hub!);
          bs.push(n);
          tss.push(l.ts);
          consent.push(l.consent?.marketing ?? false); // no decision: it names no person, so consent never reads it
        }
      }
      if (as.length) {
        await c.query(
          `INSERT INTO ${s}.edges (tenant, a, b, ts, batch_id, store, marketing) SELECT $1, a, b, ts, $2, $3, m FROM unnest($4::text[], $5::text[], $6::bigint[], $7::boolean[]) AS u(a, b, ts, m)`,
          [b.tenant, b.batchId, b.store, as, bs, tss, consent],
        );
      }
      // Its devices become ones the period reports follow: the day's rollup keeps their visits when computed again.
      await noteIngest(c, s, [b], [b], { batches: 1, sightings: 0 });
      await this.graph.batchesStored(c, [b]);
    });
  }

  async edges(tenant: string): Promise<(Edge & { marketing: boolean })[]> {
    const r = await this.pool.query(`SELECT a, b, ts, batch_id, store, marketing FROM ${this.s}.edges WHERE tenant = $1`, [tenant]);
    return r.rows.map((x) => ({ a: x.a, b: x.b, ts: Number(x.ts), batchId: x.batch_id, store: x.store, marketing: x.marketing }));
  }

  revokeBatch(tenant: string, store: string, batchId: string): Promise<number> {
    return inTransaction(this.pool, async (c) => {
      const gone = (await c.query(`DELETE FROM ${this.s}.edges WHERE tenant = $1 AND store = $2 AND batch_id = $3 RETURNING a, b`, [tenant, store, batchId])).rows as { a: string; b: string }[];
      await this.graph.removed(c, tenant, gone.flatMap((e) => [e.a, e.b]));
      return gone.length;
    });
  }

  erase(tenant: string, nodes: string[]): Promise<{ edges: number; sightings: number }> {
    const s = this.s;
    return inTransaction(
      this.pool,
      async (c) => {
        let edges = 0;
        let sightings = 0;
        const ends: string[] = [];
        const days: { tenant: string; epoch: string }[] = [];
        for (const n of nodes) {
          const gone = (await c.query(`DELETE FROM ${s}.edges WHERE tenant = $1 AND (a = $2 OR b = $2) RETURNING a, b`, [tenant, n])).rows as { a: string; b: string }[];
          edges += gone.length;
          for (const e of gone) ends.push(e.a, e.b);
          if (n.startsWith('cid:')) {
            const gone = (await c.query(`DELETE FROM ${s}.sightings WHERE tenant = $1 AND epoch = $2 AND cid = $3`, [tenant, n.slice(4, 14), n.slice(15)])).rowCount ?? 0;
            sightings += gone;
            if (gone) days.push({ tenant, epoch: n.slice(4, 14) });
            // Its visits kept beside the day's rollup go with its sightings, now, not at the next refresh.
            await c.query(`UPDATE ${s}.report_days SET linked = linked - $3 WHERE tenant = $1 AND epoch = $2`, [tenant, n.slice(4, 14), n.slice(15)]);
          }
          await c.query(`INSERT INTO ${s}.suppressed VALUES ($1, $2) ON CONFLICT DO NOTHING`, [suppressionDigest(tenant, n), Date.now()]);
        }
        await this.graph.removed(c, tenant, ends);
        await markDays(c, s, days);
        await bumpCounters(c, s, { sightings: -sightings });
        return { edges, sightings };
      },
      BEGIN_MARKING,
    );
  }

  async deadLetter(topic: string, reason: string, payload: string, receivedMs: number): Promise<void> {
    // One statement: the letter and its count together.
    await this.pool.query(
      `WITH l AS (INSERT INTO ${this.s}.dead_letters (topic, reason, payload, bytes, received_ms) VALUES ($1,$2,$3,$4,$5))
       ${bumpCountersSql(this.s, '$6', '$7')}`,
      [redact(topic), redact(reason), redactHead(payload, DEAD_LETTER_KEEP), Buffer.byteLength(payload), receivedMs, ['dead_letters'], [1]],
    );
  }

  async upsertAgent(tenant: string, store: string, agent: string, state: string | null, status: Record<string, unknown>, receivedMs: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.s}.agents VALUES ($1, $2, $3, coalesce($4, 'online'), $5, $6)
       ON CONFLICT (tenant, store, agent) DO UPDATE SET state = coalesce($4, ${this.s}.agents.state), status = $5,
         last_seen_ms = greatest(${this.s}.agents.last_seen_ms, $6)`,
      [tenant, store, agent, state, JSON.stringify(status), receivedMs],
    );
  }

  async stats(): Promise<CloudStats> {
    // Counters and small tables only: nothing here grows with the sightings.
    const s = this.s;
    const r = await this.pool.query(`SELECT
      (SELECT coalesce(sum(value), 0) FROM ${s}.counters WHERE name LIKE 'stored\\_batches.%') AS batches,
      (SELECT coalesce(sum(value), 0) FROM ${s}.counters WHERE name LIKE 'stored\\_sightings.%') AS sightings,
      (SELECT coalesce(max(value), 0) FROM ${s}.counters WHERE name = 'duplicates') AS duplicates,
      (SELECT coalesce(max(value), 0) FROM ${s}.counters WHERE name = 'conflicts') AS conflicts,
      (SELECT coalesce(sum(value), 0) FROM ${s}.counters WHERE name LIKE 'stored\\_dead\\_letters.%') AS dead_letters,
      (SELECT count(*) FROM (SELECT DISTINCT tenant, store FROM ${s}.store_days) t) AS stores,
      (SELECT count(*) FROM ${s}.agents) AS agents`);
    const x = r.rows[0];
    return { batches: +x.batches, sightings: +x.sightings, duplicates: +x.duplicates, conflicts: +x.conflicts, deadLetters: +x.dead_letters, consumerIds: await this.rollups.consumerIds(), stores: +x.stores, agents: +x.agents };
  }

  async agents(): Promise<AgentRow[]> {
    const r = await this.pool.query(`SELECT tenant, store, agent, state, status, last_seen_ms FROM ${this.s}.agents ORDER BY tenant, store, agent`);
    return r.rows.map((x) => ({ tenant: x.tenant, store: x.store, agent: x.agent, state: x.state, status: x.status, lastSeenMs: Number(x.last_seen_ms) }));
  }

  async deadLetters(limit: number): Promise<DeadLetter[]> {
    const r = await this.pool.query(`SELECT id, topic, reason, payload, bytes, received_ms FROM ${this.s}.dead_letters ORDER BY id DESC LIMIT $1`, [limit]);
    return r.rows.map((x) => ({ id: Number(x.id), topic: x.topic, reason: x.reason, payload: x.payload, bytes: x.bytes, receivedMs: Number(x.received_ms) }));
  }

  async presentCids(sinceMs: number): Promise<{ tenant: string; store: string; epoch: string; cid: string }[]> {
    const r = await this.pool.query(
      `SELECT DISTINCT s.tenant, s.store, s.epoch, s.cid FROM (SELECT DISTINCT tenant, store FROM ${this.s}.batches) k
       JOIN ${this.s}.sightings s ON s.tenant = k.tenant AND s.store = k.store
       WHERE s.epoch = ANY($1) AND s.first_ms >= $2 AND s.last_ms >= $3`,
      [epochsAround(sinceMs), sinceMs - MAX_SIGHTING_MS, sinceMs],
    );
    return r.rows;
  }

  async optouts(tenant: string): Promise<string[]> {
    return (await this.pool.query(`SELECT token FROM ${this.s}.optout WHERE tenant = $1 ORDER BY token`, [tenant])).rows.map((r) => r.token as string);
  }

  async addOptouts(tenant: string, tokens: readonly string[], nowMs: number): Promise<number> {
    const r = await this.pool.query(`INSERT INTO ${this.s}.optout SELECT $1, t, $3 FROM unnest($2::text[]) AS t ON CONFLICT DO NOTHING`, [tenant, [...new Set(tokens)], nowMs]);
    return r.rowCount ?? 0;
  }

  async removeOptouts(tenant: string, tokens: readonly string[]): Promise<number> {
    return (await this.pool.query(`DELETE FROM ${this.s}.optout WHERE tenant = $1 AND token = ANY($2)`, [tenant, [...tokens]])).rowCount ?? 0;
  }

  async tenantDays(): Promise<{ tenant: string; store: string; epoch: string }[]> {
    return (await this.pool.query(`SELECT tenant, store, epoch FROM ${this.s}.store_days ORDER BY tenant, epoch DESC, store`)).rows;
  }

  async sightingsOfDay(tenant: string, epoch: string, store?: string): Promise<SightingRow[]> {
    const r = await this.pool.query(
      `SELECT store, epoch, cid, first_ms, last_ms, frames, rssi_max, source, address_class FROM ${this.s}.sightings WHERE tenant = $1 AND epoch = $2${store ? ' AND store = $3' : ''}`,
      store ? [tenant, epoch, store] : [tenant, epoch],
    );
    return r.rows.map((x) => ({ store: x.store, epoch: x.epoch, cid: x.cid, first: Number(x.first_ms), last: Number(x.last_ms), frames: x.frames, rssiMax: x.rssi_max, source: x.source, addressClass: x.address_class }));
  }

  async estimatesOfDay(tenant: string, epoch: string, store?: string): Promise<EstimateRow[]> {
    const r = await this.pool.query(
      `SELECT store, agent, epoch, window_start, window_end, method, wifi_present, wifi_arrivals, ble_present, ble_arrivals FROM ${this.s}.estimates
       WHERE tenant = $1 AND epoch = $2${store ? ' AND store = $3' : ''} ORDER BY window_start`,
      store ? [tenant, epoch, store] : [tenant, epoch],
    );
    return r.rows.map((x) => ({ store: x.store, agent: x.agent, epoch: x.epoch, start: Number(x.window_start), end: Number(x.window_end), method: x.method, wifiPresent: x.wifi_present, wifiArrivals: x.wifi_arrivals, blePresent: x.ble_present, bleArrivals: x.ble_arrivals }));
  }

  async sightingsOfCids(tenant: string, keys: readonly { epoch: string; cid: string }[]): Promise<SightingRow[]> {
    const unique = [...new Map(keys.map((k) => [`${k.epoch}|${k.cid}`, k])).values()];
    if (!unique.length) return [];
    // One statement: the keys as two arrays joined against the (tenant, epoch, cid) index.
    const r = await this.pool.query(
      `SELECT s.store, s.epoch, s.cid, s.first_ms, s.last_ms, s.frames, s.rssi_max FROM ${this.s}.sightings s
       JOIN unnest($2::text[], $3::text[]) AS k(epoch, cid) ON s.epoch = k.epoch AND s.cid = k.cid WHERE s.tenant = $1`,
      [tenant, unique.map((k) => k.epoch), unique.map((k) => k.cid)],
    );
    return r.rows.map((x) => ({ store: x.store, epoch: x.epoch, cid: x.cid, first: Number(x.first_ms), last: Number(x.last_ms), frames: x.frames, rssiMax: x.rssi_max }));
  }

  async edgesVersion(tenant: string): Promise<string> {
    const s = this.s;
    // The count is the graph's counter (every added or removed edge moves it, in its transaction), the max
    // the last entry of edges_by_tenant_id: none reads every edge.
    const r = await this.pool.query(
      `SELECT coalesce((SELECT n FROM ${s}.graph_counts WHERE tenant = $1 AND key = 'edges'), 0) AS n, m, (SELECT store || '|' || batch_id FROM ${s}.edges WHERE id = t.m) AS top
       FROM (SELECT max(id) AS m FROM ${s}.edges WHERE tenant = $1) t`,
      [tenant],
    );
    const x = r.rows[0];
    return `${x.n}:${x.m ?? 0}:${x.top ?? ''}`;
  }

  async profileKey(): Promise<Uint8Array> {
    // Whoever comes first makes it (ON CONFLICT waits for a racing insert); everyone reads that one. It never changes.
    if (!this.profileKeyBytes) {
      const read = (async () => {
        await this.pool.query(`INSERT INTO ${this.s}.meta VALUES ('profile_key', $1) ON CONFLICT DO NOTHING`, [newProfileKeyText()]);
        return profileKeyFromText((await this.pool.query(`SELECT value FROM ${this.s}.meta WHERE key = 'profile_key'`)).rows[0]?.value);
      })();
      this.profileKeyBytes = read;
      read.catch(() => {
        if (this.profileKeyBytes === read) this.profileKeyBytes = null; // a failed read is tried again next time
      });
    }
    return this.profileKeyBytes;
  }

  /** Tests: drop the schema (a fresh database for the next run). */
  async dropSchema(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS ${this.s} CASCADE`);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
