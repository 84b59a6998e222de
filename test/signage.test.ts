/**
 * The sample signage page in Debian's chromium (playwright-core): it asks the store agent who is here
 * now and plays the playlist of the segment most present — and falls back to the default playlist when
 * fewer than k people are there or the token is wrong.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentConfigSchema } from '../agents/config/agent-config.js';
import { Pseudonymizer } from '../agents/pseudonymize/pseudonymizer.js';
import { Agent } from '../agents/runtime/agent.js';
import { StoreApi } from '../agents/runtime/store-api.js';
import { deriveLinkKey } from '../shared/identity/keys.js';
import { createLogger } from '../shared/log.js';
import { SEGMENTS_SCHEMA } from '../shared/wire/control-schema.js';
import { PcapWriter } from '../scripts/lib/capture-writer.js';
import { concat, probeRequest, radiotapHeader } from '../scripts/lib/frames.js';
import { Mosquitto, freePort } from './helpers/mosquitto.js';
import { ROOT } from './helpers/cli.js';
import { testControlKeys } from './helpers/control-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-signage-'));
/** The page's globals the waits read (the tests compile without the DOM library). */
type PageGlobals = { document: { getElementById(id: string): { dataset: Record<string, string | undefined>; textContent: string | null } | null } };
/** HQ's control key: the agent applies only segments pushes it signed. */
const keys = testControlKeys();
const OUT = join(ROOT, 'test-output');
const TOKEN = 'signage-token-of-the-store';
const SECRET = Buffer.alloc(32, 3);
const T = Date.parse('2026-11-23T11:00:00Z');
let broker: Mosquitto;
let browser: Browser;
let agent: Agent;
let api: StoreApi;
let base = '';

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  broker = new Mosquitto(await freePort());
  await broker.start();
  const cfg = agentConfigSchema.parse({ tenant: 'acme', store: 'berlin-1', agent: 'ap-1', keyFile: 'unused', outbox: { path: join(dir, 'outbox.db') }, status: { port: 0 }, broker: { url: broker.url }, storeApi: { tokenFile: 'unused', k: 3 }, control: { publicKeys: [keys.publicKey] } });
  const pseudo = new Pseudonymizer({ secret: SECRET, tenant: 'acme', timezone: 'UTC' });
  agent = new Agent(cfg, pseudo, createLogger('test', 'silent'), { linkKey: deriveLinkKey(SECRET, 'acme') });
  api = new StoreApi(agent, TOKEN, createLogger('test', 'silent'));
  base = `http://127.0.0.1:${await api.start(0)}`;
  agent.start();
  // Six people in the store: four regulars, one newcomer, one unknown.
  const macs = [1, 2, 3, 4, 5, 6].map((i) => 0x3c2ef0000000 + i);
  const file = join(dir, 'now.pcap');
  const w = new PcapWriter(file, 127);
  for (let s = 0; s < 60; s += 10) for (const m of macs) w.add(T + s * 1000, concat(radiotapHeader({ flags: 0, freqMhz: 2412, signalDbm: -50 }), probeRequest({ sa: m, seq: s })));
  w.close();
  const cids = macs.map((m) => pseudo.cidForMac(m, T));
  const push = { schema: SEGMENTS_SCHEMA, tenant: 'acme', store: 'berlin-1', epoch: '2026-11-23', ts: Date.now(), cids: Object.fromEntries([...cids.slice(0, 4).map((c) => [c, ['regulars']]), [cids[4], ['new']]]) };
  const pub = mqtt.connect(broker.url);
  await new Promise((r) => pub.once('connect', r));
  const topic = 'omniloop/v1/acme/berlin-1/control/segments';
  await pub.publishAsync(topic, keys.signer.seal(topic, JSON.stringify(push)), { qos: 1, retain: true });
  await pub.endAsync();
  for (let i = 0; i < 100 && agent.segments.updatedMs === null; i++) await new Promise((r) => setTimeout(r, 20));
  await agent.replay(file, 'max');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless=new'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await api.stop();
  await agent.stop(100);
  await broker.stop();
});

describe('signage page', () => {
  it('plays the playlist of the segment most present, and shows the k-anonymous mix', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/signage/#token=${TOKEN}&poll=1000`);
    // A function, not a string: the page's CSP (script-src 'self') refuses eval of a string predicate.
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.getElementById('screen')?.dataset.playlist === 'regulars', null, { timeout: 10_000 });
    expect(await page.textContent('h1')).toBe('Members save 10% today');
    expect(await page.textContent('#why')).toBe('store: 6 people now — playing "regulars"');
    // 1 newcomer and 1 unknown person are fewer than k = 3: not shown as numbers.
    expect(await page.textContent('#mix')).toBe('regulars 4new <3');
    expect(page.url()).not.toContain(TOKEN); // the token leaves the address bar at once
    await page.screenshot({ path: join(OUT, 'signage.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('falls back to the default playlist with a wrong token, and says why', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/signage/#token=not-the-token&poll=1000`);
    await page.waitForFunction(() => /not authorized/.test((globalThis as unknown as PageGlobals).document.getElementById('why')?.textContent ?? ''), null, { timeout: 10_000 });
    expect(await page.getAttribute('#screen', 'data-playlist')).toBe('default');
    await page.close();
  });
});
