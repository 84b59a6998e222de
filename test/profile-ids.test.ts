/**
 * Issue 14, finding 9, the profile parts:
 *   - profile ids were an unkeyed hash of the profile's smallest identifier, so anyone who knew an
 *     e-mail could work out its profile id and read the profile through /v1/profiles/<id>. They are now
 *     keyed with a random key the database keeps (per tenant), stable across restarts and processes;
 *   - every profile request rebuilt the whole identity graph (20 parallel requests: 20 builds on the
 *     thread that also ingests). Profile, graph and flow requests now share one cached graph, built
 *     once for any number of callers waiting on it, and built again only when the edges change.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../cloud/api/server.js';
import { ingestMessage } from '../cloud/ingest/ingest.js';
import { DEFAULT_GRAPH_RULES, graphBuilds, profileIdOf } from '../cloud/identity/graph.js';
import { eraseProfile } from '../cloud/identity/profiles.js';
import { tenantGraph, tenantProfileKey } from '../cloud/identity/tenant-graph.js';
import type { CloudStore } from '../cloud/store/cloud-store.js';
import { hashEmail, hashPhone } from '../shared/identity/link-keys.js';
import { backends } from './helpers/backends.js';
import { runCliAsync } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-profile-ids-'));
const { list, dropAll } = backends(dir, 'profileids');
afterAll(() => dropAll());

const T = Date.parse('2026-11-23T10:00:00Z');
const DAY = '2026-11-23';
const CID = '1'.repeat(32);
const EMAIL = 'jane.doe@example.com';
const HEM = hashEmail(EMAIL);
const TOKEN = 'profile-ids-test-token-01';
let seq = 0;

async function seed(store: CloudStore): Promise<void> {
  const sightings = [{ cid: CID, source: 'wifi', addressClass: 'global', first: T, last: T + 600_000, frames: 9, rssiMax: -50, rssiMean: -60, channels: [6] }];
  const s = ++seq;
  const batch = { schema: 'omniloop.sightings/1', tenant: 'acme', store: 'berlin-1', agent: 'ap-1', batchId: `ap-1:x:${s}`, seq: s, epoch: DAY, window: { start: T, end: T + 60_000, seconds: 60 }, sightings, ephemeral: [] };
  expect(await ingestMessage(store, 'omniloop/v1/acme/berlin-1/ap-1/sightings', Buffer.from(JSON.stringify(batch)))).toBe('stored');
  await link(store, { cid: CID, hem: HEM, consent: { marketing: true } });
}

async function link(store: CloudStore, l: Record<string, unknown>): Promise<void> {
  const s = ++seq;
  const batch = { schema: 'omniloop.links/1', tenant: 'acme', store: 'berlin-1', agent: 'till-1', batchId: `till-1:x:${s}`, seq: s, epoch: DAY, links: [{ ts: T, ...l }] };
  expect(await ingestMessage(store, 'omniloop/v1/acme/berlin-1/till-1/links', Buffer.from(JSON.stringify(batch)))).toBe('stored');
}

/** The id as it was made before: FNV-1a of the smallest node, which anyone can compute from an e-mail. */
function unkeyedId(smallest: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ 0x9e3779b9;
  for (let i = 0; i < smallest.length; i++) {
    const c = smallest.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x01000193);
  }
  return `p_${(h1 >>> 0).toString(16).padStart(8, '0')}${(h2 >>> 0).toString(16).padStart(8, '0')}`;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

async function api(store: CloudStore): Promise<{ get: (p: string) => Promise<Response>; stop: () => Promise<void> }> {
  const server = new ApiServer(store, { token: TOKEN, k: 1 });
  const base = `http://127.0.0.1:${await server.start(0)}`;
  return { get: (p) => fetch(base + p, { headers: { authorization: `Bearer ${TOKEN}` } }), stop: () => server.stop() };
}

describe.each(list)('profile ids on %s', (name, backend) => {
  it('are keyed with the database\'s key: not derivable from the identifiers, the same after a restart and in another process', async () => {
    const store = await backend.open('keyed');
    await seed(store);
    const nodes = [`cid:${DAY}:${CID}`, `hem:${HEM}`];
    const id = (await tenantGraph(store, 'acme', DEFAULT_GRAPH_RULES)).profileOf.get(`hem:${HEM}`)!;
    expect(id).toMatch(/^p_[0-9a-f]{16}$/);
    // What someone who knows the e-mail could compute: none of it is the id.
    const guesses = [unkeyedId(nodes[0]!), ...[...nodes, HEM, EMAIL, nodes.join(',')].flatMap((x) => [`p_${sha(x).slice(0, 16)}`, `p_${sha(x).slice(-16)}`])];
    expect(guesses).not.toContain(id);
    // It is the HMAC under the tenant's key from this database.
    expect(id).toBe(profileIdOf(await tenantProfileKey(store, 'acme'), nodes[0]!));

    const { get, stop } = await api(store);
    expect((await get(`/v1/profiles/${id}?tenant=acme`)).status).toBe(200);
    for (const g of guesses) expect((await get(`/v1/profiles/${g}?tenant=acme`)).status, g).toBe(404);
    await stop();
    await store.close();

    // A restart (a new store object, nothing cached) and another process (the CLI) give the same id.
    const again = await backend.open('keyed');
    expect((await tenantGraph(again, 'acme', DEFAULT_GRAPH_RULES)).profileOf.get(`hem:${HEM}`)).toBe(id);
    await again.close();
    const cfg = join(dir, `keyed-${name}.yaml`);
    writeFileSync(cfg, `broker:\n  url: mqtt://127.0.0.1:1\n${backend.yaml('keyed')}`);
    const cli = await runCliAsync(['cloud', 'profile', '--config', cfg, '--tenant', 'acme', '--email', EMAIL, '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).profile).toBe(id);

    // Another database with the same data has another key, so another id.
    const other = await backend.open('keyed-other');
    await seed(other);
    const otherId = (await tenantGraph(other, 'acme', DEFAULT_GRAPH_RULES)).profileOf.get(`hem:${HEM}`)!;
    expect(otherId).toMatch(/^p_[0-9a-f]{16}$/);
    expect(otherId).not.toBe(id);
    await other.close();
  });

  it('are read from the database: parallel profile and graph requests build no graph, a link event rebuilds only its own component', async () => {
    const store = await backend.open('cache');
    await seed(store);
    // The id without building anything: the graph cache is cold when the requests come.
    const id = profileIdOf(await tenantProfileKey(store, 'acme'), `cid:${DAY}:${CID}`);
    // Every graph built in this process counts: a request that built one (even a shared, cached one) would show.
    const before = graphBuilds.count;
    const builds = () => graphBuilds.count - before;
    const { get, stop } = await api(store);
    const paths = [...Array.from({ length: 20 }, () => `/v1/profiles/${id}?tenant=acme`), ...Array.from({ length: 5 }, () => '/v1/graph?tenant=acme'), '/v1/flows?tenant=acme&from=2026-11-23&to=2026-11-23'];
    const answers = await Promise.all(paths.map(async (p) => ({ p, status: (await get(p)).status })));
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(builds()).toBe(0);

    // More of the same, and data that is no edge (a sightings batch): still the one graph.
    await Promise.all(paths.map((p) => get(p)));
    const s = ++seq;
    const more = { schema: 'omniloop.sightings/1', tenant: 'acme', store: 'berlin-1', agent: 'ap-1', batchId: `ap-1:x:${s}`, seq: s, epoch: DAY, window: { start: T + 60_000, end: T + 120_000, seconds: 60 }, sightings: [], ephemeral: [] };
    expect(await ingestMessage(store, 'omniloop/v1/acme/berlin-1/ap-1/sightings', Buffer.from(JSON.stringify(more)))).toBe('stored');
    expect((await get(`/v1/profiles/${id}?tenant=acme`)).status).toBe(200);
    expect(builds()).toBe(0);

    // A link event rebuilds the one component it joins, in its own transaction; the requests after it see it and build nothing.
    const phone = hashPhone('+49 30 1234567', '49');
    await link(store, { cid: CID, hph: phone, consent: { marketing: false } });
    const after = await Promise.all(Array.from({ length: 10 }, async () => (await get(`/v1/profiles/${id}?tenant=acme`)).json() as Promise<{ identifiers: { kind: string; value: string }[] }>));
    expect(builds()).toBe(1);
    for (const p of after) expect(p.identifiers).toContainEqual({ kind: 'hph', value: phone });
    expect(((await (await get('/v1/graph?tenant=acme')).json()) as { edges: number }).edges).toBe(2);
    expect(builds()).toBe(1);

    // An erasure changes them too: the profile is gone at the next request.
    await eraseProfile(store, 'acme', id);
    expect((await get(`/v1/profiles/${id}?tenant=acme`)).status).toBe(404);
    expect(builds()).toBe(1); // the erased component is gone whole: nothing left to rebuild
    await stop();
    await store.close();
  });
});
