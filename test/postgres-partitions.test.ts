/**
 * PostgreSQL's raw tables partitioned by store-day (issue 15): rows land in their day's partition, made
 * before the first batch of the day by whichever HQ process comes first; an existing database's tables
 * are converted with their rows; a partition dropped under a running HQ is made again, and the batch
 * that met its absence is retried, never dead-lettered.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresCloudStore } from '../cloud/store/postgres-store.js';
import { isMessageFault } from '../cloud/store/db-faults.js';
import { dayFigures } from '../cloud/analytics/day-figures.js';
import { validateSightingsMessage, type SightingsBatch } from '../shared/wire/sightings-schema.js';
import { PG } from './helpers/backends.js';

const schemas: string[] = [];
const schemaOf = (name: string) => {
  const s = `t_parts_${name}_${process.pid}`;
  schemas.push(s);
  return s;
};
afterAll(async () => {
  const c = new pg.Client(PG);
  await c.connect();
  for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await c.end();
});

const DAYS = ['2026-11-20', '2026-11-21', '2026-11-22'];

function batch(epoch: string, seq: number, cids: number): SightingsBatch {
  const start = Date.parse(`${epoch}T10:00:00Z`) + seq * 60_000;
  const msg = {
    schema: 'omniloop.sightings/1', tenant: 'acme', store: 'berlin-1', agent: 'ap-1', batchId: `ap-1:p:${epoch.replace(/-/g, '')}${seq}`, seq: Number(`${epoch.replace(/-/g, '')}${seq}`), epoch,
    window: { start, end: start + 60_000, seconds: 60 },
    sightings: Array.from({ length: cids }, (_, i) => ({ cid: (i + 1).toString(16).padStart(32, '0'), source: 'wifi', addressClass: 'global', first: start + i, last: start + 30_000, frames: 3, rssiMax: -50, rssiMean: -55, channels: [1] })),
    ephemeral: [{ source: 'wifi', addressClass: 'randomized', devices: 4, frames: 9 }],
    estimate: { method: 'ephemeral-v2', wifi: { present: 3, arrivals: 2 }, ble: { present: 1, arrivals: 1 } },
  };
  const v = validateSightingsMessage('omniloop/v1/acme/berlin-1/ap-1/sightings', Buffer.from(JSON.stringify(msg)));
  if (!v.ok) throw new Error(v.reason);
  return v.value;
}

async function q(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client(PG);
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

/** Rows per partition of a raw table: { partition name: rows }. */
async function perPartition(s: string, table: string): Promise<Record<string, number>> {
  const r = await q(`SELECT tableoid::regclass::text AS p, count(*)::int AS n FROM ${s}.${table} GROUP BY 1 ORDER BY 1`);
  return Object.fromEntries(r.rows.map((x) => [x.p.replace(`${s}.`, ''), x.n]));
}

describe('PostgreSQL raw tables by store-day', () => {
  it('stores each day in its own partition, made by whichever of two HQ processes comes first, and the next day with it', async () => {
    const s = schemaOf('fresh');
    const [a, b] = await Promise.all([PostgresCloudStore.open(PG, s), PostgresCloudStore.open(PG, s)]);
    // Both processes meet the same new days at once.
    const outcomes = await Promise.all(DAYS.flatMap((d, i) => [a.ingestSightings(batch(d, 1, 5 + i), 1), b.ingestGroup([{ kind: 'sightings', batch: batch(d, 2, 5), receivedMs: 1 }])]));
    expect(outcomes.flat()).toEqual(Array(6).fill('stored'));
    expect(await perPartition(s, 'sightings')).toEqual({ sightings_d20261120: 10, sightings_d20261121: 11, sightings_d20261122: 12 });
    expect(await perPartition(s, 'estimates')).toEqual({ estimates_d20261120: 2, estimates_d20261121: 2, estimates_d20261122: 2 });
    expect(await perPartition(s, 'ephemeral')).toEqual({ ephemeral_d20261120: 2, ephemeral_d20261121: 2, ephemeral_d20261122: 2 });
    const parts = (await q(`SELECT count(*)::int AS n FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = $1 AND p.relname = 'sightings'`, [s])).rows[0].n;
    expect(parts).toBe(4); // the three days and the day after the last
    // A day's report reads its partition only.
    const plan = (await q(`EXPLAIN SELECT * FROM ${s}.sightings WHERE tenant = 'acme' AND epoch = '2026-11-21'`)).rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/sightings_d20261121/);
    expect(plan).not.toMatch(/sightings_d20261120|sightings_d20261122/);
    expect((await dayFigures(a, 'acme', '2026-11-21', 1))[0]!.people.known).toBe(6);
    await a.close();
    await b.close();
  });

  it('makes a partition dropped under a running HQ again: the batch that met its absence is retried, not a dead letter', async () => {
    const s = schemaOf('dropped');
    const store = await PostgresCloudStore.open(PG, s);
    expect(await store.ingestSightings(batch(DAYS[0]!, 1, 3), 1)).toBe('stored');
    await q(`DROP TABLE ${s}.sightings_d20261120`);
    const err = await store.ingestSightings(batch(DAYS[0]!, 2, 3), 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(isMessageFault(err)).toBe(false); // the consumer does not acknowledge it: it comes again
    expect(await store.ingestSightings(batch(DAYS[0]!, 2, 3), 1)).toBe('stored');
    expect(await perPartition(s, 'sightings')).toEqual({ sightings_d20261120: 3 });
    await store.close();
  });

  it('converts the raw tables of a database from before (schema 7) with their rows; ids go on from where they were', async () => {
    const s = schemaOf('upgrade');
    const first = await PostgresCloudStore.open(PG, s);
    for (const [i, d] of DAYS.entries()) expect(await first.ingestSightings(batch(d, 1, 4 + i), 1)).toBe('stored');
    const before = await Promise.all(DAYS.map((d) => dayFigures(first, 'acme', d, 1)));
    await first.close();
    // Schema 7's layout: plain tables, the sightings' own id sequence and primary key.
    await q(`
      CREATE TABLE ${s}.sightings_plain AS SELECT * FROM ${s}.sightings; DROP TABLE ${s}.sightings; ALTER TABLE ${s}.sightings_plain RENAME TO sightings;
      ALTER TABLE ${s}.sightings ALTER COLUMN id SET DEFAULT nextval('${s}.sightings_id_seq'), ADD PRIMARY KEY (id);
      ALTER SEQUENCE ${s}.sightings_id_seq OWNED BY ${s}.sightings.id;
      CREATE INDEX sightings_by_cid ON ${s}.sightings (tenant, epoch, cid); CREATE INDEX sightings_by_store ON ${s}.sightings (tenant, store, epoch, first_ms);
      CREATE TABLE ${s}.estimates_plain AS SELECT * FROM ${s}.estimates; DROP TABLE ${s}.estimates; ALTER TABLE ${s}.estimates_plain RENAME TO estimates;
      CREATE INDEX estimates_by_day ON ${s}.estimates (tenant, epoch, store);
      CREATE TABLE ${s}.ephemeral_plain AS SELECT * FROM ${s}.ephemeral; DROP TABLE ${s}.ephemeral; ALTER TABLE ${s}.ephemeral_plain RENAME TO ephemeral;
      UPDATE ${s}.meta SET value = '7' WHERE key = 'schema_version';`);
    expect((await q(`SELECT relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND relname = 'sightings'`, [s])).rows[0].relkind).toBe('r');
    const again = await PostgresCloudStore.open(PG, s);
    expect((await q(`SELECT relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND relname = 'sightings'`, [s])).rows[0].relkind).toBe('p');
    expect(await perPartition(s, 'sightings')).toEqual({ sightings_d20261120: 4, sightings_d20261121: 5, sightings_d20261122: 6 });
    expect((await q(`SELECT value FROM ${s}.meta WHERE key = 'schema_version'`)).rows[0].value).toBe('8');
    // The same figures from the moved rows; new rows on a known day take ids after the old ones.
    for (const [i, d] of DAYS.entries()) expect(await dayFigures(again, 'acme', d, 1)).toEqual(before[i]);
    const maxBefore = (await q(`SELECT max(id)::int AS m FROM ${s}.sightings`)).rows[0].m;
    expect(await again.ingestSightings(batch(DAYS[2]!, 5, 7), 1)).toBe('stored');
    expect((await q(`SELECT min(id)::int AS m FROM ${s}.sightings WHERE batch_id = 'ap-1:p:202611225'`)).rows[0].m).toBeGreaterThan(maxBefore);
    await again.close();
  });
});
