/**
 * The report rollups in PostgreSQL (reports/rollup-store.ts). Consumers commit concurrently, so a claim
 * must not miss an ingest in flight: every transaction that marks a day holds a shared advisory lock
 * (REPORT_LOCK) until it commits, and a claim takes it exclusively to take the marks off. An ingest that
 * committed before the claim is in what the refresh reads after it; one that commits later marks again.
 */
import type pg from 'pg';
import { inTransaction } from './postgres-tx.js';
import type { DayMark, RollupStore, StoredRollup } from '../reports/rollup-store.js';
import { ROLLUP_VERSION, joinLinked, linkedVisits, type DeviceDay, type LinkedVisits, type RawTenantDay } from '../reports/tenant-day.js';

/** The advisory lock of the marks (the schema's is 742001, the graph tenants' 742002). */
export const REPORT_LOCK = 742003;

/**
 * Counters ingest bumps are spread over this many rows, so concurrent consumers do not queue on one
 * row lock until their commits; /v1/stats sums them.
 */
const COUNTER_SHARDS = 16;

export const postgresRollupsDdl = (s: string) => `
  CREATE TABLE IF NOT EXISTS ${s}.report_marks (tenant text NOT NULL, epoch text NOT NULL, PRIMARY KEY (tenant, epoch));
  CREATE TABLE IF NOT EXISTS ${s}.report_days (tenant text NOT NULL, epoch text NOT NULL, gen bigint NOT NULL, version int NOT NULL,
    computed_ms bigint NOT NULL, cids bigint NOT NULL, figures jsonb NOT NULL, linked jsonb NOT NULL DEFAULT '{}', PRIMARY KEY (tenant, epoch));
  CREATE TABLE IF NOT EXISTS ${s}.store_days (tenant text NOT NULL, store text NOT NULL, epoch text NOT NULL, PRIMARY KEY (tenant, store, epoch));
  CREATE SEQUENCE IF NOT EXISTS ${s}.report_gen;
  CREATE INDEX IF NOT EXISTS edges_by_tenant_id ON ${s}.edges (tenant, id);
  CREATE INDEX IF NOT EXISTS graph_nodes_cid_day ON ${s}.graph_nodes (tenant, (substr(node, 5, 10)), node, profile) WHERE profile IS NOT NULL AND substr(node, 1, 4) = 'cid:';`;

/** Schema 7's upgrade: an existing database's store-days, every day marked, its counters counted once. */
export const postgresRollupsUpgrade = (s: string) => `
  INSERT INTO ${s}.store_days SELECT DISTINCT tenant, store, epoch FROM ${s}.batches ON CONFLICT DO NOTHING;
  INSERT INTO ${s}.report_marks SELECT DISTINCT tenant, epoch FROM ${s}.batches ON CONFLICT DO NOTHING;
  DELETE FROM ${s}.counters WHERE name LIKE 'stored\\_%';
  INSERT INTO ${s}.counters SELECT 'stored_batches.0', count(*) FROM ${s}.batches;
  INSERT INTO ${s}.counters SELECT 'stored_sightings.0', count(*) FROM ${s}.sightings;
  INSERT INTO ${s}.counters SELECT 'stored_dead_letters.0', count(*) FROM ${s}.dead_letters;`;

/**
 * The statement that adds to counters: names and amounts as the text[] and bigint[] parameters `$names`
 * and `$counts`, each into the connection's shard of its counter (`stored_<name>.<n>`).
 */
export function bumpCountersSql(s: string, names: string, counts: string): string {
  return `INSERT INTO ${s}.counters SELECT 'stored_' || name || '.' || (pg_backend_pid() % ${COUNTER_SHARDS}), n FROM unnest(${names}::text[], ${counts}::bigint[]) AS u(name, n)
     ON CONFLICT (name) DO UPDATE SET value = ${s}.counters.value + EXCLUDED.value`;
}

/**
 * How an ingest or erasure transaction begins: with the marks' lock shared, before any row lock, so a
 * claim waiting for it never waits on a transaction that waits on another behind the claim.
 */
export const BEGIN_MARKING = `BEGIN; SELECT pg_advisory_xact_lock_shared(${REPORT_LOCK});`;

/**
 * Inside an ingest transaction begun with BEGIN_MARKING: the store-days its batches came for, the
 * tenant-days whose reports it changes (marked), and the counters it moves. One statement each.
 */
export async function noteIngest(c: pg.PoolClient, s: string, storeDays: readonly { tenant: string; store: string; epoch: string }[], changedDays: readonly DayMark[], counts: { batches: number; sightings: number }): Promise<void> {
  if (changedDays.length) {
    const days = unique(changedDays.map((d) => `${d.tenant}\u0001${d.epoch}`)).sort().map((k) => k.split('\u0001'));
    await c.query(`INSERT INTO ${s}.report_marks SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`, [days.map((d) => d[0]), days.map((d) => d[1])]);
  }
  if (storeDays.length) {
    const sd = unique(storeDays.map((d) => `${d.tenant}\u0001${d.store}\u0001${d.epoch}`)).sort().map((k) => k.split('\u0001'));
    await c.query(`INSERT INTO ${s}.store_days SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING`, [sd.map((d) => d[0]), sd.map((d) => d[1]), sd.map((d) => d[2])]);
  }
  await bumpCounters(c, s, { batches: counts.batches, sightings: counts.sightings });
}

/** Adds to the sharded counters (the connection's shard), in one statement. */
export async function bumpCounters(c: pg.PoolClient | pg.Pool, s: string, counts: Partial<Record<'batches' | 'sightings' | 'dead_letters', number>>): Promise<void> {
  const entries = Object.entries(counts).filter(([, n]) => n);
  if (!entries.length) return;
  await c.query(bumpCountersSql(s, '$1', '$2'), [entries.map(([k]) => k), entries.map(([, n]) => n)]);
}

/** Inside an erasure's transaction (begun with BEGIN_MARKING): the days whose sightings it deleted. */
export async function markDays(c: pg.PoolClient, s: string, days: readonly DayMark[]): Promise<void> {
  if (!days.length) return;
  await noteIngest(c, s, [], days, { batches: 0, sightings: 0 });
}

export class PostgresRollups implements RollupStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {}

  async dirty(limit: number): Promise<(DayMark & { computedMs: number | null })[]> {
    const r = await this.pool.query(
      `SELECT m.tenant, m.epoch, d.computed_ms FROM ${this.s}.report_marks m LEFT JOIN ${this.s}.report_days d USING (tenant, epoch)
       ORDER BY d.computed_ms NULLS FIRST LIMIT $1`,
      [limit],
    );
    return r.rows.map((x) => ({ tenant: x.tenant, epoch: x.epoch, computedMs: x.computed_ms === null ? null : Number(x.computed_ms) }));
  }

  async claim(days: readonly DayMark[]): Promise<number> {
    return inTransaction(this.pool, async (c) => {
      // Waits for the ingests holding it shared to commit; blocks new ones for the one statement after.
      await c.query('SELECT pg_advisory_xact_lock($1)', [REPORT_LOCK]);
      await c.query(`DELETE FROM ${this.s}.report_marks m USING unnest($1::text[], $2::text[]) AS u(tenant, epoch) WHERE m.tenant = u.tenant AND m.epoch = u.epoch`, [days.map((d) => d.tenant), days.map((d) => d.epoch)]);
      return Number((await c.query(`SELECT nextval('${this.s}.report_gen') AS g`)).rows[0].g);
    });
  }

  async mark(days: readonly DayMark[]): Promise<void> {
    await this.pool.query(`INSERT INTO ${this.s}.report_marks SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`, [days.map((d) => d.tenant), days.map((d) => d.epoch)]);
  }

  async save(tenant: string, gen: number, computedMs: number, day: RawTenantDay, devices: readonly DeviceDay[]): Promise<void> {
    // The visits of the day's devices that are in the graph (a link named them): what the period reports read.
    const nodes = (await this.pool.query(`SELECT node FROM ${this.s}.graph_nodes WHERE tenant = $1 AND node = ANY($2::text[])`, [tenant, devices.map((d) => `cid:${day.epoch}:${d.cid}`)])).rows;
    const inGraph = new Set(nodes.map((r) => (r.node as string).slice(15)));
    const linked = linkedVisits(devices, (cid) => inGraph.has(cid));
    await this.pool.query(
      `INSERT INTO ${this.s}.report_days VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (tenant, epoch) DO UPDATE SET gen = EXCLUDED.gen, version = EXCLUDED.version, computed_ms = EXCLUDED.computed_ms,
         cids = EXCLUDED.cids, figures = EXCLUDED.figures, linked = EXCLUDED.linked WHERE EXCLUDED.gen >= ${this.s}.report_days.gen`,
      [tenant, day.epoch, gen, ROLLUP_VERSION, computedMs, day.cids, JSON.stringify(day), JSON.stringify(linked)],
    );
  }

  async profiledDevices(tenant: string, epochs: readonly string[]): Promise<{ profile: string; epoch: string; device: DeviceDay }[]> {
    const days = [...new Set(epochs)];
    // The kept visits (as text: parsed here once), and graph_nodes_cid_day (covering) by the day: equality, so the collation cannot matter.
    const [kept, profiled] = await Promise.all([
      this.pool.query(`SELECT epoch, linked::text AS linked FROM ${this.s}.report_days WHERE tenant = $1 AND epoch = ANY($2::text[])`, [tenant, days]),
      this.pool.query({ text: `SELECT substr(node, 5, 10) AS epoch, substr(node, 16) AS cid, profile FROM ${this.s}.graph_nodes WHERE tenant = $1 AND (substr(node, 5, 10)) = ANY($2::text[]) AND profile IS NOT NULL AND substr(node, 1, 4) = 'cid:'`, values: [tenant, days], rowMode: 'array' }),
    ]);
    const byDay = new Map<string, [string, string][]>();
    for (const [epoch, cid, profile] of profiled.rows as [string, string, string][]) (byDay.get(epoch) ?? byDay.set(epoch, []).get(epoch)!).push([cid, profile]);
    return kept.rows.flatMap((r) => joinLinked(r.epoch, JSON.parse(r.linked) as LinkedVisits, byDay.get(r.epoch) ?? []));
  }

  async get(tenant: string, epoch: string): Promise<StoredRollup | null> {
    return (await this.getMany(tenant, [epoch])).get(epoch) ?? null;
  }

  async getMany(tenant: string, epochs: readonly string[]): Promise<Map<string, StoredRollup>> {
    const r = await this.pool.query(
      `SELECT epoch, gen, version, computed_ms, figures, EXISTS (SELECT 1 FROM ${this.s}.report_marks m WHERE m.tenant = d.tenant AND m.epoch = d.epoch) AS dirty
       FROM ${this.s}.report_days d WHERE tenant = $1 AND epoch = ANY($2::text[])`,
      [tenant, [...new Set(epochs)]],
    );
    return new Map(r.rows.map((x) => [x.epoch as string, { gen: Number(x.gen), version: x.version, computedMs: Number(x.computed_ms), dirty: x.dirty, day: x.figures as RawTenantDay }]));
  }

  async stamps(tenant: string, epochs: readonly string[]): Promise<Map<string, { gen: number; dirty: boolean; computedMs: number }>> {
    const r = await this.pool.query(
      `SELECT epoch, gen, computed_ms, EXISTS (SELECT 1 FROM ${this.s}.report_marks m WHERE m.tenant = d.tenant AND m.epoch = d.epoch) AS dirty
       FROM ${this.s}.report_days d WHERE tenant = $1 AND epoch = ANY($2::text[])`,
      [tenant, [...new Set(epochs)]],
    );
    return new Map(r.rows.map((x) => [x.epoch as string, { gen: Number(x.gen), computedMs: Number(x.computed_ms), dirty: x.dirty as boolean }]));
  }

  async daysWithData(tenant: string, epochs: readonly string[]): Promise<Set<string>> {
    const r = await this.pool.query(`SELECT DISTINCT epoch FROM ${this.s}.store_days WHERE tenant = $1 AND epoch = ANY($2::text[])`, [tenant, [...new Set(epochs)]]);
    return new Set(r.rows.map((x) => x.epoch as string));
  }

  async consumerIds(): Promise<number> {
    return Number((await this.pool.query(`SELECT coalesce(sum(cids), 0) AS n FROM ${this.s}.report_days`)).rows[0].n);
  }
}

const unique = <T>(xs: Iterable<T>) => [...new Set(xs)];
