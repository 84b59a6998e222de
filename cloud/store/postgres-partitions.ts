/**
 * PostgreSQL: the raw tables — sightings, the agents' window estimates, ephemeral counts — partitioned by
 * store-day (the batch's key epoch), one partition per day for all tenants and stores, so a report of a
 * day reads that day's partition and retention drops whole days instead of deleting rows. A partition is
 * created before the first batch of its day is stored (and the next day's with it, so midnight does not
 * wait on DDL), outside the ingest transaction, under an advisory lock among HQ's processes.
 */
import type pg from 'pg';

export const PARTITIONED_TABLES = ['sightings', 'estimates', 'ephemeral'] as const;

/** The advisory lock of partition DDL (schema 742001, graph tenants 742002, report marks 742003). */
const PARTITION_LOCK = 742004;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export const partitionOf = (table: string, epoch: string) => `${table}_d${epoch.replace(/-/g, '')}`;

export function nextDay(epoch: string): string {
  return new Date(Date.parse(`${epoch}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/** The statements that create one day's partitions (idempotent). Epochs are validated: never SQL from a message. */
export function partitionDdl(s: string, epoch: string): string {
  if (!DAY.test(epoch)) throw new Error(`not a store-day: ${JSON.stringify(epoch)}`);
  return PARTITIONED_TABLES.map((t) => `CREATE TABLE IF NOT EXISTS ${s}.${partitionOf(t, epoch)} PARTITION OF ${s}.${t} FOR VALUES FROM ('${epoch}') TO ('${nextDay(epoch)}');`).join('\n');
}

/** Whether a database error is a row without its day's partition (the process's cache was wrong). */
export function isMissingPartition(err: unknown): boolean {
  return (err as { code?: string }).code === '23514' && /no partition of relation/.test((err as Error).message ?? '');
}

export class DayPartitions {
  private readonly known = new Set<string>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {}

  /** Makes sure the days' partitions (and the following days') exist. Cheap once they do: a set look-up. */
  async ensure(epochs: Iterable<string>): Promise<void> {
    const want = [...new Set([...epochs].flatMap((e) => [e, nextDay(e)]))].filter((e) => !this.known.has(e));
    if (!want.length) return;
    const c = await this.pool.connect();
    try {
      const there = new Set(
        (
          await c.query(
            `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
             JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = $1 AND p.relname = 'sightings'`,
            [this.s],
          )
        ).rows.map((r) => r.relname as string),
      );
      const missing = want.filter((e) => !there.has(partitionOf('sightings', e)));
      if (missing.length) {
        // One creator at a time: IF NOT EXISTS alone races between two processes.
        await c.query(`BEGIN; SELECT pg_advisory_xact_lock(${PARTITION_LOCK}); ${missing.map((e) => partitionDdl(this.s, e)).join('\n')} COMMIT;`);
      }
      for (const e of want) this.known.add(e);
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }

  /** After a row found no partition (dropped meanwhile): ask the catalog again next time. */
  forget(): void {
    this.known.clear();
  }
}

/**
 * Schema 8's upgrade: each raw table of an existing database becomes partitioned by day, its rows moved
 * into their days' partitions (one pass; HQ is stopped for it, as for every schema upgrade).
 */
export async function partitionExisting(c: pg.PoolClient, s: string, createParents: string): Promise<void> {
  const kinds = new Map((await c.query(`SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY($2)`, [s, [...PARTITIONED_TABLES]])).rows.map((r) => [r.relname as string, r.relkind as string]));
  const plain = PARTITIONED_TABLES.filter((t) => kinds.get(t) === 'r');
  if (!plain.length) return;
  for (const t of plain) {
    await c.query(`ALTER TABLE ${s}.${t} RENAME TO ${t}_unpartitioned`);
    // Index names are per schema: the new ones are made under the old names.
    for (const r of (await c.query(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 AND indexname NOT LIKE '%_pkey'`, [s, `${t}_unpartitioned`])).rows) {
      await c.query(`ALTER INDEX ${s}.${r.indexname} RENAME TO ${r.indexname}_unpartitioned`);
    }
  }
  // The sightings' id sequence outlives its old table.
  if (plain.includes('sightings')) await c.query(`ALTER SEQUENCE IF EXISTS ${s}.sightings_id_seq OWNED BY NONE`);
  await c.query(createParents);
  for (const t of plain) {
    const days = (await c.query(`SELECT DISTINCT epoch FROM ${s}.${t}_unpartitioned`)).rows.map((r) => r.epoch as string);
    for (const e of days) await c.query(partitionDdl(s, e));
    await c.query(`INSERT INTO ${s}.${t} SELECT * FROM ${s}.${t}_unpartitioned; DROP TABLE ${s}.${t}_unpartitioned`);
  }
  if (plain.includes('sightings')) await c.query(`ALTER SEQUENCE IF EXISTS ${s}.sightings_id_seq OWNED BY ${s}.sightings.id`);
}
