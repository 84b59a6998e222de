/**
 * The identity graph kept in the database (issue 15) against the canonical in-memory build: random link
 * events — shared devices, people with two loyalty cards, a blocked e-mail, components past the size
 * cap, network tokens, two tenants sharing identifiers — stored in several random orders, with random
 * unmerges, erasures and redeliveries in between, on SQLite and PostgreSQL. After every step the stored
 * assignment (profiles as sets of members with their ids, quarantined devices, every figure) must be
 * exactly buildIdentityGraph over the edges that survive.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { buildIdentityGraph, type GraphRules } from '../cloud/identity/graph.js';
import { graphCounts } from '../cloud/identity/graph-figures.js';
import { tenantProfileKey } from '../cloud/identity/tenant-graph.js';
import { upkeepPaths } from '../cloud/identity/graph-upkeep.js';
import type { CloudStore } from '../cloud/store/cloud-store.js';
import { PostgresCloudStore } from '../cloud/store/postgres-store.js';
import { SqliteCloudStore } from '../cloud/store/sqlite-store.js';
import type { LinksBatch } from '../shared/wire/links-schema.js';
import { mulberry32 } from '../scripts/lib/prng.js';
import { backends, PG, type Backend } from './helpers/backends.js';
import pg from 'pg';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-graph-inc-'));
const { list, dropAll } = backends(dir, 'ginc');
afterAll(async () => {
  await dropAll();
  rmSync(dir, { recursive: true, force: true });
});

const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');
const BLOCKED_HEM = hex(0xb10c, 64);
const RULES: GraphRules = { blocked: new Set([`hem:${BLOCKED_HEM}`]), maxPersonsPerDevice: 2, maxComponentSize: 7 };
const DAYS = ['2026-11-23', '2026-11-24', '2026-11-25'];
const TENANTS = ['acme', 'beta'];
/** Worlds per run; a longer hunt: OMNILOOP_GRAPH_SEEDS=200. */
const SEEDS = Number(process.env.OMNILOOP_GRAPH_SEEDS ?? 3);

type Link = LinksBatch['links'][number];

/** A random world: people with e-mails, some with phones and one or two loyalty cards, devices over days, tablets, a blocked e-mail. */
function world(seed: number): LinksBatch[] {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const people = Array.from({ length: 9 }, (_, p) => ({
    hem: hex(0x1000 + p, 64),
    hph: rnd() < 0.4 ? hex(0x2000 + p, 64) : undefined,
    loyalty: [rnd() < 0.5 ? hex(0x3000 + p, 64) : undefined, rnd() < 0.4 ? hex(0x3100 + p, 64) : undefined].filter((x): x is string => !!x),
    net: rnd() < 0.3 ? hex(0x4000 + p, 64) : undefined,
  }));
  const batches: LinksBatch[] = [];
  let seq = 0;
  for (let i = 0; i < 34; i++) {
    const tenant = rnd() < 0.7 ? 'acme' : 'beta';
    const epoch = pick(DAYS);
    const links: Link[] = [];
    for (let k = 1 + Math.floor(rnd() * 2); k > 0; k--) {
      // Coarse times: ties between events, which the canonical order must break the same way.
      const ts = Date.parse(`${epoch}T10:00:00Z`) + Math.floor(rnd() * 4) * 60_000;
      const person = pick(people);
      const r = rnd();
      // A device: the person's own (a few per person), or the store's tablet.
      // A tablet is used by few people, so an unmerge or an erasure can bring it back under the limit.
      const cid = r < 0.5 && people.indexOf(person) < 4 ? hex(0xa000, 32) : hex(0xc000 + people.indexOf(person) * 4 + Math.floor(rnd() * 3), 32);
      const l: Link = { ts, consent: { marketing: rnd() < 0.5 } };
      // Most events name a device; a loyalty card registered to an e-mail names none.
      if (!(person.loyalty.length && rnd() < 0.12)) l.cid = cid;
      const what = rnd();
      if (what < 0.08) l.hem = BLOCKED_HEM; // the shop's own test address
      else if (what < 0.55) l.hem = person.hem;
      if (person.hph && rnd() < 0.4) l.hph = person.hph;
      if (person.loyalty.length && rnd() < 0.4) l.loyalty = pick(person.loyalty);
      if (person.net && rnd() < 0.3) l.net = person.net;
      if (!l.cid) {
        l.hem = person.hem;
        l.loyalty = pick(person.loyalty);
      } else if (!l.hem && !l.hph && !l.loyalty) {
        if (rnd() < 0.5 && person.net) {
          l.net = person.net; // a connection only: no person named, no decision
          delete l.consent;
        } else l.hem = person.hem;
      }
      links.push(l);
    }
    seq++;
    batches.push({ schema: 'omniloop.links/1', tenant, store: pick(['berlin-1', 'paris-1']), agent: 'ap-1', batchId: `ap-1:g:${seq}`, seq, epoch, links } as LinksBatch);
  }
  return batches;
}

function shuffled<T>(xs: readonly T[], rnd: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The stored assignment and figures must be the canonical build's over the surviving edges. */
async function expectCanonical(store: CloudStore, tenant: string, step: string): Promise<number> {
  const edges = await store.edges(tenant);
  const g = buildIdentityGraph(edges, RULES, await tenantProfileKey(store, tenant));
  const nodes = [...new Set(edges.flatMap((e) => [e.a, e.b]))];
  const profileOf = await store.graph.profileOf(tenant, nodes);
  expect(Object.fromEntries([...profileOf].sort()), `${step}: profile of every node`).toEqual(Object.fromEntries([...g.profileOf].sort()));
  const members = await store.graph.members(tenant, [...g.profiles.keys(), 'p_0000000000000000']);
  expect(Object.fromEntries([...members].sort()), `${step}: members of every profile`).toEqual(Object.fromEntries([...g.profiles].sort()));
  expect([...(await store.graph.quarantined(tenant, nodes))].sort(), `${step}: shared devices`).toEqual([...g.quarantined].sort());
  expect(await store.graph.counts(tenant), `${step}: figures`).toEqual(graphCounts(edges, g));
  return g.profiles.size;
}

describe.each(list)('the stored identity graph on %s', (name, backend) => {
  it('equals the canonical rebuild after every link event, unmerge, erasure and redelivery, in any order', async () => {
    let checks = 0;
    const paths = { ...upkeepPaths };
    const seen = { profiles: 0, quarantined: 0, freed: 0, loyalty: 0, size: 0, blocked: 0, erased: 0, revoked: 0 };
    for (let seed = 1; seed <= SEEDS; seed++) {
      const events = world(seed);
      for (let order = 0; order < 3; order++) {
        const rnd = mulberry32(seed * 100 + order);
        const dbName = `prop-${seed}-${order}`;
        const store = await openWith(name, backend, dbName, RULES);
        const stored: LinksBatch[] = [];
        // The first order is by time, as events mostly arrive; the others are shuffled (late deliveries).
        const arrival = order === 0 ? [...events].sort((x, y) => x.links[0]!.ts - y.links[0]!.ts) : shuffled(events, rnd);
        for (const b of arrival) {
          expect(await store.ingestLinks(b, 1)).toBe('stored');
          stored.push(b);
          const r = rnd();
          const sharedBefore = (await store.graph.counts(b.tenant)).quarantinedDevices;
          if (r < 0.16 && stored.length) {
            // Unmerge: a batch's evidence was wrong.
            const x = stored.splice(Math.floor(rnd() * stored.length), 1)[0]!;
            await store.revokeBatch(x.tenant, x.store, x.batchId);
            seen.revoked++;
          } else if (r < 0.22) {
            // Erasure: a person's whole profile, or a lone identifier.
            const tenant = b.tenant;
            const edges = await store.edges(tenant);
            if (edges.length) {
              const node = rnd() < 0.5 ? edges[Math.floor(rnd() * edges.length)]!.a : edges[Math.floor(rnd() * edges.length)]!.b;
              const p = (await store.graph.profileOf(tenant, [node])).get(node);
              const members = p ? (await store.graph.members(tenant, [p])).get(p)! : [node];
              await store.erase(tenant, members);
              seen.erased++;
            }
          } else if (r < 0.28) {
            // A redelivery changes nothing.
            expect(await store.ingestLinks(stored[Math.floor(rnd() * stored.length)]!, 2)).toBe('duplicate');
          }
          for (const t of TENANTS) {
            seen.profiles += await expectCanonical(store, t, `seed ${seed}, order ${order}, after ${stored.length} batches (${t})`);
            checks++;
          }
          const c = await store.graph.counts(b.tenant);
          seen.quarantined += c.quarantinedDevices;
          if (c.quarantinedDevices < sharedBefore) seen.freed++; // a device no longer shared: its edges merge now
          seen.loyalty += c.refused['two-loyalty-ids'];
          seen.size += c.refused['component-too-large'];
          seen.blocked += c.refused.blocked;
        }
        await store.close();
      }
    }
    // The worlds did exercise every rule, not only the easy path.
    expect(checks).toBeGreaterThan(150);
    // Both ways of keeping a component: extending it with later edges, and rebuilding it.
    expect(upkeepPaths.extended - paths.extended).toBeGreaterThan(50);
    expect(upkeepPaths.rebuilt - paths.rebuilt).toBeGreaterThan(50);
    if (process.env.OMNILOOP_GRAPH_SEEDS) console.log(name, checks, seen);
    for (const [what, n] of Object.entries(seen)) expect(n, what).toBeGreaterThan(0);
  });

  it('gives the same partition for every arrival order of the same events', async () => {
    const events = world(7);
    const partitions: string[][] = [];
    for (let order = 0; order < 3; order++) {
      const store = await backend.open(`orders-${order}`);
      for (const b of shuffled(events, mulberry32(70 + order))) await store.ingestLinks(b, 1);
      const nodes = [...new Set((await store.edges('acme')).flatMap((e) => [e.a, e.b]))];
      const of = await store.graph.profileOf('acme', nodes);
      const members = await store.graph.members('acme', [...new Set(of.values())]);
      partitions.push([...members.values()].map((m) => m.join(',')).sort());
      await store.close();
    }
    expect(partitions[0]!.length).toBeGreaterThan(1);
    expect(partitions[1]).toEqual(partitions[0]);
    expect(partitions[2]).toEqual(partitions[0]);
  });

  it('stays canonical when several consumers on one database store link events at once', async () => {
    // Two store objects (two HQ processes) on one database, each with several batches in flight.
    const a = await openWith(name, backend, 'parallel', RULES);
    const b = await openWith(name, backend, 'parallel', RULES);
    const events = [...world(11), ...world(12).map((x) => ({ ...x, batchId: x.batchId.replace(':g:', ':h:') }))];
    const outcomes = await Promise.all(events.map((x, i) => (i % 2 ? a : b).ingestLinks(x, 1)));
    expect(outcomes.every((o) => o === 'stored')).toBe(true);
    await Promise.all(events.slice(0, 8).map((x, i) => (i % 2 ? a : b).revokeBatch(x.tenant, x.store, x.batchId)));
    for (const t of TENANTS) expect(await expectCanonical(a, t, `parallel (${t})`)).toBeGreaterThan(0);
    await a.close();
    await b.close();
  });

  it('backfills an existing database\'s edges on upgrade, and recomputes when the rules change', async () => {
    const store = await backend.open('upgrade');
    for (const b of world(5)) await store.ingestLinks(b, 1);
    await store.close();
    // The database as the previous version left it: edges, and no graph tables.
    await downgrade(name, 'upgrade');
    const upgraded = await openWith(name, backend, 'upgrade', RULES);
    for (const t of TENANTS) expect(await expectCanonical(upgraded, t, `upgraded (${t})`)).toBeGreaterThan(0);
    await upgraded.close();
    // A database with the graph but not yet its counters (SQLite 9, PostgreSQL 5) counts them on upgrade.
    await dropCounters(name, 'upgrade');
    const counted = await openWith(name, backend, 'upgrade', RULES);
    for (const t of TENANTS) expect(await expectCanonical(counted, t, `counters upgraded (${t})`)).toBeGreaterThan(0);
    await counted.close();
    // Other rules: the graph is recomputed for them, and the next open without rules keeps them.
    const looser: GraphRules = { blocked: new Set(), maxPersonsPerDevice: 5, maxComponentSize: 200 };
    const again = await openWith(name, backend, 'upgrade', looser);
    const edges = await again.edges('acme');
    const g = buildIdentityGraph(edges, looser, await tenantProfileKey(again, 'acme'));
    const of = await again.graph.profileOf('acme', [...new Set(edges.flatMap((e) => [e.a, e.b]))]);
    expect(Object.fromEntries([...of].sort())).toEqual(Object.fromEntries([...g.profileOf].sort()));
    await again.close();
  });
});

/** A database of the suite (dropped at the end) opened with identity rules. */
async function openWith(backendName: string, backend: Backend, name: string, rules: GraphRules): Promise<CloudStore> {
  backend.yaml(name); // registers the PostgreSQL schema for dropAll
  return backendName === 'sqlite' ? new SqliteCloudStore(join(dir, `${name}.db`), rules) : PostgresCloudStore.open(PG, schemaOf(name), rules);
}

const schemaOf = (name: string) => `t_ginc_${name.replace(/[^a-z0-9]/g, '_')}_${process.pid}`;

async function dropCounters(backendName: string, name: string): Promise<void> {
  if (backendName === 'sqlite') {
    const db = new Database(join(dir, `${name}.db`));
    // Migrations after it (the reports' rollups) run again too: they are idempotent.
    db.exec(`DROP TABLE graph_counts; PRAGMA user_version = ${(db.pragma('user_version', { simple: true }) as number) - 2};`);
    db.close();
    return;
  }
  const c = new pg.Client(PG);
  await c.connect();
  await c.query(`DROP TABLE ${schemaOf(name)}.graph_counts; UPDATE ${schemaOf(name)}.meta SET value = '5' WHERE key = 'schema_version'`);
  await c.end();
}

/** Drops what schemas 9–10 (SQLite) / 5–6 (PostgreSQL) added, as a database of the version before has it (SQLite's 11 runs again). */
async function downgrade(backendName: string, name: string): Promise<void> {
  if (backendName === 'sqlite') {
    const db = new Database(join(dir, `${name}.db`));
    db.exec(`DROP TABLE graph_nodes; DROP TABLE graph_comps; DROP TABLE graph_counts; DROP INDEX edges_by_a; DROP INDEX edges_by_b; DROP INDEX edges_by_batch;
             DELETE FROM meta WHERE key LIKE 'graph_%'; PRAGMA user_version = ${(db.pragma('user_version', { simple: true }) as number) - 3};`);
    db.close();
    return;
  }
  const c = new pg.Client(PG);
  await c.connect();
  const s = schemaOf(name);
  await c.query(`DROP TABLE ${s}.graph_nodes; DROP TABLE ${s}.graph_comps; DROP TABLE ${s}.graph_counts; DROP INDEX ${s}.edges_by_a; DROP INDEX ${s}.edges_by_b; DROP INDEX ${s}.edges_by_batch;
                 DELETE FROM ${s}.meta WHERE key LIKE 'graph_%'; UPDATE ${s}.meta SET value = '4' WHERE key = 'schema_version'`);
  await c.end();
}

