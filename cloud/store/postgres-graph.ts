/**
 * The stored identity graph on PostgreSQL (identity/stored-graph.ts): the same tables as SQLite's, kept
 * by the same code (identity/graph-upkeep.ts, run asynchronously) inside the transaction that stores or
 * removes edges. Consumers commit in parallel, so each transaction takes its tenant's advisory lock
 * before it reads any of the graph, as the last lock it takes: two merges of one component never
 * interleave, and no transaction waits for a lock while holding one another needs.
 */
import type pg from 'pg';
import { DEFAULT_GRAPH_RULES, type Edge, type GraphRules, type NodeId, type NodeKind } from '../identity/graph.js';
import { edgesAdded, edgesRemoved, runAsync, type CompEdge, type CompRow, type EndPoints, type GraphTables, type NodeRow, type Upkeep } from '../identity/graph-upkeep.js';
import { graphRulesKey, rulesFromText, rulesText, tenantKeyOf, type GraphCounts, type StoredGraph } from '../identity/stored-graph.js';
import type { ConsentEdge } from '../identity/consent.js';
import { countersOf, graphCountsDdl, recountGraphSql } from './graph-counts.js';
import { inTransaction } from './postgres-tx.js';

const edgeRow = (r: { a: string; b: string; ts: string; batch_id: string; store: string }): Edge => ({ a: r.a, b: r.b, ts: Number(r.ts), batchId: r.batch_id, store: r.store });

/** The tables, created where missing at every open (PostgresCloudStore's DDL). */
export const postgresGraphDdl = (s: string) => `
  CREATE TABLE IF NOT EXISTS ${s}.graph_nodes (id bigserial PRIMARY KEY, tenant text NOT NULL, node text NOT NULL, comp bigint, profile text,
    persons int NOT NULL DEFAULT 0);
  CREATE UNIQUE INDEX IF NOT EXISTS graph_nodes_by_node ON ${s}.graph_nodes (tenant, node);
  CREATE INDEX IF NOT EXISTS graph_nodes_by_comp ON ${s}.graph_nodes (comp) WHERE comp IS NOT NULL;
  CREATE INDEX IF NOT EXISTS graph_nodes_by_profile ON ${s}.graph_nodes (tenant, profile) WHERE profile IS NOT NULL;
  CREATE INDEX IF NOT EXISTS graph_nodes_shared ON ${s}.graph_nodes (tenant, persons) WHERE persons > 1;
  CREATE TABLE IF NOT EXISTS ${s}.graph_comps (id bigserial PRIMARY KEY, tenant text NOT NULL, size int NOT NULL,
    refused_loyalty int NOT NULL DEFAULT 0, refused_size int NOT NULL DEFAULT 0, last_ts bigint);
  CREATE INDEX IF NOT EXISTS graph_comps_by_tenant ON ${s}.graph_comps (tenant);
  CREATE INDEX IF NOT EXISTS edges_by_a ON ${s}.edges (tenant, a);
  CREATE INDEX IF NOT EXISTS edges_by_b ON ${s}.edges (tenant, b);
  CREATE INDEX IF NOT EXISTS edges_by_batch ON ${s}.edges (tenant, store, batch_id);
  ${graphCountsDdl(`${s}.`)}`;

/** Schema 5's upgrade: an existing database's edges are replayed into the graph (PostgresGraph.open). */
export const postgresGraphUpgrade = (s: string) => `
  INSERT INTO ${s}.meta SELECT 'graph_backfill', '0/' || max(id) FROM ${s}.edges HAVING count(*) > 0 ON CONFLICT (key) DO NOTHING;`;

/** Schema 6's upgrade: the counters of /v1/graph, counted once from what the graph holds. */
export const postgresGraphCountsUpgrade = (s: string) => recountGraphSql(`${s}.`);

const BACKFILL_CHUNK = 5000;
/** The first key of the tenants' advisory locks (the schema's is 742001). */
const TENANT_LOCK = 742002;

const PERSON = `left(o, 4) IN ('hem:', 'hph:', 'loy:')`;

type Row = { id: string; node: string; comp: string | null; profile: string | null; persons: number };
const nodeRow = (r: Row): NodeRow => ({ id: Number(r.id), node: r.node, comp: r.comp === null ? null : Number(r.comp), profile: r.profile, persons: r.persons });

export class PostgresGraph implements StoredGraph {
  private rulesCache: { text: string; rules: GraphRules } | null = null;
  private readonly keys = new Map<string, Uint8Array>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
    private readonly databaseKey: () => Promise<Uint8Array>,
  ) {}

  /** At open: adopts `rules` (a change recomputes the graph) and replays an upgraded database's edges, in chunks. */
  async open(rules: GraphRules | undefined): Promise<void> {
    const s = this.s;
    // Read now, outside any transaction: read first inside one, it would wait for a second connection
    // of the pool while holding one — with every connection in such a transaction, forever.
    await this.databaseKey();
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(742001)');
      const stored = (await c.query(`SELECT value FROM ${s}.meta WHERE key = 'graph_rules'`)).rows[0]?.value as string | undefined;
      const wanted = rules ? rulesText(rules) : (stored ?? rulesText(DEFAULT_GRAPH_RULES));
      if (stored === wanted) return;
      if (stored !== undefined) {
        // Other rules: every component may come out differently, so all of it is done again.
        await c.query(`DELETE FROM ${s}.graph_nodes; DELETE FROM ${s}.graph_comps; DELETE FROM ${s}.graph_counts;
                       INSERT INTO ${s}.meta SELECT 'graph_backfill', '0/' || max(id) FROM ${s}.edges HAVING count(*) > 0
                       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`);
      }
      await c.query(`INSERT INTO ${s}.meta VALUES ('graph_rules', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [wanted]);
    });
    for (;;) {
      const more = await this.tx(async (c) => {
        const marker = (await c.query(`SELECT value FROM ${s}.meta WHERE key = 'graph_backfill' FOR UPDATE`)).rows[0]?.value as string | undefined;
        if (!marker) return false;
        const [done, to] = marker.split('/').map(Number) as [number, number];
        const rows = (await c.query(`SELECT id, tenant, a, b, ts, batch_id, store FROM ${s}.edges WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3`, [done, to, BACKFILL_CHUNK])).rows;
        const byTenant = new Map<string, Edge[]>();
        for (const r of rows) (byTenant.get(r.tenant) ?? byTenant.set(r.tenant, []).get(r.tenant)!).push(edgeRow(r));
        await this.lock(c, [...byTenant.keys()]);
        for (const [tenant, edges] of byTenant) await runAsync(edgesAdded(this.tables(c, tenant), edges, await this.upkeep(tenant, await this.rulesText(c))));
        const next = rows.length ? Number(rows[rows.length - 1]!.id) : to;
        if (rows.length < BACKFILL_CHUNK || next >= to) await c.query(`DELETE FROM ${s}.meta WHERE key = 'graph_backfill'; ${recountGraphSql(`${s}.`)}`);
        else await c.query(`UPDATE ${s}.meta SET value = $1 WHERE key = 'graph_backfill'`, [`${next}/${to}`]);
        return true;
      });
      if (!more) break;
    }
  }

  /** Inside the caller's transaction on `c`: link batches just stored (their edges read back by the batch index). */
  async batchesStored(c: pg.PoolClient, batches: readonly { tenant: string; store: string; batchId: string }[]): Promise<void> {
    if (!batches.length) return;
    const s = this.s;
    const tenants = [...new Set(batches.map((b) => b.tenant))];
    // One tenant (the usual case): its lock, the rules and the batches' edges in one round trip.
    if (tenants.length > 1) await this.lock(c, tenants);
    for (const tenant of tenants) {
      const mine = batches.filter((b) => b.tenant === tenant);
      const r = await c.query(
        `SELECT ${tenants.length > 1 ? '' : `pg_advisory_xact_lock(${TENANT_LOCK}, hashtext($1)) AS locked, `}(SELECT value FROM ${s}.meta WHERE key = 'graph_rules') AS rules,
                (SELECT coalesce(json_agg(json_build_object('a', e.a, 'b', e.b, 'ts', e.ts, 'batch_id', e.batch_id, 'store', e.store)), '[]')
                   FROM ${s}.edges e JOIN unnest($2::text[], $3::text[]) AS k(store, batch_id) ON e.store = k.store AND e.batch_id = k.batch_id WHERE e.tenant = $1) AS edges`,
        [tenant, mine.map((b) => b.store), mine.map((b) => b.batchId)],
      );
      const edges = (r.rows[0].edges as { a: string; b: string; ts: string; batch_id: string; store: string }[]).map(edgeRow);
      if (edges.length) await runAsync(edgesAdded(this.tables(c, tenant), edges, await this.upkeep(tenant, r.rows[0].rules as string | null)));
    }
  }

  /** Inside the caller's transaction on `c`: edges just deleted, by their ends. */
  async removed(c: pg.PoolClient, tenant: string, ends: readonly NodeId[]): Promise<void> {
    if (!ends.length) return;
    await this.lock(c, [tenant]);
    await runAsync(edgesRemoved(this.tables(c, tenant), ends, await this.upkeep(tenant, await this.rulesText(c))));
  }

  private async lock(c: pg.PoolClient, tenants: readonly string[]): Promise<void> {
    // In one order, so two transactions of several tenants cannot deadlock.
    for (const t of [...tenants].sort()) await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [TENANT_LOCK, t]);
  }

  private async rulesText(q: pg.Pool | pg.PoolClient): Promise<string | null> {
    return ((await q.query(`SELECT value FROM ${this.s}.meta WHERE key = 'graph_rules'`)).rows[0]?.value as string | undefined) ?? null;
  }

  /** The rules the meta table holds (read in the caller's transaction: another process may have changed them). */
  private parsedRules(stored: string | null): GraphRules {
    const text = stored ?? rulesText(DEFAULT_GRAPH_RULES);
    if (this.rulesCache?.text !== text) this.rulesCache = { text, rules: rulesFromText(text) };
    return this.rulesCache.rules;
  }

  private async rules(q: pg.Pool | pg.PoolClient): Promise<GraphRules> {
    return this.parsedRules(await this.rulesText(q));
  }

  private async upkeep(tenant: string, rules: string | null): Promise<Upkeep> {
    let key = this.keys.get(tenant);
    if (!key) this.keys.set(tenant, (key = tenantKeyOf(await this.databaseKey(), tenant)));
    return { rules: this.parsedRules(rules), profileKey: key };
  }

  private tx<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, work);
  }

  private tables(c: pg.PoolClient, tenant: string): GraphTables {
    const s = this.s;
    const q = async (sql: string, params: unknown[]) => (await c.query(sql, params)).rows;
    // Writes wait here until flush(): then one statement for the relabelling and one for the rest, so a
    // link event costs a few round trips whatever it changes.
    const pending = new Map<number, { comp?: number | null; profile?: string | null; persons?: number }>();
    const row = (id: number) => pending.get(id) ?? pending.set(id, {}).get(id)!;
    let moves: { from: number; to: number }[] = [];
    const saves = new Map<number, CompRow>();
    const deletes = new Set<number>();
    const counts = new Map<string, number>();
    const nodes = async (list: readonly NodeId[]) => ((await q(`SELECT id, node, comp, profile, persons FROM ${s}.graph_nodes WHERE tenant = $1 AND node = ANY($2)`, [tenant, list])) as Row[]).map(nodeRow);
    return {
      // One statement: the rows inserted (RETURNING) and those there before (the statement's snapshot has not the new ones).
      ensureNodes: async (list) =>
        (
          (await q(
            `WITH ins AS (INSERT INTO ${s}.graph_nodes (tenant, node) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING id, node, comp, profile, persons)
             SELECT *, true AS fresh FROM ins UNION ALL SELECT id, node, comp, profile, persons, false FROM ${s}.graph_nodes WHERE tenant = $1 AND node = ANY($2)`,
            [tenant, list],
          )) as (Row & { fresh: boolean })[]
        ).map((r) => (r.fresh ? { ...nodeRow(r), fresh: true } : nodeRow(r))),
      nodes,
      countPersons: async (devices) => {
        const rows = await q(
          `SELECT d.node, (SELECT count(DISTINCT o) FROM (SELECT b AS o FROM ${s}.edges WHERE tenant = $1 AND a = d.node UNION ALL SELECT a FROM ${s}.edges WHERE tenant = $1 AND b = d.node) x WHERE ${PERSON}) AS n
             FROM unnest($2::text[]) AS d(node)`,
          [tenant, devices],
        );
        return new Map(rows.map((r) => [r.node as string, Number(r.n)]));
      },
      setPersons: (rows) => {
        for (const r of rows) row(r.id).persons = r.persons;
      },
      comps: async (comps) =>
        new Map(
          (await q(`SELECT id, size, refused_loyalty, refused_size, last_ts FROM ${s}.graph_comps WHERE id = ANY($1::bigint[])`, [comps])).map((r) => [
            Number(r.id),
            { size: r.size as number, refusedLoyalty: r.refused_loyalty as number, refusedSize: r.refused_size as number, lastTs: r.last_ts === null ? null : Number(r.last_ts) },
          ]),
        ),
      createComps: async (n) => (await q(`INSERT INTO ${s}.graph_comps (tenant, size) SELECT $1, 0 FROM generate_series(1, $2) RETURNING id`, [tenant, n])).map((r) => Number(r.id)),
      saveComps: (rows) => {
        for (const r of rows) {
          saves.set(r.comp, r);
          deletes.delete(r.comp);
        }
      },
      deleteComps: (comps) => {
        for (const c of comps) {
          deletes.add(c);
          saves.delete(c);
        }
      },
      assign: (rows) => {
        for (const r of rows) row(r.id).comp = r.comp;
      },
      relabel: (list) => {
        moves.push(...list);
      },
      compNodes: async (comps) => ((await q(`SELECT id, node, comp, profile, persons FROM ${s}.graph_nodes WHERE comp = ANY($1::bigint[])`, [comps])) as Row[]).map(nodeRow),
      profileMembers: async (profiles) => ((await q(`SELECT id, node, comp, profile, persons FROM ${s}.graph_nodes WHERE tenant = $1 AND profile = ANY($2)`, [tenant, profiles])) as Row[]).map(nodeRow),
      // Plain index look-ups by one end, the other end checked here: left to join the nodes itself, with the
      // statistics of a table that just grew, the planner hashed the whole edges table (137 ms for a component
      // of a few hundred nodes at 1M identifiers) or scanned the tenant's nodes for every edge (minutes).
      compEdges: async (nodes) => {
        if (!nodes.length) return [];
        const compOf = new Map(nodes.map((n) => [n.node, n.comp!]));
        const rows = await q(`SELECT a, b, ts, batch_id, store FROM ${s}.edges WHERE tenant = $1 AND a = ANY($2::text[])`, [tenant, [...compOf.keys()]]);
        return rows.filter((r) => compOf.get(r.b) === compOf.get(r.a)).map((r): CompEdge => ({ ...edgeRow(r), comp: compOf.get(r.a)! }));
      },
      setProfiles: (changes) => {
        for (const x of changes) row(x.id).profile = x.profile;
      },
      edgesOf: async (list) => (await q(`SELECT a, b FROM ${s}.edges WHERE tenant = $1 AND a = ANY($2) UNION ALL SELECT a, b FROM ${s}.edges WHERE tenant = $1 AND b = ANY($2)`, [tenant, list])) as EndPoints[],
      dropOrphans: async (list) =>
        (
          (await q(
            `DELETE FROM ${s}.graph_nodes g WHERE g.tenant = $1 AND g.node = ANY($2)
               AND NOT EXISTS (SELECT 1 FROM ${s}.edges e WHERE e.tenant = $1 AND e.a = g.node) AND NOT EXISTS (SELECT 1 FROM ${s}.edges e WHERE e.tenant = $1 AND e.b = g.node)
             RETURNING id, node, comp, profile, persons`,
            [tenant, list],
          )) as Row[]
        ).map(nodeRow),
      addCounts: (deltas) => {
        for (const [k, n] of deltas) counts.set(k, (counts.get(k) ?? 0) + n);
      },
      flush: async () => {
        // Relabelling first: the writes by id that follow it were made after it.
        if (moves.length) await q(`UPDATE ${s}.graph_nodes g SET comp = u.dest FROM unnest($1::bigint[], $2::bigint[]) AS u(src, dest) WHERE g.comp = u.src`, [moves.map((m) => m.from), moves.map((m) => m.to)]);
        moves = [];
        if (!pending.size && !saves.size && !deletes.size && !counts.size) return;
        const ids = [...pending.keys()];
        const w = [...pending.values()];
        const sv = [...saves.values()];
        // Data-modifying WITH clauses all run, on disjoint rows: nodes by id, deleted and saved components.
        await q(
          `WITH n AS (UPDATE ${s}.graph_nodes g SET comp = CASE WHEN u.sc THEN u.comp ELSE g.comp END, profile = CASE WHEN u.sp THEN u.profile ELSE g.profile END,
                        persons = coalesce(u.persons, g.persons)
                      FROM unnest($1::bigint[], $2::boolean[], $3::bigint[], $4::boolean[], $5::text[], $6::int[]) AS u(id, sc, comp, sp, profile, persons) WHERE g.id = u.id RETURNING 1),
                d AS (DELETE FROM ${s}.graph_comps WHERE id = ANY($7::bigint[]) RETURNING 1),
                c AS (UPDATE ${s}.graph_comps g SET size = u.size, refused_loyalty = u.l, refused_size = u.s, last_ts = u.ts
                      FROM unnest($8::bigint[], $9::int[], $10::int[], $11::int[], $12::bigint[]) AS u(id, size, l, s, ts) WHERE g.id = u.id RETURNING 1),
                k AS (INSERT INTO ${s}.graph_counts SELECT $13, * FROM unnest($14::text[], $15::bigint[])
                      ON CONFLICT (tenant, key) DO UPDATE SET n = ${s}.graph_counts.n + EXCLUDED.n RETURNING 1)
           SELECT (SELECT count(*) FROM n) + (SELECT count(*) FROM d) + (SELECT count(*) FROM c) + (SELECT count(*) FROM k) AS n`,
          [
            ids,
            w.map((x) => 'comp' in x),
            w.map((x) => x.comp ?? null),
            w.map((x) => 'profile' in x),
            w.map((x) => x.profile ?? null),
            w.map((x) => x.persons ?? null),
            [...deletes],
            sv.map((r) => r.comp),
            sv.map((r) => r.size),
            sv.map((r) => r.refusedLoyalty),
            sv.map((r) => r.refusedSize),
            sv.map((r) => r.lastTs),
            tenant,
            [...counts.keys()],
            [...counts.values()],
          ],
        );
        pending.clear();
        saves.clear();
        deletes.clear();
        counts.clear();
      },
    };
  }

  // The read side: each answer one statement (one snapshot), the counts one repeatable-read transaction.

  async rulesKey(): Promise<string> {
    return graphRulesKey(await this.rules(this.pool));
  }

  async profileOf(tenant: string, nodes: readonly NodeId[]): Promise<Map<NodeId, string>> {
    const r = await this.pool.query(`SELECT node, profile FROM ${this.s}.graph_nodes WHERE tenant = $1 AND node = ANY($2) AND profile IS NOT NULL`, [tenant, [...new Set(nodes)]]);
    return new Map(r.rows.map((x) => [x.node as string, x.profile as string]));
  }

  async members(tenant: string, profiles: readonly string[]): Promise<Map<string, NodeId[]>> {
    const r = await this.pool.query(`SELECT profile, node FROM ${this.s}.graph_nodes WHERE tenant = $1 AND profile = ANY($2)`, [tenant, [...new Set(profiles)]]);
    const out = new Map<string, NodeId[]>();
    for (const x of r.rows) (out.get(x.profile) ?? out.set(x.profile, []).get(x.profile)!).push(x.node);
    for (const list of out.values()) list.sort(cmp); // code-unit order, whatever the database's collation
    return out;
  }

  async quarantined(tenant: string, nodes: readonly NodeId[]): Promise<Set<NodeId>> {
    const max = (await this.rules(this.pool)).maxPersonsPerDevice;
    const r = await this.pool.query(`SELECT node FROM ${this.s}.graph_nodes WHERE tenant = $1 AND node = ANY($2) AND left(node, 4) = 'cid:' AND persons > $3`, [tenant, [...new Set(nodes)], max]);
    return new Set(r.rows.map((x) => x.node as string));
  }

  async edgesOf(tenant: string, nodes: readonly NodeId[]): Promise<ConsentEdge[]> {
    const s = this.s;
    const list = [...new Set(nodes)];
    const r = await this.pool.query(`SELECT a, b, ts, batch_id, store, marketing FROM ${s}.edges WHERE id IN (SELECT id FROM ${s}.edges WHERE tenant = $1 AND a = ANY($2) UNION SELECT id FROM ${s}.edges WHERE tenant = $1 AND b = ANY($2))`, [tenant, list]);
    return r.rows.map((x) => ({ a: x.a, b: x.b, ts: Number(x.ts), batchId: x.batch_id, store: x.store, marketing: x.marketing }));
  }

  async counts(tenant: string): Promise<GraphCounts> {
    const s = this.s;
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const rules = await this.rules(c);
      // Kept by the upkeep: identifiers, edges, profiles by size, the refusals of components.
      const k = countersOf((await c.query(`SELECT key, n FROM ${s}.graph_counts WHERE tenant = $1`, [tenant])).rows);
      // Read here, bounded by the hot spots (blocked values, shared devices), not by the graph. The partial index holds devices with two people or more; a limit below one (tests) reads them all.
      const shared = `SELECT node FROM ${s}.graph_nodes WHERE tenant = $1 AND ${rules.maxPersonsPerDevice >= 1 ? 'persons > 1 AND ' : ''}persons > $2 AND left(node, 4) = 'cid:'`;
      const blocked = [...rules.blocked];
      const quarantinedDevices = Number((await c.query(`SELECT count(*) AS n FROM (${shared}) q`, [tenant, rules.maxPersonsPerDevice])).rows[0].n);
      // Refusals as the builder counts them: blocked first, then shared devices (each edge once).
      const blockedEdges = blocked.length
        ? Number((await c.query(`SELECT (SELECT count(*) FROM ${s}.edges WHERE tenant = $1 AND a = ANY($2)) + (SELECT count(*) FROM ${s}.edges WHERE tenant = $1 AND b = ANY($2) AND a <> ALL($2)) AS n`, [tenant, blocked])).rows[0].n)
        : 0;
      const sharedEdges = Number(
        (
          await c.query(
            `WITH q AS (${shared})
             SELECT (SELECT count(*) FROM q JOIN ${s}.edges e ON e.tenant = $1 AND e.a = q.node WHERE e.a <> ALL($3) AND e.b <> ALL($3))
                  + (SELECT count(*) FROM q JOIN ${s}.edges e ON e.tenant = $1 AND e.b = q.node WHERE e.a NOT IN (SELECT node FROM q) AND e.a <> ALL($3) AND e.b <> ALL($3)) AS n`,
            [tenant, rules.maxPersonsPerDevice, blocked],
          )
        ).rows[0].n,
      );
      await c.query('COMMIT');
      return {
        identifiers: k.identifiers as Record<NodeKind, number>,
        edges: k.edges,
        profiles: k.sizes.reduce((n, r) => n + r.profiles, 0),
        quarantinedDevices,
        refused: { blocked: blockedEdges, 'shared-device': sharedEdges, 'two-loyalty-ids': k.refusedLoyalty, 'component-too-large': k.refusedSize },
        profileSizes: k.sizes,
      };
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
