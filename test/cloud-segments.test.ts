/**
 * Segments: the pure rules and activity (each condition, new vs returning, window edges), consent per
 * profile (the latest decision wins), and the store-facing evaluation on both databases — incremental
 * for the devices present now (same answer as a full evaluation, reading only their profiles' days in
 * the window), every profile for counts, the graph cache invalidated by links, unmerges and erasure —
 * and the API route and CLI command that show the counts.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ingestMessage } from '../cloud/ingest/ingest.js';
import type { CloudStore } from '../cloud/store/cloud-store.js';
import { buildVisits, type Visit } from '../cloud/analytics/visits.js';
import { daysBetween } from '../cloud/analytics/period.js';
import { buildIdentityGraph, DEFAULT_GRAPH_RULES } from '../cloud/identity/graph.js';
import { consentOf, type ConsentEdge } from '../cloud/identity/consent.js';
import { eraseProfile, findProfile } from '../cloud/identity/profiles.js';
import { activityOf, visitsBySubject, windowStart } from '../cloud/segments/activity.js';
import { DEFAULT_SEGMENTS, matches, segmentRuleSchema, segmentsOf, segmentsSchema, type SegmentRule } from '../cloud/segments/rules.js';
import { segmentMembers, segmentsOfCids } from '../cloud/segments/evaluate.js';
import { tenantGraph } from '../cloud/identity/tenant-graph.js';
import { loadCloudConfig } from '../cloud/config/cloud-config.js';
import { ApiServer } from '../cloud/api/server.js';
import { runCliAsync } from './helpers/cli.js';
import { backends } from './helpers/backends.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-segments-'));
const { list: BACKENDS, dropAll } = backends(dir, 'seg');
afterAll(dropAll);

const D0 = '2026-11-23';
const day = (offset: number) => new Date(Date.parse(`${D0}T00:00:00Z`) + offset * 86_400_000).toISOString().slice(0, 10);
const at = (d: string, hour: number, minute = 0) => Date.parse(`${d}T00:00:00Z`) + hour * 3_600_000 + minute * 60_000;
const cidOf = (label: string, d: string) => createHash('md5').update(`${label}|${d}`).digest('hex');
const hemOf = (label: string) => createHash('sha256').update(`${label}@example.com`).digest('hex');
const rule = (r: Record<string, unknown>): SegmentRule => segmentRuleSchema.parse({ name: 'x', ...r });

// ---------------------------------------------------------------- pure

function visit(epoch: string, store: string, minutes: number, visitor = true, cid = 'c'): Visit {
  const start = at(epoch, 10);
  return { store, epoch, cid, start, end: start + minutes * 60_000, frames: 5, rssiMax: -70, visitor };
}

describe('activity and rules (pure)', () => {
  it('counts visitor visits, stores and the longest dwell inside the window only', () => {
    const visits = [
      visit(day(-30), 'rome-1', 50), // the day before the window of 30
      visit(day(-29), 'berlin-1', 5), // its first day
      visit(day(-1), 'paris-1', 12),
      visit(D0, 'berlin-1', 7),
      visit(D0, 'paris-1', 40, false), // a pass-by, however long
      visit(day(1), 'rome-1', 90), // after the day
    ];
    expect(windowStart(D0, 30)).toBe(day(-29));
    expect(windowStart(D0, 1)).toBe(D0);
    expect(activityOf(visits, D0, 30)).toEqual({ visits: 3, stores: 2, longestDwellMinutes: 12, onDay: true, before: true });
    expect(activityOf(visits, D0, 31)).toEqual({ visits: 4, stores: 3, longestDwellMinutes: 50, onDay: true, before: true });
    expect(activityOf(visits, D0, 1)).toEqual({ visits: 1, stores: 1, longestDwellMinutes: 7, onDay: true, before: false });
    expect(activityOf(visits, day(-2), 1)).toEqual({ visits: 0, stores: 0, longestDwellMinutes: 0, onDay: false, before: false });
  });

  it('matches each condition, and all of them together', () => {
    const a = { visits: 3, stores: 2, longestDwellMinutes: 20, onDay: true, before: false };
    expect(matches(rule({ minVisits: 3 }), a)).toBe(true);
    expect(matches(rule({ minVisits: 4 }), a)).toBe(false);
    expect(matches(rule({ minStores: 2 }), a)).toBe(true);
    expect(matches(rule({ minStores: 3 }), a)).toBe(false);
    expect(matches(rule({ minDwellMinutes: 20 }), a)).toBe(true);
    expect(matches(rule({ minDwellMinutes: 20.5 }), a)).toBe(false);
    expect(matches(rule({ customer: 'new' }), a)).toBe(true);
    expect(matches(rule({ customer: 'returning' }), a)).toBe(false);
    expect(matches(rule({ customer: 'returning' }), { ...a, before: true })).toBe(true);
    expect(matches(rule({ customer: 'new' }), { ...a, before: true })).toBe(false);
    // Neither new nor returning without a visit on the day itself.
    expect(matches(rule({ customer: 'new' }), { ...a, onDay: false })).toBe(false);
    expect(matches(rule({ customer: 'returning' }), { ...a, onDay: false, before: true })).toBe(false);
    expect(matches(rule({ minVisits: 3, minStores: 2, minDwellMinutes: 15, customer: 'new' }), a)).toBe(true);
    expect(matches(rule({ minVisits: 3, minStores: 3, minDwellMinutes: 15, customer: 'new' }), a)).toBe(false);
    // No visit in the window, no segment — even a zero-minute dwell rule.
    expect(matches(rule({ minDwellMinutes: 0 }), { visits: 0, stores: 0, longestDwellMinutes: 0, onDay: false, before: false })).toBe(false);
  });

  it('tells new from returning, and a lone daily Consumer-ID is always new', () => {
    const returning = [visit(day(-3), 'berlin-1', 5), visit(D0, 'berlin-1', 5)];
    expect(segmentsOf(returning, D0, DEFAULT_SEGMENTS)).toEqual(['returning']);
    expect(segmentsOf(returning, D0, [rule({ name: 'r', customer: 'returning', withinDays: 3 })])).toEqual([]); // day -3 is outside 3 days
    expect(segmentsOf(returning, D0, [rule({ name: 'r', customer: 'returning', withinDays: 4 })])).toEqual(['r']);
    // One device of one day: whatever it did that day, it has no earlier day.
    const lone = [visit(D0, 'berlin-1', 25), visit(D0, 'paris-1', 5), visit(D0, 'berlin-1', 4)];
    expect(segmentsOf(lone, D0, DEFAULT_SEGMENTS)).toEqual(['regulars', 'multi-store', 'lingerers', 'new']);
  });

  it('validates rules: names, known keys, at least one condition, unique names, defaults', () => {
    expect(segmentRuleSchema.parse({ name: 'vip', minVisits: 2 })).toEqual({ name: 'vip', withinDays: 30, minVisits: 2 });
    expect(segmentRuleSchema.safeParse({ name: 'VIP', minVisits: 2 }).success).toBe(false);
    expect(segmentRuleSchema.safeParse({ name: '-vip', minVisits: 2 }).success).toBe(false);
    expect(segmentRuleSchema.safeParse({ name: 'a'.repeat(65), minVisits: 2 }).success).toBe(false);
    expect(segmentRuleSchema.safeParse({ name: 'vip', minVisit: 2 }).success).toBe(false); // a typo is an error, not "no condition"
    expect(segmentRuleSchema.safeParse({ name: 'vip' }).success).toBe(false);
    expect(segmentRuleSchema.safeParse({ name: 'vip', customer: 'old' }).success).toBe(false);
    expect(segmentRuleSchema.safeParse({ name: 'vip', minVisits: 1, withinDays: 0 }).success).toBe(false);
    expect(segmentRuleSchema.safeParse({ name: 'vip', minVisits: 1, withinDays: 367 }).success).toBe(false);
    expect(segmentsSchema.safeParse([{ name: 'a', minVisits: 1 }, { name: 'a', minStores: 2 }]).success).toBe(false);
    expect(segmentsSchema.parse(undefined)).toEqual(DEFAULT_SEGMENTS);
  });

  it('reads segments from cloud.yaml, with the default set when absent', () => {
    const base = 'broker:\n  url: mqtt://127.0.0.1:1\n';
    writeFileSync(join(dir, 'plain.yaml'), base);
    expect(loadCloudConfig(join(dir, 'plain.yaml')).segments).toEqual(DEFAULT_SEGMENTS);
    writeFileSync(join(dir, 'custom.yaml'), `${base}segments:\n  - { name: vip, minVisits: 5, minStores: 2, withinDays: 60 }\n  - { name: today-new, customer: new, withinDays: 1 }\n`);
    expect(loadCloudConfig(join(dir, 'custom.yaml')).segments).toEqual([
      { name: 'vip', minVisits: 5, minStores: 2, withinDays: 60 },
      { name: 'today-new', customer: 'new', withinDays: 1 },
    ]);
    writeFileSync(join(dir, 'bad.yaml'), `${base}segments:\n  - { name: vip }\n`);
    expect(() => loadCloudConfig(join(dir, 'bad.yaml'))).toThrow(/segments.*at least one condition/);
  });
});

describe('consent per profile (pure)', () => {
  const hem = `hem:${hemOf('jane')}`;
  const hph = `hph:${'9'.repeat(64)}`;
  const cid = `cid:${D0}:${'a'.repeat(32)}`;
  const edge = (a: string, b: string, ts: number, marketing: boolean, store = 'berlin-1'): ConsentEdge => ({ a, b, ts, batchId: `x:y:${ts}`, store, marketing });

  it('has no record without a link event of the profile', () => {
    expect(consentOf([hem, cid], [edge(`hem:${'1'.repeat(64)}`, `cid:${D0}:${'b'.repeat(32)}`, 5, true)])).toEqual({ marketing: null });
  });

  it('takes the latest decision: a withdrawal after a grant is out, a grant after a withdrawal is in', () => {
    const granted = edge(hem, cid, 1000, true, 'berlin-1');
    const withdrawn = edge(hph, hem, 2000, false, 'paris-1');
    expect(consentOf([hem, hph, cid], [granted, withdrawn])).toEqual({ marketing: { granted: false, ts: 2000, store: 'paris-1' } });
    expect(consentOf([hem, hph, cid], [withdrawn, granted])).toEqual({ marketing: { granted: false, ts: 2000, store: 'paris-1' } }); // order of edges does not matter
    const regranted = edge(hem, cid, 3000, true, 'rome-1');
    expect(consentOf([hem, hph, cid], [granted, withdrawn, regranted])).toEqual({ marketing: { granted: true, ts: 3000, store: 'rome-1' } });
  });

  it('lets a withdrawal win a tie, and counts events through the people they name, not a device alone', () => {
    expect(consentOf([hem, cid], [edge(hem, cid, 1000, true), edge(hem, `cid:${day(-1)}:${'c'.repeat(32)}`, 1000, false)]).marketing?.granted).toBe(false);
    // Someone else's event on a device of this profile (their link was refused by the graph) decides nothing here.
    const other = `loy:${'e'.repeat(64)}`;
    expect(consentOf([hem, cid], [edge(hem, cid, 1000, true), edge(other, cid, 5000, false)])).toEqual({ marketing: { granted: true, ts: 1000, store: 'berlin-1' } });
  });
});

// ---------------------------------------------------------------- store-facing

/** One device's stay: a sighting from `hour` lasting `minutes`; a pass-by is short and far. */
interface Stay {
  label: string;
  day: string;
  store: string;
  minutes: number;
  passBy?: boolean;
  hour?: number;
}

const PROFILES: Record<string, Stay[]> = {
  reg: [-5, -1, 0].map((o) => ({ label: 'reg', day: day(o), store: 'berlin-1', minutes: 5 })),
  multi: [
    { label: 'multi', day: D0, store: 'berlin-1', minutes: 5 },
    { label: 'multi', day: D0, store: 'paris-1', minutes: 5, hour: 14 },
  ],
  edge: [
    { label: 'edge', day: day(-30), store: 'rome-1', minutes: 5 }, // outside 30 days: neither a visit nor a store
    { label: 'edge', day: day(-29), store: 'berlin-1', minutes: 5 },
    { label: 'edge', day: D0, store: 'berlin-1', minutes: 5 },
  ],
  after: [
    { label: 'after', day: D0, store: 'berlin-1', minutes: 5 },
    { label: 'after', day: day(1), store: 'paris-1', minutes: 5 }, // after the day: not counted
  ],
  linger: [{ label: 'linger', day: D0, store: 'berlin-1', minutes: 25 }],
  linger2: [
    { label: 'linger2', day: day(-1), store: 'berlin-1', minutes: 30 }, // yesterday: not a lingerer today
    { label: 'linger2', day: D0, store: 'berlin-1', minutes: 5 },
  ],
  passby: [
    { label: 'passby', day: day(-1), store: 'berlin-1', minutes: 5 },
    { label: 'passby', day: D0, store: 'berlin-1', minutes: 1, passBy: true },
  ],
};
const LONE: Stay[] = [
  { label: 'L1', day: D0, store: 'berlin-1', minutes: 25 },
  { label: 'L2', day: D0, store: 'berlin-1', minutes: 1, passBy: true },
  ...Array.from({ length: 12 }, (_, i) => ({ label: `noise${i}`, day: i % 2 ? D0 : day(-1), store: i % 3 ? 'berlin-1' : 'paris-1', minutes: 4 + i })),
];
/** What each device of D0 is in, with the default rules. */
const EXPECTED: Record<string, string[]> = {
  reg: ['regulars', 'returning'],
  multi: ['multi-store', 'new'],
  edge: ['returning'],
  after: ['new'],
  linger: ['lingerers', 'new'],
  linger2: ['returning'],
  passby: [],
  L1: ['lingerers', 'new'],
  L2: [],
  unknown: [],
};

let seq = 0;
async function addStays(store: CloudStore, stays: Stay[]): Promise<void> {
  const groups = new Map<string, Stay[]>();
  for (const s of stays) (groups.get(`${s.store}|${s.day}`) ?? groups.set(`${s.store}|${s.day}`, []).get(`${s.store}|${s.day}`)!).push(s);
  for (const [key, list] of groups) {
    const [storeName, epoch] = key.split('|') as [string, string];
    const n = ++seq;
    const sightings = list.map((s) => {
      const first = at(epoch, s.hour ?? 10);
      return { cid: cidOf(s.label, epoch), source: 'wifi', addressClass: 'global', first, last: first + s.minutes * 60_000, frames: 4, rssiMax: s.passBy ? -85 : -70, rssiMean: -80, channels: [6] };
    });
    const batch = { schema: 'omniloop.sightings/1', tenant: 'acme', store: storeName, agent: 'ap-1', batchId: `ap-1:abcd1234:${n}`, seq: n, epoch, window: { start: at(epoch, 0), end: at(epoch, 23), seconds: 60 }, sightings, ephemeral: [] };
    expect(await ingestMessage(store, `omniloop/v1/acme/${storeName}/ap-1/sightings`, Buffer.from(JSON.stringify(batch)))).toBe('stored');
  }
}

/** A link batch from the till of berlin-1: the device's cid of `epoch` with the person's hashed e-mail. */
async function link(store: CloudStore, epoch: string, items: { cidLabel: string; person: string; ts: number; marketing?: boolean }[]): Promise<string> {
  const n = ++seq;
  const batchId = `till-1:abcd1234:${n}`;
  const links = items.map((i) => ({ ts: i.ts, cid: cidOf(i.cidLabel, epoch), hem: hemOf(i.person), consent: { marketing: i.marketing ?? true } }));
  const batch = { schema: 'omniloop.links/1', tenant: 'acme', store: 'berlin-1', agent: 'till-1', batchId, seq: n, epoch, links };
  expect(await ingestMessage(store, 'omniloop/v1/acme/berlin-1/till-1/links', Buffer.from(JSON.stringify(batch)))).toBe('stored');
  return batchId;
}

async function seed(store: CloudStore): Promise<void> {
  await addStays(store, [...Object.values(PROFILES).flat(), ...LONE]);
  const byDay = new Map<string, { cidLabel: string; person: string; ts: number }[]>();
  for (const s of Object.values(PROFILES).flat()) (byDay.get(s.day) ?? byDay.set(s.day, []).get(s.day)!).push({ cidLabel: s.label, person: s.label, ts: at(s.day, 12) });
  for (const [epoch, items] of byDay) await link(store, epoch, [...new Map(items.map((i) => [i.cidLabel, i])).values()]);
}

/** The store, recording which sightings the evaluation reads. */
function tracked(store: CloudStore): { store: CloudStore; days: string[]; keys: { epoch: string; cid: string }[] } {
  const t = { days: [] as string[], keys: [] as { epoch: string; cid: string }[], store };
  t.store = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'sightingsOfDay') return (tenant: string, epoch: string, s?: string) => (t.days.push(epoch), target.sightingsOfDay(tenant, epoch, s));
      if (prop === 'sightingsOfCids') return (tenant: string, keys: { epoch: string; cid: string }[]) => (t.keys.push(...keys), target.sightingsOfCids(tenant, keys));
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return t;
}

/** The reference: every sighting of every day of the window, every subject, every device of the day. */
async function fullEvaluation(store: CloudStore, d: string, rules: SegmentRule[]): Promise<Map<string, string[]>> {
  const g = buildIdentityGraph(await store.edges('acme'));
  const subject = (e: string, c: string) => g.profileOf.get(`cid:${e}:${c}`) ?? `cid:${e}:${c}`;
  const rows = (await Promise.all(daysBetween(windowStart(d, 30), d).map((x) => store.sightingsOfDay('acme', x)))).flat();
  const bySubject = visitsBySubject(buildVisits(rows), subject);
  return new Map((await store.sightingsOfDay('acme', d)).map((r) => [r.cid, segmentsOf(bySubject.get(subject(d, r.cid)) ?? [], d, rules)]));
}

const named = (m: Map<string, string[]>) => Object.fromEntries([...m].map(([cid, s]) => [Object.keys(EXPECTED).find((l) => cidOf(l, D0) === cid) ?? cid, s]));

describe.each(BACKENDS)('segments on %s', (name, backend) => {
  it('gives the segments of the devices present now, reading only their profiles in the window', async () => {
    const store = await backend.open('now');
    await seed(store);
    const all = Object.keys(EXPECTED).map((l) => cidOf(l, D0));
    const t = tracked(store);
    const got = await segmentsOfCids(t.store, 'acme', D0, all, DEFAULT_SEGMENTS, DEFAULT_GRAPH_RULES);
    expect(named(got)).toEqual(EXPECTED);
    expect(t.days).toEqual([]); // never a whole day
    // Exactly the asked devices' profiles' cids of days in the window, plus the lone devices of the day.
    const want = new Set<string>();
    for (const [label, stays] of Object.entries(PROFILES)) for (const s of stays) if (s.day >= day(-29) && s.day <= D0) want.add(`${s.day}|${cidOf(label, s.day)}`);
    for (const l of ['L1', 'L2', 'unknown']) want.add(`${D0}|${cidOf(l, D0)}`);
    expect(new Set(t.keys.map((k) => `${k.epoch}|${k.cid}`))).toEqual(want);

    // One device: its own profile's days only — not day -30 (outside), not another device.
    const one = tracked(store);
    expect(named(await segmentsOfCids(one.store, 'acme', D0, [cidOf('edge', D0)], DEFAULT_SEGMENTS, DEFAULT_GRAPH_RULES))).toEqual({ edge: ['returning'] });
    expect(one.keys).toEqual(expect.arrayContaining([{ epoch: D0, cid: cidOf('edge', D0) }, { epoch: day(-29), cid: cidOf('edge', day(-29)) }]));
    expect(one.keys).toHaveLength(2);

    // The same answer as evaluating everything, for every device of the day.
    const full = await fullEvaluation(store, D0, DEFAULT_SEGMENTS);
    expect(full.size).toBeGreaterThan(10);
    expect(await segmentsOfCids(store, 'acme', D0, [...full.keys()], DEFAULT_SEGMENTS, DEFAULT_GRAPH_RULES)).toEqual(full);
    // ...and on another day, with other rules.
    const rules = [rule({ name: 'twice', minVisits: 2, withinDays: 7 }), rule({ name: 'long', minDwellMinutes: 10, withinDays: 2 })];
    const fullBefore = await fullEvaluation(store, day(-1), rules);
    expect(await segmentsOfCids(store, 'acme', day(-1), [...fullBefore.keys()], rules, DEFAULT_GRAPH_RULES)).toEqual(fullBefore);
    expect([...fullBefore.values()].flat()).toContain('long');
    await store.close();
  });

  it('lists every profile of every segment, shows consent on profiles, and forgets erased people', async () => {
    const store = await backend.open('members');
    await seed(store);
    const g = await tenantGraph(store, 'acme', DEFAULT_GRAPH_RULES); // profile ids keyed with this database's key
    const p = (label: string) => g.profileOf.get(`hem:${hemOf(label)}`)!;
    const members = await segmentMembers(store, 'acme', D0, DEFAULT_SEGMENTS, DEFAULT_GRAPH_RULES);
    const sorted = (labels: string[]) => labels.map(p).sort();
    expect(Object.fromEntries(members)).toEqual({
      regulars: [p('reg')],
      'multi-store': [p('multi')],
      lingerers: [p('linger')],
      new: sorted(['multi', 'after', 'linger']),
      returning: sorted(['reg', 'edge', 'linger2']),
    });

    // Consent on the profile: granted at the till, then withdrawn in another visit.
    expect((await findProfile(store, 'acme', `hem:${hemOf('reg')}`))!.consent).toEqual({ marketing: { granted: true, ts: at(D0, 12), store: 'berlin-1' } });
    await link(store, D0, [{ cidLabel: 'reg', person: 'reg', ts: at(D0, 18), marketing: false }]);
    expect(await findProfile(store, 'acme', `hem:${hemOf('reg')}`)).toMatchObject({ marketingConsent: false, consent: { marketing: { granted: false, ts: at(D0, 18), store: 'berlin-1' } } });

    // Erasure deletes the person's links and sightings: gone from segments at the next evaluation.
    await eraseProfile(store, 'acme', `hem:${hemOf('reg')}`);
    const after = await segmentMembers(store, 'acme', D0, DEFAULT_SEGMENTS, DEFAULT_GRAPH_RULES);
    expect(after.get('regulars')).toEqual([]);
    expect(after.get('returning')).toEqual(sorted(['edge', 'linger2']));
    expect(named(await segmentsOfCids(store, 'acme', D0, [cidOf('reg', D0)], DEFAULT_SEGMENTS, DEFAULT_GRAPH_RULES))).toEqual({ reg: [] });
    await store.close();
  });

  it('rebuilds the cached graph when links come, are revoked, or replace each other', async () => {
    const store = await backend.open('cache');
    await seed(store);
    const ask = async () => (await segmentsOfCids(store, 'acme', D0, [cidOf('L1', D0)], DEFAULT_SEGMENTS, DEFAULT_GRAPH_RULES)).get(cidOf('L1', D0));
    expect(await ask()).toEqual(['lingerers', 'new']); // a lone device
    const batch = await link(store, D0, [{ cidLabel: 'L1', person: 'reg', ts: at(D0, 15) }]);
    expect(await ask()).toEqual(['regulars', 'lingerers', 'returning']); // now part of reg's profile
    // Revoke that link and add another with as many edges: SQLite reuses the highest id, the count is the same.
    expect(await store.revokeBatch('acme', 'berlin-1', batch)).toBe(1);
    await link(store, D0, [{ cidLabel: 'L1', person: 'multi', ts: at(D0, 16) }]);
    expect(await ask()).toEqual(['regulars', 'multi-store', 'lingerers', 'new']);
    await store.close();
  });

  it('counts through the CLI, k-anonymous', async () => {
    const store = await backend.open('cli');
    await seed(store);
    await store.close();
    const cfg = join(dir, `cli-${name}.yaml`);
    writeFileSync(cfg, `broker:\n  url: mqtt://127.0.0.1:1\n${backend.yaml('cli')}`);
    const r = await runCliAsync(['cloud', 'segments', '--config', cfg, '--tenant', 'acme', '--day', D0, '--k', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      tenant: 'acme',
      day: D0,
      k: 2,
      segments: [
        { name: 'regulars', profiles: null },
        { name: 'multi-store', profiles: null },
        { name: 'lingerers', profiles: null },
        { name: 'new', profiles: 3 },
        { name: 'returning', profiles: 3 },
      ],
    });
    const text = await runCliAsync(['cloud', 'segments', '--config', cfg, '--tenant', 'acme', '--k', '1']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`acme on ${day(1)}`); // the latest day with data
    expect((await runCliAsync(['cloud', 'segments', '--config', cfg, '--tenant', 'acme', '--day', '2026-13-01'])).code).toBe(2);
  });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (r: Promise<Response>): Promise<any> => (await r).json();

describe('GET /v1/segments', () => {
  it('serves profiles per segment, k-anonymous, for a day or the latest one', async () => {
    const [, backend] = BACKENDS[0]!;
    const store = await backend.open('api');
    await seed(store);
    const token = 'a-long-enough-test-token';
    const serve = async (k: number, segments?: SegmentRule[]) => {
      const api = new ApiServer(store, { token, k, ...(segments ? { segments } : {}) });
      const base = `http://127.0.0.1:${await api.start(0)}`;
      return { api, get: (path: string) => fetch(base + path, { headers: { authorization: `Bearer ${token}` } }) };
    };
    const { api, get } = await serve(1);
    expect(await json(get(`/v1/segments?tenant=acme&day=${D0}`))).toEqual({
      tenant: 'acme',
      day: D0,
      k: 1,
      segments: [
        { name: 'regulars', profiles: 1 },
        { name: 'multi-store', profiles: 1 },
        { name: 'lingerers', profiles: 1 },
        { name: 'new', profiles: 3 },
        { name: 'returning', profiles: 3 },
      ],
    });
    expect((await json(get('/v1/segments?tenant=acme'))).day).toBe(day(1));
    expect((await get('/v1/segments?tenant=acme&day=2026-02-30')).status).toBe(400);
    expect((await get('/v1/segments')).status).toBe(400);
    await api.stop();
    const five = await serve(5, [rule({ name: 'anyone', minVisits: 1, withinDays: 30 }), rule({ name: 'nobody', minVisits: 99 })]);
    expect((await json(five.get(`/v1/segments?tenant=acme&day=${D0}`))).segments).toEqual([
      { name: 'anyone', profiles: 7 },
      { name: 'nobody', profiles: 0 },
    ]);
    const three = await json(five.get(`/v1/segments?tenant=acme&day=${day(-1)}`));
    expect(three.segments[0]).toEqual({ name: 'anyone', profiles: null }); // reg, edge, linger2, passby: 4 < 5
    await five.api.stop();
    await store.close();
  });
});
