/**
 * The stored graph's counters (identity/graph-upkeep.ts COUNTER), the same SQL on SQLite and
 * PostgreSQL: the link, unmerge and erasure transactions move them, so /v1/graph reads a few rows.
 */

/** `prefix`: the schema and a dot on PostgreSQL, nothing on SQLite. */
export const graphCountsDdl = (prefix: string) => `
  CREATE TABLE IF NOT EXISTS ${prefix}graph_counts (tenant text NOT NULL, key text NOT NULL, n bigint NOT NULL, PRIMARY KEY (tenant, key));`;

/**
 * Every counter again from the tables, by aggregate queries over the whole graph: once, at the end of a
 * backfill (a replay may meet an edge it has counted already).
 */
export const recountGraphSql = (prefix: string) => `
  DELETE FROM ${prefix}graph_counts;
  INSERT INTO ${prefix}graph_counts (tenant, key, n)
    SELECT tenant, 'id:' || substr(node, 1, 3), count(*) FROM ${prefix}graph_nodes GROUP BY tenant, substr(node, 1, 3)
    UNION ALL SELECT tenant, 'edges', count(*) FROM ${prefix}edges GROUP BY tenant
    UNION ALL SELECT tenant, 'size:' || size, count(*) FROM (SELECT tenant, count(*) AS size FROM ${prefix}graph_nodes WHERE profile IS NOT NULL GROUP BY tenant, profile) x GROUP BY tenant, size
    UNION ALL SELECT tenant, 'refused:loyalty', sum(refused_loyalty) FROM ${prefix}graph_comps GROUP BY tenant
    UNION ALL SELECT tenant, 'refused:size', sum(refused_size) FROM ${prefix}graph_comps GROUP BY tenant;`;

/** The counters' rows of a tenant as the figures take them. */
export function countersOf(rows: readonly { key: string; n: number | string }[]): { identifiers: Record<'cid' | 'hem' | 'hph' | 'loy' | 'net', number>; edges: number; sizes: { size: number; profiles: number }[]; refusedLoyalty: number; refusedSize: number } {
  const out = { identifiers: { cid: 0, hem: 0, hph: 0, loy: 0, net: 0 }, edges: 0, sizes: [] as { size: number; profiles: number }[], refusedLoyalty: 0, refusedSize: 0 };
  for (const r of rows) {
    const n = Number(r.n);
    if (r.key.startsWith('id:')) out.identifiers[r.key.slice(3) as keyof typeof out.identifiers] = n;
    else if (r.key === 'edges') out.edges = n;
    else if (r.key.startsWith('size:')) {
      if (n) out.sizes.push({ size: Number(r.key.slice(5)), profiles: n });
    } else if (r.key === 'refused:loyalty') out.refusedLoyalty = n;
    else if (r.key === 'refused:size') out.refusedSize = n;
  }
  out.sizes.sort((a, b) => a.size - b.size);
  return out;
}
