/**
 * PostgreSQL group commit: the batches of many messages in one transaction, each table written by one
 * statement for the whole group (column arrays through unnest()), so one commit — one WAL flush — carries
 * hundreds of batches instead of one. Should the database refuse a batch's content, the group is written
 * again one batch at a time, each in its own savepoint: that batch alone is refused, the others stay.
 */
import type pg from 'pg';
import { linkNodes } from '../../shared/wire/links-schema.js';
import { KNOWN_BATCH_COUNTER, batchDigest, knownBatchOutcome, suppressionDigest, type GroupItem, type GroupOutcome, type IngestOutcome } from './cloud-store.js';
import { faultCode, isMessageFault } from './db-faults.js';
import { noteIngest } from './postgres-rollups.js';

/** Inside a transaction on `c` begun with BEGIN_MARKING, schema `s`. Throws only what is not a message's fault. */
export async function writeGroup(c: pg.PoolClient, s: string, items: readonly GroupItem[]): Promise<GroupOutcome[]> {
  await c.query('SAVEPOINT omniloop_group');
  try {
    const out = await writeRows(c, s, items);
    await c.query('RELEASE SAVEPOINT omniloop_group');
    return out;
  } catch (err) {
    if (!isMessageFault(err)) throw err;
    await c.query('ROLLBACK TO SAVEPOINT omniloop_group');
  }
  const out: GroupOutcome[] = [];
  for (const it of items) {
    await c.query('SAVEPOINT omniloop_one');
    try {
      out.push((await writeRows(c, s, [it]))[0]!);
      await c.query('RELEASE SAVEPOINT omniloop_one');
    } catch (err) {
      if (!isMessageFault(err)) throw err;
      await c.query('ROLLBACK TO SAVEPOINT omniloop_one');
      out.push({ refused: faultCode(err) });
    }
  }
  return out;
}

const keyOf = (it: GroupItem) => `${it.batch.tenant}\u0001${it.batch.store}\u0001${it.batch.batchId}`;

async function writeRows(c: pg.PoolClient, s: string, items: readonly GroupItem[]): Promise<IngestOutcome[]> {
  const digests = items.map((it) => batchDigest(it.batch));
  // Each batch id once, in key order: consumers committing overlapping groups (redeliveries) then take
  // the batches' row locks in the same order and cannot deadlock.
  const first = new Map<string, number>();
  items.forEach((it, i) => first.has(keyOf(it)) || first.set(keyOf(it), i));
  const claim = [...first.values()].sort((a, b) => (keyOf(items[a]!) < keyOf(items[b]!) ? -1 : 1));
  const cols: unknown[][] = Array.from({ length: 11 }, () => []);
  for (const i of claim) {
    const it = items[i]!;
    const b = it.batch;
    // As the single path: a links batch's "window" is the span of its events, and it holds no sightings.
    const span = it.kind === 'sightings' ? [it.batch.window.start, it.batch.window.end, it.batch.sightings.length] : [Math.min(...it.batch.links.map((l) => l.ts)), Math.max(...it.batch.links.map((l) => l.ts)), 0];
    [b.batchId, b.tenant, b.store, b.agent, b.seq, b.epoch, ...span, it.receivedMs, digests[i]].forEach((v, k) => cols[k]!.push(v));
  }
  const ins = await c.query(
    `INSERT INTO ${s}.batches SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::bigint[], $8::bigint[], $9::int[], $10::bigint[], $11::text[])
     ON CONFLICT DO NOTHING RETURNING tenant, store, batch_id`,
    cols,
  );
  const claimed = new Set(ins.rows.map((r) => `${r.tenant}\u0001${r.store}\u0001${r.batch_id}`));
  // The digest each known id holds: the database's for ids stored before, the group's first for new ones.
  const held = new Map<string, string | null>();
  if (claimed.size < first.size) {
    const known = claim.filter((i) => !claimed.has(keyOf(items[i]!))).map((i) => items[i]!.batch);
    const r = await c.query(`SELECT b.tenant, b.store, b.batch_id, b.digest FROM ${s}.batches b JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(tenant, store, batch_id) USING (tenant, store, batch_id)`, [known.map((b) => b.tenant), known.map((b) => b.store), known.map((b) => b.batchId)]);
    for (const x of r.rows) held.set(`${x.tenant}\u0001${x.store}\u0001${x.batch_id}`, x.digest as string | null);
  }
  const outcomes = items.map((it, i): IngestOutcome => {
    const k = keyOf(it);
    if (first.get(k) === i && claimed.has(k)) return 'stored';
    return knownBatchOutcome(claimed.has(k) ? digests[first.get(k)!]! : (held.get(k) ?? null), digests[i]!);
  });
  for (const o of ['duplicate', 'conflict'] as const) {
    const n = outcomes.filter((x) => x === o).length;
    if (n) await c.query(`INSERT INTO ${s}.counters VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = ${s}.counters.value + EXCLUDED.value`, [KNOWN_BATCH_COUNTER[o], n]);
  }
  const stored = items.filter((_, i) => outcomes[i] === 'stored');
  if (stored.length) {
    const sightings = await writeContent(c, s, stored);
    // Sightings change their day's figures; links the devices the day's rollup keeps visits of.
    await noteIngest(c, s, stored.map((it) => it.batch), stored.map((it) => it.batch), { batches: stored.length, sightings });
  }
  return outcomes;
}

/** The rows of the batches this group stores: sightings, ephemeral counts, estimates, edges; returns the sightings written. */
async function writeContent(c: pg.PoolClient, s: string, stored: GroupItem[]): Promise<number> {
  // Nobody erased yet (the usual case): no digest per sighting. Read in the transaction, like SQLite's.
  const anyErased = (await c.query(`SELECT EXISTS (SELECT 1 FROM ${s}.suppressed) AS e`)).rows[0]?.e === true;
  let erased = new Set<string>();
  if (anyErased) {
    const nodes = stored.flatMap((it) => (it.kind === 'sightings' ? it.batch.sightings.map((x) => suppressionDigest(it.batch.tenant, `cid:${it.batch.epoch}:${x.cid}`)) : it.batch.links.flatMap((l) => linkNodes(it.batch.epoch, l).map((n) => suppressionDigest(it.batch.tenant, n)))));
    erased = new Set((await c.query(`SELECT digest FROM ${s}.suppressed WHERE digest = ANY($1)`, [nodes])).rows.map((r) => r.digest as string));
  }
  const sg: unknown[][] = Array.from({ length: 15 }, () => []);
  const eph: unknown[][] = Array.from({ length: 9 }, () => []);
  const est: unknown[][] = Array.from({ length: 12 }, () => []);
  const edge: unknown[][] = Array.from({ length: 7 }, () => []);
  const push = (cols: unknown[][], row: unknown[]) => row.forEach((v, k) => cols[k]!.push(v));
  for (const it of stored) {
    if (it.kind === 'sightings') {
      const b = it.batch;
      const w = b.window;
      for (const x of b.sightings) {
        if (erased.size && erased.has(suppressionDigest(b.tenant, `cid:${b.epoch}:${x.cid}`))) continue;
        push(sg, [b.batchId, b.tenant, b.store, b.agent, b.epoch, x.cid, x.source, x.addressClass, x.first, x.last, x.frames, x.rssiMax, x.rssiMean, x.beacon?.type ?? null, x.beacon?.cid ?? null]);
      }
      for (const e of b.ephemeral) push(eph, [b.batchId, b.tenant, b.store, b.epoch, w.start, e.source, e.addressClass, e.devices, e.frames]);
      const m = b.estimate;
      if (m) push(est, [b.batchId, b.tenant, b.store, b.agent, b.epoch, w.start, w.end, m.method, m.wifi.present, m.wifi.arrivals, m.ble.present, m.ble.arrivals]);
    } else {
      const b = it.batch;
      for (const l of b.links) {
        const nodes = linkNodes(b.epoch, l);
        if (erased.size && nodes.some((n) => erased.has(suppressionDigest(b.tenant, n)))) continue;
        const [hub, ...rest] = nodes;
        // No decision: it names no person, so consent never reads it.
        for (const n of rest) push(edge, [b.tenant, hub, n, l.ts, b.batchId, b.store, l.consent?.marketing ?? false]);
      }
    }
  }
  if (sg[0]!.length) {
    await c.query(
      `INSERT INTO ${s}.sightings (batch_id, tenant, store, agent, epoch, cid, source, address_class, first_ms, last_ms, frames, rssi_max, rssi_mean, beacon_type, beacon_cid)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::int[], $12::real[], $13::real[], $14::text[], $15::text[])`,
      sg,
    );
  }
  if (eph[0]!.length) await c.query(`INSERT INTO ${s}.ephemeral SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::int[], $9::int[])`, eph);
  if (est[0]!.length) await c.query(`INSERT INTO ${s}.estimates SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::real[], $10::real[], $11::real[], $12::real[])`, est);
  if (edge[0]!.length) await c.query(`INSERT INTO ${s}.edges (tenant, a, b, ts, batch_id, store, marketing) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::boolean[])`, edge);
  return sg[0]!.length;
}
