/** The report rollups in SQLite (reports/rollup-store.ts). One writer at a time: a claim needs no lock. */
import type Database from 'better-sqlite3';
import type { DayMark, RollupStore, StoredRollup } from '../reports/rollup-store.js';
import { ROLLUP_VERSION, joinLinked, linkedVisits, type DeviceDay, type LinkedVisits, type RawTenantDay } from '../reports/tenant-day.js';

/**
 * The migration: marks, rollups with their linked devices' visits, the store-days with batches (for pickers and /v1/stats), the counters
 * /v1/stats reads, and an index of the devices in a profile by day (the period reports); an existing
 * database's days are all marked, its counters counted once.
 */
export const SQLITE_ROLLUPS_MIGRATION = `
  CREATE TABLE IF NOT EXISTS report_marks (tenant TEXT NOT NULL, epoch TEXT NOT NULL, PRIMARY KEY (tenant, epoch)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS report_days (tenant TEXT NOT NULL, epoch TEXT NOT NULL, gen INTEGER NOT NULL, version INTEGER NOT NULL,
    computed_ms INTEGER NOT NULL, cids INTEGER NOT NULL, figures TEXT NOT NULL, linked TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (tenant, epoch)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS store_days (tenant TEXT NOT NULL, store TEXT NOT NULL, epoch TEXT NOT NULL, PRIMARY KEY (tenant, store, epoch)) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS graph_nodes_cid_day ON graph_nodes (tenant, (substr(node, 5, 10)), node, profile) WHERE profile IS NOT NULL AND substr(node, 1, 4) = 'cid:';
  INSERT OR IGNORE INTO store_days SELECT DISTINCT tenant, store, epoch FROM batches;
  INSERT OR IGNORE INTO report_marks SELECT DISTINCT tenant, epoch FROM batches;
  INSERT OR REPLACE INTO counters SELECT 'batches', count(*) FROM batches;
  INSERT OR REPLACE INTO counters SELECT 'sightings', count(*) FROM sightings;
  INSERT OR REPLACE INTO counters SELECT 'dead_letters', count(*) FROM dead_letters;`;

export class SqliteRollups implements RollupStore {
  private readonly q;

  constructor(private readonly db: Database.Database) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      dirty: p(`SELECT m.tenant, m.epoch, d.computed_ms AS computedMs FROM report_marks m LEFT JOIN report_days d USING (tenant, epoch)
                ORDER BY d.computed_ms IS NOT NULL, d.computed_ms LIMIT ?`),
      unmark: p('DELETE FROM report_marks WHERE tenant = ? AND epoch = ?'),
      mark: p('INSERT OR IGNORE INTO report_marks VALUES (?, ?)'),
      gen: p("INSERT INTO meta VALUES ('report_gen', '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING CAST(value AS INTEGER) AS gen").pluck(),
      save: p(`INSERT INTO report_days VALUES (@tenant, @epoch, @gen, @version, @ms, @cids, @figures, @linked)
               ON CONFLICT(tenant, epoch) DO UPDATE SET gen = excluded.gen, version = excluded.version, computed_ms = excluded.computed_ms,
                 cids = excluded.cids, figures = excluded.figures, linked = excluded.linked WHERE excluded.gen >= report_days.gen`),
      hasNode: p('SELECT EXISTS (SELECT 1 FROM graph_nodes WHERE tenant = ? AND node = ?)').pluck(),
      get: p(`SELECT gen, version, computed_ms AS computedMs, figures, EXISTS (SELECT 1 FROM report_marks m WHERE m.tenant = d.tenant AND m.epoch = d.epoch) AS dirty
              FROM report_days d WHERE tenant = ? AND epoch = ?`),
      cids: p('SELECT coalesce(sum(cids), 0) FROM report_days').pluck(),
      stamp: p(`SELECT gen, computed_ms AS computedMs, EXISTS (SELECT 1 FROM report_marks m WHERE m.tenant = d.tenant AND m.epoch = d.epoch) AS dirty
                FROM report_days d WHERE tenant = ? AND epoch = ?`),
      linked: p('SELECT linked FROM report_days WHERE tenant = ? AND epoch = ?').pluck(),
      // graph_nodes_cid_day, covering: the expression and the condition as the index has them.
      profiled: p(`SELECT substr(node, 16), profile FROM graph_nodes WHERE tenant = ? AND (substr(node, 5, 10)) = ? AND profile IS NOT NULL AND substr(node, 1, 4) = 'cid:'`).raw(true),
      hasDay: p('SELECT EXISTS (SELECT 1 FROM store_days WHERE tenant = ? AND epoch = ?)').pluck(),
    };
  }

  async dirty(limit: number): Promise<(DayMark & { computedMs: number | null })[]> {
    return this.q.dirty.all(limit) as (DayMark & { computedMs: number | null })[];
  }

  async claim(days: readonly DayMark[]): Promise<number> {
    return this.db.transaction(() => {
      for (const d of days) this.q.unmark.run(d.tenant, d.epoch);
      return this.q.gen.get() as number;
    }).immediate();
  }

  async mark(days: readonly DayMark[]): Promise<void> {
    this.db.transaction(() => {
      for (const d of days) this.q.mark.run(d.tenant, d.epoch);
    })();
  }

  async save(tenant: string, gen: number, computedMs: number, day: RawTenantDay, devices: readonly DeviceDay[]): Promise<void> {
    this.db.transaction(() => {
      // The visits of the day's devices that are in the graph (a link named them): what the period reports read.
      const linked = linkedVisits(devices, (cid) => this.q.hasNode.get(tenant, `cid:${day.epoch}:${cid}`) === 1);
      this.q.save.run({ tenant, epoch: day.epoch, gen, version: ROLLUP_VERSION, ms: computedMs, cids: day.cids, figures: JSON.stringify(day), linked: JSON.stringify(linked) });
    }).immediate();
  }

  async profiledDevices(tenant: string, epochs: readonly string[]): Promise<{ profile: string; epoch: string; device: DeviceDay }[]> {
    return this.db.transaction(() =>
      [...new Set(epochs)].flatMap((e) => {
        const text = this.q.linked.get(tenant, e) as string | undefined;
        return text ? joinLinked(e, JSON.parse(text) as LinkedVisits, this.q.profiled.all(tenant, e) as [string, string][]) : [];
      }),
    )();
  }

  async get(tenant: string, epoch: string): Promise<StoredRollup | null> {
    return this.row(tenant, epoch);
  }

  private row(tenant: string, epoch: string): StoredRollup | null {
    const r = this.q.get.get(tenant, epoch) as { gen: number; version: number; computedMs: number; figures: string; dirty: number } | undefined;
    return r ? { gen: r.gen, version: r.version, computedMs: r.computedMs, dirty: r.dirty === 1, day: JSON.parse(r.figures) as RawTenantDay } : null;
  }

  async getMany(tenant: string, epochs: readonly string[]): Promise<Map<string, StoredRollup>> {
    return this.db.transaction(() => {
      const out = new Map<string, StoredRollup>();
      for (const e of new Set(epochs)) {
        const r = this.row(tenant, e);
        if (r) out.set(e, r);
      }
      return out;
    })();
  }

  async stamps(tenant: string, epochs: readonly string[]): Promise<Map<string, { gen: number; dirty: boolean; computedMs: number }>> {
    return this.db.transaction(() => {
      const out = new Map<string, { gen: number; dirty: boolean; computedMs: number }>();
      for (const e of new Set(epochs)) {
        const r = this.q.stamp.get(tenant, e) as { gen: number; computedMs: number; dirty: number } | undefined;
        if (r) out.set(e, { gen: r.gen, computedMs: r.computedMs, dirty: r.dirty === 1 });
      }
      return out;
    })();
  }

  async daysWithData(tenant: string, epochs: readonly string[]): Promise<Set<string>> {
    return new Set(epochs.filter((e) => this.q.hasDay.get(tenant, e) === 1));
  }

  async consumerIds(): Promise<number> {
    return this.q.cids.get() as number;
  }
}
