/**
 * HQ dashboard: served by the API server (no token for the page, a token for every data request), drawn
 * with ECharts in a real (Debian) Chromium from a realistically seeded SQLite store — three stores, a few
 * hundred devices a day, passers-by, cross-store visits, link events across two days, agent status —
 * live-updating, signing in again after a 401, and refusing path traversal.
 */
import { mulberry32 } from '../scripts/lib/prng.js';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../cloud/api/server.js';
import { ingestMessage } from '../cloud/ingest/ingest.js';
import { SqliteCloudStore } from '../cloud/store/sqlite-store.js';
import { hashEmail, hashPhone } from '../shared/identity/link-keys.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'test-output');
const TOKEN = 'dashboard-test-token-0123456789';
const TENANT = 'acme';
const STORES = ['berlin-1', 'hamburg-1', 'munich-1'] as const;
const DAYS = ['2026-11-22', '2026-11-23'] as const;
const TZ = 'Europe/Berlin'; // UTC+1 in November
const DEVICES = 450;
const CUSTOMERS = 78;
const WINDOW_MS = 5 * 60_000;

/** Deterministic data: the same seed, the same charts. */
const prng = mulberry32;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const cidOf = (day: string, device: number) => sha(`${day}|device|${device}`).slice(0, 32);
/** UTC ms of a local Berlin time on a store-day (UTC+1 in November). */
const local = (day: string, hour: number, minute = 0) => Date.parse(`${day}T00:00:00Z`) + ((hour - 1) * 60 + minute) * 60_000;
const buf = (o: unknown) => Buffer.from(JSON.stringify(o));

interface Visit {
  store: string;
  cid: string;
  start: number;
  end: number;
  rssi: number;
}

/** One store-day's visits: passers-by with weak signal, dwell from seconds to two hours, some devices in two stores. */
function visitsOfDay(day: string, dayIndex: number): Visit[] {
  const rnd = prng(1000 + dayIndex);
  const close = local(day, 21, 55);
  const visits: Visit[] = [];
  for (let i = 0; i < DEVICES; i++) {
    const cid = cidOf(day, i);
    // Customers with link events: a known store each day, so across-day flows go somewhere definite.
    const customer = Math.floor(i / 5) < CUSTOMERS && i % 5 === dayIndex ? Math.floor(i / 5) : -1;
    const r = rnd();
    const store = customer >= 0 ? STORES[(customer + dayIndex) % 3]! : r < 0.45 ? STORES[0] : r < 0.75 ? STORES[1] : STORES[2];
    // Arrivals peak around lunch and after work.
    const peak = rnd() < 0.5 ? 12.5 : 17.5;
    const hour = Math.min(20.9, Math.max(8, peak + (rnd() + rnd() + rnd() - 1.5) * 3.2));
    const start = local(day, 0) + Math.round(hour * 3_600_000);
    const kind = rnd();
    let dwellMin: number;
    let rssi: number;
    if (kind < 0.25 && customer < 0) {
      dwellMin = 0.3 + rnd() * 2.2; // passer-by: short and far
      rssi = -86 + Math.round(rnd() * 14);
    } else if (kind < 0.33) {
      dwellMin = 0.2 + rnd() * 0.7; // a quick stop close to the sensor
      rssi = -62 + Math.round(rnd() * 10);
    } else {
      const b = rnd();
      dwellMin = b < 0.25 ? 1 + rnd() * 4 : b < 0.55 ? 5 + rnd() * 10 : b < 0.8 ? 15 + rnd() * 15 : b < 0.95 ? 30 + rnd() * 30 : 60 + rnd() * 60;
      rssi = -76 + Math.round(rnd() * 30);
    }
    const end = Math.min(close, start + Math.round(dwellMin * 60_000));
    visits.push({ store, cid, start, end, rssi });
    // A quarter of the close visitors go on to another store the same day (customers do not: their flows stay definite).
    if (customer < 0 && rssi > -70 && dwellMin >= 3 && rnd() < 0.25 && end < local(day, 20)) {
      const others = STORES.filter((s) => s !== store);
      const next = others[Math.floor(rnd() * others.length)]!;
      const s2 = end + Math.round((20 + rnd() * 60) * 60_000);
      visits.push({ store: next, cid, start: s2, end: Math.min(close, s2 + Math.round((4 + rnd() * 25) * 60_000)), rssi: -68 + Math.round(rnd() * 15) });
    }
  }
  return visits;
}

const seq = new Map<string, number>();
function nextSeq(store: string): number {
  const n = (seq.get(store) ?? 0) + 1;
  seq.set(store, n);
  return n;
}

/** Visits cut into the agents' 5-minute windows, one sightings batch per store and window, as agents send them. */
async function ingestVisits(cloud: SqliteCloudStore, day: string, visits: Visit[], withEstimate = true): Promise<void> {
  const batches = new Map<string, { store: string; wStart: number; sightings: unknown[] }>();
  for (const v of visits) {
    for (let w = Math.floor(v.start / WINDOW_MS) * WINDOW_MS; w <= v.end; w += WINDOW_MS) {
      const key = `${v.store}|${w}`;
      const b = batches.get(key) ?? batches.set(key, { store: v.store, wStart: w, sightings: [] }).get(key)!;
      const first = Math.max(v.start, w);
      const last = Math.min(v.end, w + WINDOW_MS - 1);
      b.sightings.push({ cid: v.cid, source: 'wifi', addressClass: 'global', first, last, frames: 1 + Math.floor((last - first) / 7_000), rssiMax: v.rssi, rssiMean: v.rssi - 6, channels: [1, 6, 11] });
    }
  }
  for (const b of [...batches.values()].sort((x, y) => x.wStart - y.wStart)) {
    const n = nextSeq(b.store);
    const batch = {
      schema: 'omniloop.sightings/1',
      tenant: TENANT,
      store: b.store,
      agent: 'ap-1',
      batchId: `ap-1:5eed:${n}`,
      seq: n,
      epoch: day,
      window: { start: b.wStart, end: b.wStart + WINDOW_MS, seconds: WINDOW_MS / 1000 },
      sightings: b.sightings,
      ephemeral: [{ source: 'wifi', addressClass: 'randomized', devices: 12, frames: 80 }],
      // The agent's estimate of the phones behind those 12 addresses: half a new one per window.
      ...(withEstimate ? { estimate: { method: 'ephemeral-v1', wifi: { present: 3, arrivals: 0.5 }, ble: { present: 1, arrivals: 0.25 } } } : {}),
    };
    expect(await ingestMessage(cloud, `omniloop/v1/${TENANT}/${b.store}/ap-1/sightings`, buf(batch))).toBe('stored');
  }
}

/** Link events: customers identified on both days (hashed e-mail, some phone and loyalty too), some on one day, one shared device. */
async function ingestLinks(cloud: SqliteCloudStore): Promise<void> {
  const byStore = new Map<string, { day: string; links: Record<string, unknown>[] }[]>();
  const add = (store: string, day: string, link: Record<string, unknown>) => {
    const list = byStore.get(store) ?? byStore.set(store, []).get(store)!;
    let group = list.find((g) => g.day === day);
    if (!group) list.push((group = { day, links: [] }));
    group.links.push(link);
  };
  for (let c = 0; c < CUSTOMERS; c++) {
    const hem = hashEmail(`customer${c}@example.com`);
    const consent = { marketing: c % 3 !== 0 };
    const twoDays = c < 55 || c >= 75;
    for (const [dayIndex, day] of DAYS.entries()) {
      if (dayIndex === 0 && !twoDays) continue;
      const link: Record<string, unknown> = { ts: local(day, 13), cid: cidOf(day, c * 5 + dayIndex), hem, consent };
      if (dayIndex === 1 && (c >= 40 && c < 55 || c >= 75)) link.hph = hashPhone(`+49 30 5550${String(c).padStart(3, '0')}`, '49');
      if (dayIndex === 1 && c >= 75) link.loyalty = sha(`loyalty|${c}`);
      add(STORES[(c + dayIndex) % 3]!, day, link);
    }
  }
  // A demo phone at the till, linked to four people: a shared device, quarantined.
  const shared = cidOf(DAYS[1], 4);
  for (let p = 0; p < 4; p++) add(STORES[0], DAYS[1], { ts: local(DAYS[1], 15, p), cid: shared, hem: hashEmail(`walk-in${p}@example.com`), consent: { marketing: false } });
  for (const [store, groups] of byStore) {
    for (const g of groups) {
      const n = nextSeq(store);
      const batch = { schema: 'omniloop.links/1', tenant: TENANT, store, agent: 'ap-1', batchId: `ap-1:5eed:${n}`, seq: n, epoch: g.day, links: g.links };
      expect(await ingestMessage(cloud, `omniloop/v1/${TENANT}/${store}/ap-1/links`, buf(batch))).toBe('stored');
    }
  }
}

const AGENTS = [
  { store: 'berlin-1', status: { state: 'online', timezone: TZ, outbox: { rows: 0, oldestAgeSeconds: 0 } }, expect: { state: 'online', buffer: '0' } },
  { store: 'hamburg-1', status: { state: 'online', timezone: TZ, outbox: { rows: 37, oldestAgeSeconds: 540 } }, expect: { state: 'online', buffer: '37' } },
  { store: 'munich-1', status: { state: 'offline', timezone: TZ, outbox: { rows: 212, oldestAgeSeconds: 3600 } }, expect: { state: 'offline', buffer: '212' } },
];

let cloud: SqliteCloudStore;
let api: ApiServer;
let port = 0;
let browser: Browser;

beforeAll(async () => {
  cloud = new SqliteCloudStore(join(mkdtempSync(join(tmpdir(), 'omniloop-dashboard-')), 'cloud.db'));
  for (const a of AGENTS) expect(await ingestMessage(cloud, `omniloop/v1/${TENANT}/${a.store}/ap-1/status`, buf(a.status))).toBe('agent');
  for (const [i, day] of DAYS.entries()) await ingestVisits(cloud, day, visitsOfDay(day, i));
  await ingestLinks(cloud);
  api = new ApiServer(cloud, { token: TOKEN, k: 5 });
  port = await api.start(0);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless=new'] });
  mkdirSync(OUT, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await api?.stop();
  await cloud?.close();
});

/** A raw request: fetch() would normalize `/dashboard/../x` before sending it. */
function raw(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface PageLog {
  errors: string[];
  failed: string[];
  bad: string[];
}

function watch(page: Page): PageLog {
  const log: PageLog = { errors: [], failed: [], bad: [] };
  page.on('console', (m) => {
    // A 404 for /v1/segments is how the page learns that route is not there (yet): expected.
    if (m.type() === 'error' && !/\/v1\/segments/.test(m.location().url)) log.errors.push(`${m.text()} @ ${m.location().url}`);
  });
  page.on('pageerror', (e) => log.errors.push(String(e)));
  page.on('requestfailed', (r) => log.failed.push(`${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400 && !(r.status() === 404 && r.url().includes('/v1/segments'))) log.bad.push(`${r.status()} ${r.url()}`);
  });
  return log;
}

/** What the callbacks run in the page use of it (this file compiles without the DOM lib). */
interface InPage {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  echarts: { getInstanceByDom(el: unknown): { getOption(): any; dispatchAction(a: object): void } | undefined };
  document: { getElementById(id: string): { querySelectorAll(sel: string): Iterable<{ textContent: string | null }> } | null };
}
/** The option of a chart (series data included), read from ECharts itself. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const chartOption = (page: Page, id: string): Promise<any> =>
  page.evaluate((elId) => {
    const w = globalThis as unknown as InPage;
    const e = w.echarts.getInstanceByDom(w.document.getElementById(elId));
    return e ? JSON.parse(JSON.stringify(e.getOption())) : null;
  }, id);
/** The footfall chart's data by store. */
const footfallData = (page: Page) => chartOption(page, 'chart-footfall').then((o) => o.series.map((s: { id: string; data: (number | null)[] }) => ({ id: s.id, data: s.data })));
/** Shown numbers of a series (a suppressed placeholder is an object flagged `suppressed`, never a number). */
const numbers = (data: unknown[]): number[] => data.map((d) => (typeof d === 'number' ? d : null)).filter((d): d is number => d !== null);

describe('HQ dashboard', () => {
  it('serves its assets without a token, with content types and cache headers, and nothing else', async () => {
    const root = await raw('/');
    expect(root.status).toBe(302);
    expect(root.headers.location).toBe('/dashboard/');
    const page = await raw('/dashboard/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).toContain('echarts.min.js');
    expect(page.body).not.toContain(TOKEN);
    const js = await raw('/dashboard/dashboard.js');
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('no-cache');
    expect((await raw('/dashboard/dashboard.js', { 'if-none-match': String(js.headers.etag) })).status).toBe(304);
    expect((await raw('/dashboard/dashboard.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    const ec = await raw('/dashboard/echarts.min.js');
    expect(ec.status).toBe(200);
    expect(ec.headers['cache-control']).toMatch(/max-age=\d+/);
    expect(ec.body.length).toBeGreaterThan(500_000);
    for (const path of ['/dashboard/../package.json', '/dashboard/%2e%2e/package.json', '/dashboard/..%2fpackage.json', '/dashboard//etc/passwd', '/dashboard/serve.ts', '/dashboard/nope.js', '/dashboard/constructor']) {
      expect((await raw(path)).status, path).toBe(404);
    }
    // Data stays behind the token.
    expect((await raw('/v1/stats')).status).toBe(401);
    expect((await raw('/v1/stats', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });

  it('finds its assets when run from the built dist/ as well', async () => {
    // The build (vitest's global setup) compiles serve.ts into dist/; the assets stay in the source tree.
    const distServer = join(ROOT, 'dist', 'cloud', 'api', 'server.js');
    const mod = (await import(distServer)) as { ApiServer: typeof ApiServer };
    const distApi = new mod.ApiServer(cloud, { token: TOKEN, k: 5 });
    const p = await distApi.start(0);
    try {
      for (const asset of ['', 'dashboard.js', 'dashboard.css', 'echarts.min.js']) expect((await fetch(`http://127.0.0.1:${p}/dashboard/${asset}`)).status, asset).toBe(200);
    } finally {
      await distApi.stop();
    }
  });

  it('draws every chart with data, lists the agents, and updates live', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const log = watch(page);
    await page.goto(`http://127.0.0.1:${port}/dashboard/#token=${TOKEN}&poll=1000`);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 20_000 });
    await page.locator('#agents-table tbody tr').nth(2).waitFor();
    expect(await page.locator('#agents-table tbody tr').count()).toBe(3);
    // The token left the address bar at once; it is kept for the tab only.
    expect(page.url()).not.toContain('token');
    expect(await page.evaluate('sessionStorage.getItem("omniloop.hq.token")')).toBe(TOKEN);

    expect(await page.locator('#tenant').inputValue()).toBe(TENANT);
    expect(await page.locator('#day').inputValue()).toBe(DAYS[1]); // the newest store-day

    const footfall = await chartOption(page, 'chart-footfall');
    expect(footfall.series.map((s: { id: string }) => s.id)).toEqual([...STORES]);
    for (const s of footfall.series) {
      expect(s.data).toHaveLength(24);
      expect(Math.max(...numbers(s.data))).toBeGreaterThanOrEqual(5);
    }
    const dwell = await chartOption(page, 'chart-dwell');
    expect(dwell.series).toHaveLength(3);
    for (let bucket = 0; bucket < 6; bucket++) expect(Math.max(...dwell.series.map((s: { data: unknown[] }) => (typeof s.data[bucket] === 'number' ? (s.data[bucket] as number) : 0))), `dwell bucket ${bucket}`).toBeGreaterThan(0);
    const visitors = await chartOption(page, 'chart-visitors');
    expect(visitors.yAxis[0].data.slice().sort()).toEqual([...STORES]);
    for (const s of visitors.series) expect(numbers(s.data).every((n) => n >= 5), s.name).toBe(true); // visitors and passers-by in every store

    const flows = await chartOption(page, 'chart-flows');
    const sameDay = flows.series[0].links as { source: string; target: string; value: number | null }[];
    expect(sameDay.filter((l) => (l.value ?? 0) >= 5).length).toBeGreaterThanOrEqual(3);
    expect(sameDay.some((a) => sameDay.some((b) => a.source === b.target && a.target === b.source))).toBe(true); // both directions: no sankey
    await page.click('[data-flow="acrossDays"]');
    const across = (await chartOption(page, 'chart-flows')).series[0].links as { source: string; target: string; value: number | null }[];
    expect(across.map((l) => `${l.source}>${l.target}`).sort()).toEqual(['berlin-1>hamburg-1', 'hamburg-1>munich-1', 'munich-1>berlin-1']);
    expect(across.every((l) => (l.value ?? 0) >= 5)).toBe(true);
    await page.click('[data-flow="sameDay"]');

    const graph = await chartOption(page, 'chart-graph');
    const kinds = Object.fromEntries(graph.series[0].data.map((d: { name: string; value: number }) => [d.name, d.value]));
    // Three loyalty ids are fewer than k = 5: hidden by the API (issue 14, finding 7), drawn as nothing.
    expect(kinds).toMatchObject({ 'Hashed e-mails': CUSTOMERS + 4, 'Hashed phones': 18, 'Loyalty ids': 0 });
    expect(kinds['Device-days']).toBeGreaterThan(CUSTOMERS);
    expect(await page.locator('#graph-quarantined').textContent()).toBe('1');
    const sizes = await chartOption(page, 'chart-sizes');
    expect(numbers(sizes.series[0].data).filter((n) => n >= 5).length).toBeGreaterThanOrEqual(2);
    // Three profiles of five identifiers: fewer than k, drawn as a "<5" placeholder, never as a number.
    const five = sizes.xAxis[0].data.indexOf('5');
    expect(sizes.series[0].data[five]).toMatchObject({ suppressed: true });
    const returning = await chartOption(page, 'chart-returning');
    // Every customer seen; those identified on both days returned, each time in another store.
    expect(returning.series[0].data.map((d: { value: number }) => d.value)).toEqual([CUSTOMERS, 58, 58]);

    // The agents table: state and buffer depth of each.
    for (const a of AGENTS) {
      const row = page.locator(`#agents-table tr[data-agent="${a.store}/ap-1"]`);
      expect(await row.getAttribute('data-state'), a.store).toBe(a.expect.state);
      expect(await row.locator('td.buffer').textContent(), a.store).toMatch(new RegExp(`^${a.expect.buffer}`));
    }
    expect(await page.locator('#kpi-agents').textContent()).toBe('2 / 3');
    expect(await page.locator('#kpi-visitors').textContent()).toMatch(/^\d[\d,]*$/);
    // The headline is people heard, estimated for every phone: more than the known ones, and said so.
    const day = (await (await fetch(`http://127.0.0.1:${port}/v1/footfall?tenant=${TENANT}&day=${DAYS[1]}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { stores: { people: { estimated: number; known: number } }[] };
    const people = day.stores.reduce((a, s) => a + s.people.estimated, 0);
    const known = day.stores.reduce((a, s) => a + s.people.known, 0);
    expect(people).toBeGreaterThan(known);
    expect(await page.locator('#kpi-people').textContent()).toBe(people.toLocaleString('en-US'));
    expect(await page.locator('#kpi-people-sub').textContent()).toBe(`${known.toLocaleString('en-US')} known (${Math.round((100 * known) / people)} %)`);

    // Segments come with a later route: without it (404) the card stays hidden, with it the card shows its bars.
    const segments = await fetch(`http://127.0.0.1:${port}/v1/segments?tenant=${TENANT}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await page.locator('#card-segments').isVisible()).toBe(segments.status !== 404);
    if (segments.status !== 404) {
      const body = (await segments.json()) as { segments: { name: string; profiles: number | null }[] };
      const drawn = await chartOption(page, 'chart-segments');
      const byName = Object.fromEntries(drawn.yAxis[0].data.map((n: string, i: number) => [n, drawn.series[0].data[i]]));
      for (const sg of body.segments) expect(byName[sg.name], sg.name).toEqual(sg.profiles === null ? expect.objectContaining({ suppressed: true }) : sg.profiles);
    }

    await page.screenshot({ path: join(OUT, 'dashboard.png'), fullPage: true });

    // Idle polling is cheap: without new data, only stats and agents are asked for.
    const asked: string[] = [];
    const onRequest = (r: { url(): string }) => {
      const path = new URL(r.url()).pathname;
      if (path.startsWith('/v1/')) asked.push(path);
    };
    page.on('request', onRequest);
    await page.waitForTimeout(2_500);
    page.off('request', onRequest);
    expect(asked.length).toBeGreaterThanOrEqual(4);
    expect([...new Set(asked)].sort()).toEqual(['/v1/agents', '/v1/stats']);

    // Live: late visitors at 23:00 in Berlin show up within a few polls, as does an agent's new buffer depth.
    const hour23 = () => chartOption(page, 'chart-footfall').then((o) => o.series.find((s: { id: string }) => s.id === 'berlin-1').data[23]);
    expect(await hour23()).toBe(0);
    const late = Array.from({ length: 8 }, (_, i) => ({ store: 'berlin-1', cid: cidOf(DAYS[1], 9000 + i), start: local(DAYS[1], 23, 2), end: local(DAYS[1], 23, 30), rssi: -55 }));
    await ingestVisits(cloud, DAYS[1], late, false); // an older agent: no estimate, the known phones alone
    await ingestMessage(cloud, `omniloop/v1/${TENANT}/munich-1/ap-1/status`, buf({ state: 'online', timezone: TZ, outbox: { rows: 5, oldestAgeSeconds: 30 } }));
    await expect.poll(hour23, { timeout: 8_000, interval: 200 }).toBe(8);
    await page.waitForSelector('#agents-table tr[data-agent="munich-1/ap-1"][data-state="online"]', { timeout: 8_000 });
    expect(await page.locator('#agents-table tr[data-agent="munich-1/ap-1"] td.buffer').textContent()).toMatch(/^5/);

    // A suppressed count reads "<5" in the tooltip, never 0.
    const hidden = dwell.series.flatMap((sr: { id: string; data: unknown[] }, si: number) => sr.data.flatMap((d, di) => (d && typeof d === 'object' && (d as { suppressed?: boolean }).suppressed ? [{ si, di, store: sr.id }] : [])));
    expect(hidden.length).toBeGreaterThan(0);
    const tip = await page.evaluate(({ si, di }) => {
      const w = globalThis as unknown as InPage;
      const el = w.document.getElementById('chart-dwell')!;
      w.echarts.getInstanceByDom(el)!.dispatchAction({ type: 'showTip', seriesIndex: si, dataIndex: di });
      return [...el.querySelectorAll('div')].map((d) => d.textContent ?? '').find((t) => t.startsWith('dwell')) ?? '';
    }, hidden[0]);
    expect(tip).toMatch(new RegExp(`${hidden[0].store}\\s*<5`));
    await page.locator('#card-dwell').screenshot({ path: join(OUT, 'dashboard-tooltip.png') });

    // Another store-day: the figures follow, and the view can be bookmarked (without the token).
    const before = JSON.stringify(await footfallData(page));
    await page.selectOption('#day', DAYS[0]);
    await expect.poll(() => page.url()).toContain(`day=${DAYS[0]}`);
    await expect.poll(() => footfallData(page).then((d) => JSON.stringify(d)), { timeout: 5_000 }).not.toBe(before);
    expect(await page.locator('#period').textContent()).toMatch(/Nov 16 – Nov 22/);
    expect(page.url()).not.toContain('token');

    // A narrow screen: one column, nothing cut off.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(400);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(OUT, 'dashboard-mobile.png'), fullPage: true });

    expect(log.errors).toEqual([]);
    expect(log.failed).toEqual([]);
    expect(log.bad).toEqual([]);
    await context.close();
  }, 120_000);

  it('asks for a token again when the one it has is refused', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const log = watch(page);
    await page.goto(`http://127.0.0.1:${port}/dashboard/#token=not-the-right-token-at-all&poll=1000`);
    await page.waitForSelector('#login[open]', { timeout: 10_000 });
    expect(await page.locator('#login-error').textContent()).toMatch(/refused/);
    await page.screenshot({ path: join(OUT, 'dashboard-signin.png') });
    await page.fill('#login-token', TOKEN);
    await page.click('#login button[type="submit"]');
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 20_000 });
    expect(await page.locator('#login').getAttribute('open')).toBeNull();
    expect(await page.evaluate('sessionStorage.getItem("omniloop.hq.token")')).toBe(TOKEN);
    // Only the refused token's requests failed.
    expect(log.bad.every((b) => b.startsWith('401 '))).toBe(true);
    expect(log.bad.length).toBeGreaterThan(0);
    expect(log.failed).toEqual([]);
    await context.close();
  }, 120_000);
});
