/**
 * `omniloop demo`, step by step: start the world (broker, HQ, agents), generate a customer population's
 * traffic — two weeks of history and a live period starting now — replay the history as fast as it
 * goes, then the live period at the pace it happens, with the tills' identify events posted to the
 * agents' store API on time. Progress on stderr; a summary at the end.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { generateStoreTraffic, type IdentifyEvent, type StoreTraffic, type TrafficTruth } from '../../scripts/gen-store-traffic.js';
import { dayFigures, emptyDayFigures, type DayFigures } from '../../cloud/analytics/day-figures.js';
import { reportStats } from '../../cloud/reports/rollups.js';
import type { PeopleFigures } from '../../cloud/analytics/people.js';
import { returningProfiles, type ReturningFigures } from '../../cloud/analytics/returning.js';
import { segmentCounts, segmentMembers } from '../../cloud/segments/evaluate.js';
import { graphRules } from '../../cloud/config/cloud-config.js';
import { StoreDayClock } from '../../shared/identity/store-day.js';
import { DEMO_TENANT, DemoWorld } from './demo-world.js';
import { playLive, sleep } from './live-feed.js';

export interface DemoOptions {
  stores: number;
  /** Seconds of live traffic after the history. */
  durationSeconds: number;
  historyDays: number;
  customersPerStore: number;
  data: string;
  port: number;
  seed: number;
  log: Logger;
  /** One progress line (stderr in the CLI). */
  progress: (line: string) => void;
  signal: AbortSignal;
}

export interface DemoSummary {
  day: string;
  dashboardUrl: string;
  signageUrl: string;
  /** The last whole store-day before today (today is partial, and its live minutes are compressed). */
  wholeDay: string | null;
  /**
   * Per store: HQ's figures of today; and of the last whole day its people against the generator's truth:
   * phones heard over WiFi (customers and staff) and the distinct WiFi addresses they used (what counting
   * addresses would say).
   */
  stores: (DayFigures & { frames: number; optedOut: number; links: number; wholeDay: { people: PeopleFigures; truth: { phones: number; wifiAddresses: number } } | null })[];
  returning: ReturningFigures;
  segments: { name: string; profiles: number | null }[];
  cloud: { batches: number; sightings: number; consumerIds: number; duplicates: number; deadLetters: number };
  /**
   * How far HQ's people estimate was from the truth over the whole days of the history: mean and worst
   * absolute error per store-day (store-days with at least 20 phones), and what counting addresses gives.
   */
  accuracy: { storeDays: number; meanErrorPct: number | null; worstErrorPct: number | null; addressesMeanErrorPct: number | null };
  interrupted: boolean;
}

const STORE_NAMES = ['berlin-1', 'hamburg-1', 'munich-1', 'cologne-1', 'frankfurt-1', 'stuttgart-1', 'leipzig-1', 'dresden-1', 'bremen-1', 'hannover-1'];
const TIMEZONE = 'Europe/Berlin';
const DAY_MS = 86_400_000;

export async function runDemo(o: DemoOptions): Promise<{ world: DemoWorld; summary: DemoSummary }> {
  const dir = resolve(o.data);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'README.txt'), 'Made by `omniloop demo`: a demo tenant key, tokens, generated captures, the demo databases. Safe to delete.\n');
  const names = STORE_NAMES.slice(0, o.stores);
  const world = await DemoWorld.start({ dir, stores: names, timezone: TIMEZONE, port: o.port, log: o.log });
  o.progress(`HQ dashboard: ${world.dashboardUrl}`);

  const now = Date.now();
  const clock = new StoreDayClock(TIMEZONE, 0);
  const today = clock.interval(now);
  const historyStart = clock.interval(today.startMs - o.historyDays * DAY_MS + 1).startMs;
  o.progress(`generating ${o.historyDays} days of history and ${o.durationSeconds} s of live traffic for ${names.length} stores ...`);
  const { traffic, truth } = generateStoreTraffic({
    stores: names,
    customers: o.customersPerStore * names.length,
    seed: o.seed,
    timezone: TIMEZONE,
    outDir: dir,
    // --duration 0: the history alone, no live period.
    periods: [
      { name: 'history', startMs: historyStart, endMs: now },
      ...(o.durationSeconds > 0 ? [{ name: 'live', startMs: now, endMs: now + o.durationSeconds * 1000, busy: true }] : []),
    ],
  });
  // A few customers asked not to be tracked: HQ publishes their tokens, the agents drop them from then on.
  await world.optOut(truth.optedOutMacs);
  o.progress(`${truth.optedOutMacs.length} devices opted out; the agents drop them before anything is stored`);

  const of = (period: string) => world.stores.map((s) => ({ s, t: traffic.find((t) => t.store === s.name && t.period === period)! }));
  let interrupted = false;
  const ticker = startProgress(world, o.progress);
  try {
    // History: as fast as it goes; its identify events are a backfill (older than a day).
    await Promise.all(
      of('history').map(async ({ s, t }) => {
        for (const e of t.identifies) s.agent.identify(identifyBody(e), now - historyStart + DAY_MS);
        await s.agent.replay(t.file, 'max', o.signal);
      }),
    );
    if (!o.signal.aborted && o.durationSeconds > 0) {
      o.progress('history replayed; live traffic now, at the pace it happens (Ctrl-C stops)');
      await Promise.all(of('live').map(({ s, t }) => Promise.all([playLive(s.agent, t.file, o.signal), postOnTime(s.apiUrl, world.tokens.store, t, o.signal)])));
    }
    interrupted = o.signal.aborted;
    for (const s of world.stores) {
      s.agent.flushWindows(-Infinity, true);
      await s.agent.publisher?.drain(10_000);
    }
    await waitForCloud(world);
  } finally {
    clearInterval(ticker);
  }
  await world.cloud.activation.tick();
  return { world, summary: await summarize(world, today.day, historyStart, traffic, truth, interrupted) };
}

/** The body a till or a captive portal would post. */
function identifyBody(e: IdentifyEvent): Record<string, unknown> {
  return { mac: e.mac, email: e.email, phone: e.phone, loyaltyId: e.loyaltyId, consent: e.consent, ts: e.tsMs, connected: e.connected };
}

/** Posts each live identify event to the store's API when its time comes, as the till would. */
async function postOnTime(base: string, token: string, t: StoreTraffic, signal: AbortSignal): Promise<void> {
  for (const e of t.identifies) {
    const wait = e.tsMs - Date.now();
    if (wait > 0) await sleep(wait, signal);
    if (signal.aborted) return;
    await fetch(`${base}/v1/identify`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(identifyBody(e)) }).catch(() => {});
  }
}

function startProgress(world: DemoWorld, progress: (line: string) => void): NodeJS.Timeout {
  const t = setInterval(() => {
    const frames = world.stores.reduce((n, s) => n + s.agent.pipeline.counters.frames, 0);
    const sightings = world.stores.reduce((n, s) => n + s.agent.counters.sightings, 0);
    const links = world.stores.reduce((n, s) => n + s.agent.counters.links, 0);
    const sent = world.stores.reduce((n, s) => n + (s.agent.publisher?.published ?? 0), 0);
    const c = world.cloud.consumer.counts;
    const present = world.stores.reduce((n, s) => n + (s.agent.presence?.present().length ?? 0), 0);
    progress(`${new Date().toISOString().slice(11, 19)}  frames ${fmt(frames)}  sightings ${fmt(sightings)}  identify ${fmt(links)}  batches sent ${fmt(sent)} → stored at HQ ${fmt(c.stored)}  present now ${fmt(present)}`);
  }, 3000);
  t.unref();
  return t;
}

async function waitForCloud(world: DemoWorld): Promise<void> {
  const sent = () => world.stores.reduce((n, s) => n + (s.agent.publisher?.published ?? 0), 0);
  const c = world.cloud.consumer.counts;
  for (let i = 0; i < 200 && c.stored + c.duplicate < sent(); i++) await new Promise((r) => setTimeout(r, 50));
}

async function summarize(world: DemoWorld, day: string, historyStart: number, traffic: StoreTraffic[], truth: TrafficTruth, interrupted: boolean): Promise<DemoSummary> {
  const st = world.cloud.store;
  const cfg = world.cloud.cfg;
  const figures = await dayFigures(st, DEMO_TENANT, day, cfg.api!.k);
  // Whole days: every day of the generator's truth before today.
  const wholeDays = [...new Set(Object.values(truth.people).flatMap((byDay) => Object.keys(byDay)))].filter((d) => d < day).sort();
  const wholeDay = wholeDays.at(-1) ?? null;
  const whole = wholeDay ? await dayFigures(st, DEMO_TENANT, wholeDay, cfg.api!.k) : [];
  const from = new Date(historyStart + 12 * 3_600_000).toISOString().slice(0, 10);
  const stats = await reportStats(st);
  return {
    day,
    wholeDay,
    dashboardUrl: world.dashboardUrl,
    signageUrl: world.signageUrl(world.stores[0]!),
    stores: world.stores.map((s) => {
      const f = figures.find((x) => x.store === s.name) ?? emptyDayFigures(s.name, day, TIMEZONE);
      const t = wholeDay ? truth.people[s.name]?.[wholeDay] : undefined;
      return {
        ...f,
        frames: traffic.filter((t) => t.store === s.name).reduce((n, t) => n + t.frames, 0),
        optedOut: s.agent.pipeline.counters.optedOut,
        links: s.agent.counters.links,
        wholeDay: wholeDay ? { people: (whole.find((x) => x.store === s.name) ?? emptyDayFigures(s.name, wholeDay, TIMEZONE)).people, truth: { phones: t?.wifiPhones ?? 0, wifiAddresses: t?.wifiAddresses ?? 0 } } : null,
      };
    }),
    returning: await returningProfiles(st, DEMO_TENANT, from, day, cfg.api!.k, graphRules(cfg)),
    segments: segmentCounts(await segmentMembers(st, DEMO_TENANT, day, cfg.segments, graphRules(cfg)), cfg.api!.k),
    cloud: { batches: stats.batches, sightings: stats.sightings, consumerIds: stats.consumerIds, duplicates: stats.duplicates, deadLetters: stats.deadLetters },
    accuracy: await estimateAccuracy(st, wholeDays, truth),
    interrupted,
  };
}

/** The estimate against the truth on the whole days (an aggregate error, no count of people). */
async function estimateAccuracy(st: DemoWorld['cloud']['store'], days: readonly string[], truth: TrafficTruth): Promise<DemoSummary['accuracy']> {
  const errors: number[] = [];
  const naive: number[] = [];
  for (const day of days) {
    for (const f of await dayFigures(st, DEMO_TENANT, day, 1)) {
      const t = truth.people[f.store]?.[day];
      if (!t || t.wifiPhones < 20 || f.people.estimated === null) continue;
      errors.push(Math.abs(f.people.estimated - t.wifiPhones) / t.wifiPhones);
      naive.push(Math.abs(t.wifiAddresses - t.wifiPhones) / t.wifiPhones);
    }
  }
  const pct = (x: number) => Math.round(1000 * x) / 10;
  const mean = (xs: number[]) => (xs.length ? pct(xs.reduce((a, b) => a + b, 0) / xs.length) : null);
  return { storeDays: errors.length, meanErrorPct: mean(errors), worstErrorPct: errors.length ? pct(Math.max(...errors)) : null, addressesMeanErrorPct: mean(naive) };
}

const fmt = (n: number) => n.toLocaleString('en-US');
