/**
 * The stored identity graph on SQLite (identity/stored-graph.ts): the node and component tables, their
 * upkeep inside the store's write transactions (identity/graph-upkeep.ts, run synchronously), the
 * backfill of an upgraded database, and the read side.
 */
import type Database from 'better-sqlite3';
import { DEFAULT_GRAPH_RULES, type Edge, type GraphRules, type NodeId, type NodeKind } from '../identity/graph.js';
import { edgesAdded, edgesRemoved, runSync, type CompEdge, type CompInfo, type EndPoints, type GraphTables, type NodeRow, type Upkeep } from '../identity/graph-upkeep.js';
import { graphRulesKey, rulesFromText, rulesText, tenantKeyOf, type GraphCounts, type StoredGraph } from '../identity/stored-graph.js';
import type { ConsentEdge } from '../identity/consent.js';
import { countersOf, graphCountsDdl, recountGraphSql } from './graph-counts.js';

/**
 * The schema (one migration): nodes with their raw component and profile, components with their size
 * and refusals, and the edges by either end and by batch. An upgraded database with edges gets a
 * backfill marker: its edges are replayed at the next open (SqliteGraph.open). Written to run again
 * harmlessly (IF NOT EXISTS; a replay changes nothing that is already right).
 */
export const SQLITE_GRAPH_MIGRATION = `
  CREATE TABLE IF NOT EXISTS graph_nodes (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL, node TEXT NOT NULL, comp INTEGER, profile TEXT,
    persons INTEGER NOT NULL DEFAULT 0);
  CREATE UNIQUE INDEX IF NOT EXISTS graph_nodes_by_node ON graph_nodes (tenant, node);
  CREATE INDEX IF NOT EXISTS graph_nodes_by_comp ON graph_nodes (comp) WHERE comp IS NOT NULL;
  CREATE INDEX IF NOT EXISTS graph_nodes_by_profile ON graph_nodes (tenant, profile) WHERE profile IS NOT NULL;
  CREATE INDEX IF NOT EXISTS graph_nodes_shared ON graph_nodes (tenant, persons) WHERE persons > 1;
  CREATE TABLE IF NOT EXISTS graph_comps (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL, size INTEGER NOT NULL,
    refused_loyalty INTEGER NOT NULL DEFAULT 0, refused_size INTEGER NOT NULL DEFAULT 0, last_ts INTEGER);
  CREATE INDEX IF NOT EXISTS graph_comps_by_tenant ON graph_comps (tenant);
  CREATE INDEX IF NOT EXISTS edges_by_a ON edges (tenant, a);
  CREATE INDEX IF NOT EXISTS edges_by_b ON edges (tenant, b);
  CREATE INDEX IF NOT EXISTS edges_by_batch ON edges (tenant, store, batch_id);
  INSERT OR REPLACE INTO meta SELECT 'graph_backfill', '0/' || (SELECT max(id) FROM edges) WHERE EXISTS (SELECT 1 FROM edges);`;

/** The next migration: the counters of /v1/graph, counted once from what the graph holds. */
export const SQLITE_GRAPH_COUNTS_MIGRATION = graphCountsDdl('') + recountGraphSql('');

/** Edges replayed per transaction by the backfill. */
const BACKFILL_CHUNK = 5000;

const PERSON = `substr(o, 1, 4) IN ('hem:', 'hph:', 'loy:')`;

export class SqliteGraph implements StoredGraph {
  private rulesCache: { text: string; rules: GraphRules } | null = null;
  private readonly keys = new Map<string, Uint8Array>();
  private readonly q: Record<string, Database.Statement>;

  constructor(
    private readonly db: Database.Database,
    private readonly databaseKey: () => Uint8Array,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      rules: p("SELECT value FROM meta WHERE key = 'graph_rules'").pluck(),
      setMeta: p('INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      backfill: p("SELECT value FROM meta WHERE key = 'graph_backfill'").pluck(),
      insertNode: p('INSERT OR IGNORE INTO graph_nodes (tenant, node) VALUES (?, ?)'),
      node: p('SELECT id, node, comp, profile, persons FROM graph_nodes WHERE tenant = ? AND node = ?'),
      persons: p(`SELECT count(DISTINCT o) FROM (SELECT b AS o FROM edges WHERE tenant = @t AND a = @n UNION ALL SELECT a FROM edges WHERE tenant = @t AND b = @n) WHERE ${PERSON}`).pluck(),
      setPersons: p('UPDATE graph_nodes SET persons = ? WHERE id = ?'),
      comp: p('SELECT size, refused_loyalty AS refusedLoyalty, refused_size AS refusedSize, last_ts AS lastTs FROM graph_comps WHERE id = ?'),
      createComp: p('INSERT INTO graph_comps (tenant, size) VALUES (?, 0)'),
      saveComp: p('UPDATE graph_comps SET size = @size, refused_loyalty = @refusedLoyalty, refused_size = @refusedSize, last_ts = @lastTs WHERE id = @id'),
      deleteComp: p('DELETE FROM graph_comps WHERE id = ?'),
      assign: p('UPDATE graph_nodes SET comp = ? WHERE id = ?'),
      relabel: p('UPDATE graph_nodes SET comp = ? WHERE comp = ?'),
      compNodes: p('SELECT id, node, comp, profile, persons FROM graph_nodes WHERE comp = ?'),
      profileNodes: p('SELECT id, node, comp, profile, persons FROM graph_nodes WHERE tenant = ? AND profile = ?'),
      compEdges: p(`SELECT e.a, e.b, e.ts, e.batch_id AS batchId, e.store, n.comp FROM graph_nodes n
                      JOIN edges e ON e.tenant = n.tenant AND e.a = n.node
                      JOIN graph_nodes m ON m.tenant = e.tenant AND m.node = e.b
                     WHERE n.comp = @c AND m.comp = @c`),
      setProfile: p('UPDATE graph_nodes SET profile = ? WHERE id = ?'),
      ends: p('SELECT a, b FROM edges WHERE tenant = @t AND a = @n UNION ALL SELECT a, b FROM edges WHERE tenant = @t AND b = @n'),
      dropOrphan: p('DELETE FROM graph_nodes WHERE tenant = @t AND node = @n AND NOT EXISTS (SELECT 1 FROM edges WHERE tenant = @t AND a = @n) AND NOT EXISTS (SELECT 1 FROM edges WHERE tenant = @t AND b = @n) RETURNING id, node, comp, profile, persons'),
      addCount: p('INSERT INTO graph_counts VALUES (?, ?, ?) ON CONFLICT(tenant, key) DO UPDATE SET n = n + excluded.n'),
      counters: p('SELECT key, n FROM graph_counts WHERE tenant = ?'),
      profileOf: p('SELECT profile FROM graph_nodes WHERE tenant = ? AND node = ? AND profile IS NOT NULL').pluck(),
      members: p('SELECT node FROM graph_nodes WHERE tenant = ? AND profile = ?').pluck(),
      edgesOf: p('SELECT id, a, b, ts, batch_id AS batchId, store, marketing FROM edges WHERE tenant = @t AND a = @n UNION ALL SELECT id, a, b, ts, batch_id, store, marketing FROM edges WHERE tenant = @t AND b = @n'),
      batchEdges: p('SELECT a, b, ts, batch_id AS batchId, store FROM edges WHERE tenant = ? AND store = ? AND batch_id = ?'),
      backfillEdges: p('SELECT tenant, a, b, ts, batch_id AS batchId, store FROM edges WHERE id > ? AND id <= ? ORDER BY id LIMIT ?'),
      backfillNext: p('SELECT max(id) FROM (SELECT id FROM edges WHERE id > ? AND id <= ? ORDER BY id LIMIT ?)').pluck(),
    };
  }

  /**
   * At open, after the migrations: adopts `rules` (a change recomputes the whole graph: the stored one
   * is for the rules in the meta table) and replays what an upgraded database has not yet processed.
   * Without rules (tests, tools) the database's stay.
   */
  open(rules: GraphRules | undefined): void {
    this.db
      .transaction(() => {
        const stored = this.q.rules!.get() as string | undefined;
        const wanted = rules ? rulesText(rules) : (stored ?? rulesText(DEFAULT_GRAPH_RULES));
        if (stored === wanted) return;
        if (stored !== undefined) {
          // Other rules: every component may come out differently, so all of it is done again.
          this.db.exec('DELETE FROM graph_nodes; DELETE FROM graph_comps; DELETE FROM graph_counts;');
          const max = this.db.prepare('SELECT max(id) FROM edges').pluck().get() as number | null;
          if (max !== null) this.q.setMeta!.run('graph_backfill', `0/${max}`);
        }
        this.q.setMeta!.run('graph_rules', wanted);
      })
      .immediate();
    // In chunks, each its own transaction with its progress: an interrupted backfill goes on where it stopped.
    const step = this.db.transaction((): boolean => {
      const marker = this.q.backfill!.get() as string | undefined;
      if (!marker) return false;
      const [done, to] = marker.split('/').map(Number) as [number, number];
      const rows = this.q.backfillEdges!.all(done, to, BACKFILL_CHUNK) as (Edge & { tenant: string })[];
      const byTenant = new Map<string, Edge[]>();
      for (const r of rows) (byTenant.get(r.tenant) ?? byTenant.set(r.tenant, []).get(r.tenant)!).push(r);
      for (const [tenant, edges] of byTenant) this.added(tenant, edges);
      const next = this.q.backfillNext!.get(done, to, BACKFILL_CHUNK) as number | null;
      if (next === null || next >= to) {
        this.db.prepare("DELETE FROM meta WHERE key = 'graph_backfill'").run();
        this.db.exec(recountGraphSql(''));
      }
      else this.q.setMeta!.run('graph_backfill', `${next}/${to}`);
      return true;
    });
    while (step.immediate()) {
      /* next chunk */
    }
  }

  /** Inside the store's write transaction: a link batch just stored (its edges read back by the batch index). */
  batchStored(tenant: string, store: string, batchId: string): void {
    this.added(tenant, this.q.batchEdges!.all(tenant, store, batchId) as Edge[]);
  }

  /** Inside the store's write transaction: edges just inserted. */
  added(tenant: string, edges: readonly Edge[]): void {
    if (edges.length) runSync(edgesAdded(this.tables(tenant), edges, this.upkeep(tenant)));
  }

  /** Inside the store's write transaction: edges just deleted, by their ends. */
  removed(tenant: string, ends: readonly NodeId[]): void {
    if (ends.length) runSync(edgesRemoved(this.tables(tenant), ends, this.upkeep(tenant)));
  }

  private currentRules(): GraphRules {
    // Read in the transaction: another process may have opened the database with other rules.
    const text = (this.q.rules!.get() as string | undefined) ?? rulesText(DEFAULT_GRAPH_RULES);
    if (this.rulesCache?.text !== text) this.rulesCache = { text, rules: rulesFromText(text) };
    return this.rulesCache.rules;
  }

  private upkeep(tenant: string): Upkeep {
    let key = this.keys.get(tenant);
    if (!key) this.keys.set(tenant, (key = tenantKeyOf(this.databaseKey(), tenant)));
    return { rules: this.currentRules(), profileKey: key };
  }

  private tables(tenant: string): GraphTables {
    const q = this.q;
    const rowsOf = (nodes: readonly NodeId[]) => nodes.map((n) => q.node!.get(tenant, n) as NodeRow | undefined).filter((r): r is NodeRow => r !== undefined);
    return {
      ensureNodes: (nodes) => {
        const fresh = new Set(nodes.filter((n) => q.insertNode!.run(tenant, n).changes === 1));
        return rowsOf(nodes).map((r) => (fresh.has(r.node) ? { ...r, fresh: true } : r));
      },
      nodes: rowsOf,
      countPersons: (devices) => new Map(devices.map((d) => [d, q.persons!.get({ t: tenant, n: d }) as number])),
      setPersons: (rows) => {
        for (const r of rows) q.setPersons!.run(r.persons, r.id);
      },
      comps: (comps) => new Map(comps.map((c) => [c, q.comp!.get(c) as CompInfo])),
      createComps: (n) => Array.from({ length: n }, () => Number(q.createComp!.run(tenant).lastInsertRowid)),
      saveComps: (rows) => {
        for (const r of rows) q.saveComp!.run({ size: r.size, refusedLoyalty: r.refusedLoyalty, refusedSize: r.refusedSize, lastTs: r.lastTs, id: r.comp });
      },
      deleteComps: (comps) => {
        for (const c of comps) q.deleteComp!.run(c);
      },
      assign: (rows) => {
        for (const r of rows) q.assign!.run(r.comp, r.id);
      },
      relabel: (moves) => {
        for (const m of moves) q.relabel!.run(m.to, m.from);
      },
      compNodes: (comps) => comps.flatMap((c) => q.compNodes!.all(c) as NodeRow[]),
      profileMembers: (profiles) => profiles.flatMap((p) => q.profileNodes!.all(tenant, p) as NodeRow[]),
      compEdges: (nodes) => unique(nodes.map((n) => n.comp!)).flatMap((c) => q.compEdges!.all({ c }) as CompEdge[]),
      setProfiles: (changes) => {
        for (const c of changes) q.setProfile!.run(c.profile, c.id);
      },
      edgesOf: (nodes) => nodes.flatMap((n) => q.ends!.all({ t: tenant, n }) as EndPoints[]),
      dropOrphans: (nodes) => nodes.flatMap((n) => q.dropOrphan!.all({ t: tenant, n }) as NodeRow[]),
      addCounts: (deltas) => {
        for (const [k, n] of deltas) q.addCount!.run(tenant, k, n);
      },
      flush: () => {}, // every write is made at once
    };
  }

  // The read side: each call one read transaction, so one snapshot.

  async rulesKey(): Promise<string> {
    return graphRulesKey(this.currentRules());
  }

  async profileOf(tenant: string, nodes: readonly NodeId[]): Promise<Map<NodeId, string>> {
    return this.db.transaction(() => {
      const out = new Map<NodeId, string>();
      for (const n of new Set(nodes)) {
        const p = this.q.profileOf!.get(tenant, n) as string | undefined;
        if (p) out.set(n, p);
      }
      return out;
    })();
  }

  async members(tenant: string, profiles: readonly string[]): Promise<Map<string, NodeId[]>> {
    return this.db.transaction(() => {
      const out = new Map<string, NodeId[]>();
      for (const p of new Set(profiles)) {
        const list = this.q.members!.all(tenant, p) as NodeId[];
        if (list.length) out.set(p, list.sort(cmp));
      }
      return out;
    })();
  }

  async quarantined(tenant: string, nodes: readonly NodeId[]): Promise<Set<NodeId>> {
    const max = this.currentRules().maxPersonsPerDevice;
    const rows = this.db.transaction(() => nodes.map((n) => this.q.node!.get(tenant, n) as NodeRow | undefined))();
    return new Set(rows.filter((r): r is NodeRow => r !== undefined && r.node.startsWith('cid:') && r.persons > max).map((r) => r.node));
  }

  async edgesOf(tenant: string, nodes: readonly NodeId[]): Promise<ConsentEdge[]> {
    return this.db.transaction(() => {
      const seen = new Map<number, ConsentEdge>();
      for (const n of new Set(nodes)) {
        for (const r of this.q.edgesOf!.all({ t: tenant, n }) as (Edge & { id: number; marketing: number })[]) {
          seen.set(r.id, { a: r.a, b: r.b, ts: r.ts, batchId: r.batchId, store: r.store, marketing: r.marketing === 1 });
        }
      }
      return [...seen.values()];
    })();
  }

  async counts(tenant: string): Promise<GraphCounts> {
    const rules = this.currentRules();
    const db = this.db;
    return db.transaction((): GraphCounts => {
      // Kept by the upkeep: identifiers, edges, profiles by size, the refusals of components.
      const c = countersOf(this.q.counters!.all(tenant) as { key: string; n: number }[]);
      // Read here, bounded by the hot spots (blocked values, shared devices), not by the graph. The partial index holds devices with two people or more; a limit below one (tests) reads them all.
      const shared = `SELECT node FROM graph_nodes WHERE tenant = @t AND ${rules.maxPersonsPerDevice >= 1 ? 'persons > 1 AND ' : ''}persons > @max AND substr(node, 1, 4) = 'cid:'`;
      const blocked = JSON.stringify([...rules.blocked]);
      const quarantinedDevices = db.prepare(`SELECT count(*) FROM (${shared})`).pluck().get({ t: tenant, max: rules.maxPersonsPerDevice }) as number;
      // Refusals as the builder counts them: blocked first, then shared devices (each edge once).
      const blockedEdges = rules.blocked.size
        ? (db
            .prepare(
              `WITH bl AS (SELECT value AS node FROM json_each(@bl))
               SELECT (SELECT count(*) FROM bl JOIN edges e ON e.tenant = @t AND e.a = bl.node)
                    + (SELECT count(*) FROM bl JOIN edges e ON e.tenant = @t AND e.b = bl.node WHERE e.a NOT IN bl)`,
            )
            .pluck()
            .get({ t: tenant, bl: blocked }) as number)
        : 0;
      const sharedEdges = db
        .prepare(
          `WITH q AS (${shared}), bl AS (SELECT value AS node FROM json_each(@bl))
           SELECT (SELECT count(*) FROM q JOIN edges e ON e.tenant = @t AND e.a = q.node WHERE e.a NOT IN bl AND e.b NOT IN bl)
                + (SELECT count(*) FROM q JOIN edges e ON e.tenant = @t AND e.b = q.node WHERE e.a NOT IN q AND e.a NOT IN bl AND e.b NOT IN bl)`,
        )
        .pluck()
        .get({ t: tenant, max: rules.maxPersonsPerDevice, bl: blocked }) as number;
      return {
        identifiers: c.identifiers as Record<NodeKind, number>,
        edges: c.edges,
        profiles: c.sizes.reduce((n, r) => n + r.profiles, 0),
        quarantinedDevices,
        refused: { blocked: blockedEdges, 'shared-device': sharedEdges, 'two-loyalty-ids': c.refusedLoyalty, 'component-too-large': c.refusedSize },
        profileSizes: c.sizes,
      };
    })();
  }
}

const unique = <T>(xs: Iterable<T>) => [...new Set(xs)];

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
