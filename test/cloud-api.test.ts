/** HQ's HTTP API: bearer token, routes, parameter validation, k-anonymous figures. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../cloud/api/server.js';
import { ingestMessage } from '../cloud/ingest/ingest.js';
import { SqliteCloudStore } from '../cloud/store/sqlite-store.js';
import { DEFAULT_GRAPH_RULES } from '../cloud/identity/graph.js';
import { tenantGraph } from '../cloud/identity/tenant-graph.js';

const TOKEN = 'a-long-enough-test-token';
const T = Date.parse('2026-11-23T10:00:00Z');
let store: SqliteCloudStore;
let api: ApiServer;
let base = '';

const get = (path: string, token: string | null = TOKEN) => fetch(base + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();

beforeAll(async () => {
  store = new SqliteCloudStore(join(mkdtempSync(join(tmpdir(), 'omniloop-api-')), 'cloud.db'));
  const sightings = Array.from({ length: 8 }, (_, i) => ({ cid: i.toString(16).padStart(32, '0'), source: 'wifi', addressClass: 'global', first: T, last: T + 10 * 60_000, frames: 9, rssiMax: -50, rssiMean: -60, channels: [6] }));
  const batch = { schema: 'omniloop.sightings/1', tenant: 'acme', store: 'berlin-1', agent: 'ap-1', batchId: 'ap-1:x:1', seq: 1, epoch: '2026-11-23', window: { start: T, end: T + 60_000, seconds: 60 }, sightings, ephemeral: [] };
  await ingestMessage(store, 'omniloop/v1/acme/berlin-1/ap-1/sightings', Buffer.from(JSON.stringify(batch)));
  const links = { schema: 'omniloop.links/1', tenant: 'acme', store: 'berlin-1', agent: 'ap-1', batchId: 'ap-1:x:2', seq: 2, epoch: '2026-11-23', links: [{ ts: T, cid: sightings[0]!.cid, hem: 'e'.repeat(64), consent: { marketing: false } }] };
  await ingestMessage(store, 'omniloop/v1/acme/berlin-1/ap-1/links', Buffer.from(JSON.stringify(links)));
  await ingestMessage(store, 'omniloop/v1/acme/berlin-1/ap-1/status', Buffer.from(JSON.stringify({ state: 'online', timezone: 'Europe/Berlin', outbox: { rows: 3, oldestAgeSeconds: 4 } })));
  api = new ApiServer(store, { token: TOKEN, k: 5 });
  base = `http://127.0.0.1:${await api.start(0)}`;
});

afterAll(async () => {
  await api.stop();
  await store.close();
});

describe('HTTP API', () => {
  it('refuses requests without the right bearer token', async () => {
    expect((await get('/v1/stats', null)).status).toBe(401);
    expect((await get('/v1/stats', 'wrong-token-of-some-length')).status).toBe(401);
    expect((await get('/v1/stats')).status).toBe(200);
  });

  it('takes the bearer scheme in any case, the token exactly (issue 14, finding 9: a lower-case "bearer" was refused)', async () => {
    const with_ = (h: string) => fetch(base + '/v1/stats', { headers: { authorization: h } }).then((r) => r.status);
    expect(await with_(`bearer ${TOKEN}`)).toBe(200);
    expect(await with_(`BEARER ${TOKEN}`)).toBe(200);
    expect(await with_(`Bearer ${TOKEN.toUpperCase()}`)).toBe(401);
    expect(await with_(`Basic ${TOKEN}`)).toBe(401);
  });

  it('serves stats, agents, footfall, profiles and dead letters', async () => {
    expect(await json(get('/v1/stats'))).toMatchObject({ batches: 2, sightings: 8, stores: 1 });
    expect((await json(get('/v1/agents'))).agents).toEqual([expect.objectContaining({ store: 'berlin-1', agent: 'ap-1', state: 'online' })]);
    const foot = await json(get('/v1/footfall?tenant=acme&day=2026-11-23'));
    expect(foot.stores[0]).toMatchObject({ store: 'berlin-1', uniqueVisitors: 8, medianDwellMinutes: 10 });
    const profileId = [...(await tenantGraph(store, 'acme', DEFAULT_GRAPH_RULES)).profiles.keys()][0]!;
    const profile = await json(get(`/v1/profiles/${profileId}?tenant=acme`));
    expect(profile).toMatchObject({ profile: profileId, visits: 1, marketingConsent: false });
    expect((await get('/v1/profiles/p_0000000000000000?tenant=acme')).status).toBe(404);
    expect((await json(get('/v1/dead-letters'))).deadLetters).toEqual([]);
  });

  it('serves tenants, agents health, visits, flows, returning profiles and the graph', async () => {
    expect(await json(get('/v1/tenants'))).toEqual({ tenants: [{ tenant: 'acme', stores: ['berlin-1'], days: ['2026-11-23'] }] });
    const [agent] = (await json(get('/v1/agents'))).agents;
    expect(agent).toMatchObject({ online: true, stale: false, bufferRows: 3, timezone: 'Europe/Berlin' });
    const visits = await json(get('/v1/visits?tenant=acme&day=2026-11-23&limit=5'));
    expect(visits).toMatchObject({ total: 8, truncated: true });
    expect(visits.visits[0]).toEqual({ store: 'berlin-1', start: T, end: T + 600_000, dwellMinutes: 10, visitor: true, rssiMax: -50 });
    expect(JSON.stringify(visits)).not.toMatch(/cid|0{31}/); // visits name no device
    expect(await json(get('/v1/flows?tenant=acme&from=2026-11-17&to=2026-11-23'))).toEqual({ tenant: 'acme', from: '2026-11-17', to: '2026-11-23', k: 5, sameDay: [], acrossDays: [] });
    expect(await json(get('/v1/returning?tenant=acme&from=2026-11-17&to=2026-11-23'))).toEqual({ tenant: 'acme', k: 5, from: '2026-11-17', to: '2026-11-23', profiles: null, returning: 0, multiStore: 0 });
    // Issue 14, finding 7: identifier counts of 1 were shown; a kind below k is hidden (0 is no one: shown).
    expect(await json(get('/v1/graph?tenant=acme'))).toMatchObject({ identifiers: { cid: null, hem: null, hph: 0, loy: 0, net: 0 }, edges: 1, profiles: null, quarantinedDevices: 0 });
  });

  it('answers bad parameters with 400 and unknown paths with 404, as JSON', async () => {
    const r = await get('/v1/footfall?tenant=acme&day=yesterday');
    expect(r.status).toBe(400);
    expect(await json(r)).toEqual({ error: 'query parameter day is malformed' });
    expect((await get('/v1/footfall?day=2026-11-23')).status).toBe(400);
    expect((await get('/v1/nope')).status).toBe(404);
    expect(await json(get('/v1/flows?tenant=acme&from=2026-11-23&to=2026-11-01'))).toEqual({ error: 'the period ends before it starts' });
    expect((await get('/v1/returning?tenant=acme&from=2025-01-01&to=2026-11-01')).status).toBe(400);
    expect((await get('/v1/visits?tenant=ACME&day=2026-11-23')).status).toBe(400);
    // Issue 14, finding 9: a day that does not exist answered 200.
    for (const d of ['2026-13-45', '2026-02-30', '2026-00-10']) {
      const f = await get(`/v1/footfall?tenant=acme&day=${d}`);
      expect(f.status, d).toBe(400);
      expect((await json(f)).error).toMatch(/is not a date|YYYY-MM-DD/);
      expect((await get(`/v1/visits?tenant=acme&day=${d}`)).status, d).toBe(400);
    }
  });

  it('shows no single visits of a store-day with fewer than k of them (issue 14, finding 7: total 2 came with each visit)', async () => {
    const few = Array.from({ length: 2 }, (_, i) => ({ cid: `f${i}`.padStart(32, '0'), source: 'wifi', addressClass: 'global', first: T, last: T + 10 * 60_000, frames: 9, rssiMax: -50, rssiMean: -60, channels: [6] }));
    const b = { schema: 'omniloop.sightings/1', tenant: 'acme', store: 'hamburg-1', agent: 'ap-1', batchId: 'ap-1:x:9', seq: 9, epoch: '2026-11-22', window: { start: T - 86_400_000, end: T - 86_340_000, seconds: 60 }, sightings: few.map((x) => ({ ...x, first: T - 86_400_000, last: T - 86_400_000 + 600_000 })), ephemeral: [] };
    await ingestMessage(store, 'omniloop/v1/acme/hamburg-1/ap-1/sightings', Buffer.from(JSON.stringify(b)));
    const v = await json(get('/v1/visits?tenant=acme&day=2026-11-22'));
    expect(v).toMatchObject({ total: null, k: 5, visits: [] });
    expect((await json(get('/v1/visits?tenant=acme&day=2026-11-23'))).total).toBe(8);
  });
});
