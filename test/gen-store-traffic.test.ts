/**
 * The demo's multi-store traffic generator: deterministic per seed, frames inside their periods and in
 * time order, read back by the project's own capture reader and edge pipeline with exactly the planned
 * malformed frames, and the behaviour HQ will judge — stable phones across stores and days, identify
 * events inside visits with stable identifiers, weak passers-by, plausible dwell and arrival curves,
 * a busy live period — checked on what was decoded, against the generator's own plan.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCaptureFile } from '../agents/capture/file-reader.js';
import { AddressClass, macFirstOctet } from '../agents/decode/observation.js';
import { EdgePipeline } from '../agents/pipeline/edge-pipeline.js';
import { Pseudonymizer } from '../agents/pseudonymize/pseudonymizer.js';
import { buildVisits, type SightingRow } from '../cloud/analytics/visits.js';
import { StoreDayClock } from '../shared/identity/store-day.js';
import { parseMac } from '../shared/identity/mac.js';
import { generateStoreTraffic, macText, planTraffic, type StoreTraffic, type TrafficOptions, type TrafficTruth } from '../scripts/gen-store-traffic.js';

const TZ = 'Europe/Berlin';
const DAY = 86_400_000;
const MIN = 60_000;
const TODAY = Date.parse('2026-11-23T00:00:00+01:00'); // a Monday, local midnight
const LIVE_START = TODAY + 14.5 * 3_600_000;
const STORES = ['berlin-1', 'hamburg-1', 'munich-1'];

interface Obs {
  ts: number;
  mac: number;
  rssi: number;
  cls: AddressClass;
  beacon: boolean;
}

interface Decoded {
  t: StoreTraffic;
  frames: number;
  malformed: number;
  others: number;
  linktypes: number[];
  corrupt: boolean;
  truncated: boolean;
  obs: Obs[];
  ordered: boolean;
  minTs: number;
  maxTs: number;
}

function decode(t: StoreTraffic): Decoded {
  const pseudo = new Pseudonymizer({ secret: new Uint8Array(32), tenant: 't', timezone: TZ });
  const obs: Obs[] = [];
  let last = -Infinity;
  let ordered = true;
  let minTs = Infinity;
  let maxTs = -Infinity;
  const pipeline = new EdgePipeline(pseudo, (o) => {
    obs.push({ ts: o.tsMs, mac: o.mac, rssi: o.rssi, cls: o.addressClass, beacon: o.ibeaconUuidOff >= 0 || o.eddystoneNsOff >= 0 });
  });
  const read = readCaptureFile(t.file, (linktype, buf, off, caplen, origLen, tsMs) => {
    if (tsMs < last) ordered = false;
    last = tsMs;
    minTs = Math.min(minTs, tsMs);
    maxTs = Math.max(maxTs, tsMs);
    pipeline.onRecord(linktype, buf, off, caplen, origLen, tsMs);
  });
  const c = pipeline.counters;
  return { t, frames: c.frames, malformed: c.malformed, others: c.ignored + c.unsupported + c.optedOut, linktypes: read.linktypes, corrupt: read.corrupt !== null, truncated: read.truncated !== null, obs, ordered, minTs, maxTs };
}

/** HQ's view: 60-s sightings per stable address (no beacons), then HQ's own visit rules. */
function hqVisits(files: Decoded[], keep: (o: Obs) => boolean) {
  const clock = new StoreDayClock(TZ);
  const rows = new Map<string, SightingRow>();
  for (const f of files) {
    for (const o of f.obs) {
      if (o.beacon || !keep(o)) continue;
      const epoch = clock.dayOf(o.ts);
      const k = `${f.t.store}|${epoch}|${o.mac}|${Math.floor(o.ts / MIN)}`;
      const r = rows.get(k);
      if (!r) rows.set(k, { store: f.t.store, epoch, cid: String(o.mac), first: o.ts, last: o.ts, frames: 1, rssiMax: o.rssi });
      else {
        r.last = Math.max(r.last, o.ts);
        r.frames++;
        r.rssiMax = Math.max(r.rssiMax!, o.rssi);
      }
    }
  }
  return buildVisits([...rows.values()]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const stable = (cls: AddressClass) => cls === AddressClass.WifiGlobal || cls === AddressClass.BlePublic || cls === AddressClass.BleStatic;

describe('gen-store-traffic', () => {
  let root: string;
  let opts: TrafficOptions;
  let res: { traffic: StoreTraffic[]; truth: TrafficTruth };
  let decoded: Decoded[];
  let plan: ReturnType<typeof planTraffic>;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'gen-store-traffic-'));
    opts = {
      stores: STORES,
      customers: 900,
      seed: 42,
      timezone: TZ,
      periods: [
        { name: 'history', startMs: TODAY - 7 * DAY, endMs: TODAY },
        { name: 'live', startMs: LIVE_START, endMs: LIVE_START + 3 * MIN },
      ],
      outDir: join(root, 'a'),
      busy: true,
    };
    res = generateStoreTraffic(opts);
    decoded = res.traffic.map(decode);
    plan = planTraffic(opts);
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const files = (period: string) => decoded.filter((d) => d.t.period === period);

  it('writes one pcapng per store and period, named as promised', () => {
    expect(res.traffic.map((t) => `${t.store}-${t.period}`).sort()).toEqual(STORES.flatMap((s) => [`${s}-history`, `${s}-live`]).sort());
    for (const t of res.traffic) expect(t.file).toBe(join(opts.outDir, `${t.store}-${t.period}.pcapng`));
    expect(readdirSync(opts.outDir).sort()).toEqual(res.traffic.map((t) => `${t.store}-${t.period}.pcapng`).sort());
  });

  it('is deterministic per seed: same files and events; another seed differs', () => {
    const again = generateStoreTraffic({ ...opts, outDir: join(root, 'b') });
    expect(again.truth).toEqual(res.truth);
    expect(again.traffic.map((t) => ({ ...t, file: '' }))).toEqual(res.traffic.map((t) => ({ ...t, file: '' })));
    for (let i = 0; i < res.traffic.length; i++) expect(readFileSync(again.traffic[i]!.file).equals(readFileSync(res.traffic[i]!.file))).toBe(true);
    const other = generateStoreTraffic({ ...opts, seed: 43, outDir: join(root, 'c') });
    expect(readFileSync(other.traffic[0]!.file).equals(readFileSync(res.traffic[0]!.file))).toBe(false);
    expect(other.truth.optedOutMacs).not.toEqual(res.truth.optedOutMacs);
  });

  it('decodes cleanly with the edge pipeline: only the planned malformed frames, in time order, inside the period', () => {
    for (const d of decoded) {
      const p = opts.periods.find((x) => x.name === d.t.period)!;
      expect(d.corrupt || d.truncated).toBe(false);
      expect(d.linktypes).toEqual([127, 256]);
      expect(d.frames).toBe(d.t.frames);
      expect(d.malformed).toBe(d.t.malformed);
      expect(d.others).toBe(0);
      expect(d.obs.length).toBe(d.frames - d.malformed);
      expect(d.malformed).toBeLessThanOrEqual(Math.max(3, d.frames * 0.003));
      expect(d.ordered).toBe(true);
      // Timestamps come back through pcapng's microsecond units: allow that rounding.
      expect(d.minTs).toBeGreaterThanOrEqual(p.startMs - 0.001);
      expect(d.maxTs).toBeLessThan(p.endMs);
    }
    const all = decoded.reduce((n, d) => n + d.malformed, 0);
    expect(all).toBe(res.truth.malformed);
    expect(all).toBeGreaterThan(0); // the robustness share is really there
    expect(res.truth.frames).toBe(decoded.reduce((n, d) => n + d.frames, 0));
  });

  it('has both sources, randomized and stable phones, BLE watches and the stores\' fixed beacons', () => {
    const h = files('history');
    const macs = (f: (o: Obs) => boolean) => new Set(h.flatMap((d) => d.obs.filter(f).map((o) => o.mac))).size;
    const global = macs((o) => o.cls === AddressClass.WifiGlobal);
    const randomized = macs((o) => o.cls === AddressClass.WifiRandomized);
    // ~30% of phones are stable, but the randomized ones take a new address per visit.
    expect(global).toBeGreaterThan(50);
    expect(randomized).toBeGreaterThan(global * 2);
    expect(macs((o) => (o.cls === AddressClass.BlePublic || o.cls === AddressClass.BleStatic) && !o.beacon)).toBeGreaterThan(30);
    expect(macs((o) => o.cls === AddressClass.BleRpa || o.cls === AddressClass.BleNrpa)).toBe(0);
    // Two iBeacons and one Eddystone-UID per store, the same devices in every period, different per store.
    for (const store of STORES) {
      const per = decoded.filter((d) => d.t.store === store).map((d) => [...new Set(d.obs.filter((o) => o.beacon).map((o) => o.mac))].sort());
      expect(per[0]!.length).toBe(3);
      for (const p of per) expect(p).toEqual(per[0]);
    }
    expect(new Set(decoded.flatMap((d) => d.obs.filter((o) => o.beacon).map((o) => o.mac))).size).toBe(3 * STORES.length);
  });

  it('follows stable phones across stores and days', () => {
    const clock = new StoreDayClock(TZ);
    const where = new Map<number, { stores: Set<string>; days: Set<string> }>();
    for (const d of files('history')) {
      for (const o of d.obs) {
        if (o.cls !== AddressClass.WifiGlobal) continue;
        let w = where.get(o.mac);
        if (!w) where.set(o.mac, (w = { stores: new Set(), days: new Set() }));
        w.stores.add(d.t.store);
        w.days.add(clock.dayOf(o.ts));
      }
    }
    const multiStore = [...where.values()].filter((w) => w.stores.size > 1).length;
    const multiDay = [...where.values()].filter((w) => w.days.size > 1).length;
    expect(multiStore).toBeGreaterThanOrEqual(5);
    expect(multiDay).toBeGreaterThanOrEqual(20);
    // The live period's stable phones are history's: the same population.
    const live = new Set(files('live').flatMap((d) => d.obs.filter((o) => o.cls === AddressClass.WifiGlobal).map((o) => o.mac)));
    expect([...live].filter((m) => where.has(m)).length).toBeGreaterThan(live.size / 2);
    expect(res.truth.multiStoreCustomers).toBeGreaterThan(0);
    expect(res.truth.returningCustomers).toBeGreaterThan(res.truth.multiStoreCustomers / 2);
  });

  it('puts identify events inside visits of the right store, with each customer\'s stable identifiers', () => {
    const events = res.traffic.flatMap((t) => t.identifies);
    expect(events.length).toBeGreaterThan(10);
    const byStore = new Map(decoded.map((d) => [`${d.t.store}|${d.t.period}`, d]));
    const optedOut = new Set(res.truth.optedOutMacs);
    const person = new Map<string, string>(); // any identifier -> email
    let randomized = 0;
    for (const t of res.traffic) {
      const p = opts.periods.find((x) => x.name === t.period)!;
      expect(t.identifies.map((e) => e.tsMs)).toEqual([...t.identifies].map((e) => e.tsMs).sort((a, b) => a - b));
      for (const e of t.identifies) {
        expect(e.store).toBe(t.store);
        expect(Number.isInteger(e.tsMs) && e.tsMs >= p.startMs && e.tsMs < p.endMs).toBe(true);
        expect(optedOut.has(e.mac)).toBe(false);
        const mac = parseMac(e.mac);
        expect(e.mac).toBe(macText(mac));
        // The device is in this store at that moment (a probe burst within the millisecond)...
        const here = byStore.get(`${t.store}|${t.period}`)!.obs.filter((o) => o.mac === mac);
        expect(here.some((o) => o.ts >= e.tsMs && o.ts < e.tsMs + 1)).toBe(true);
        // ...and within a visit: seen minutes around it, nowhere else.
        for (const d of decoded) if (d.t.store !== t.store) expect(d.obs.some((o) => o.mac === mac && Math.abs(o.ts - e.tsMs) < 30 * MIN)).toBe(false);
        const ids = [e.email, e.phone, e.loyaltyId].filter((x) => x !== undefined);
        if (macFirstOctet(mac) & 0x02) {
          randomized++;
          expect(ids.length).toBe(2); // a randomized address cannot be linked: two identifiers
        } else expect(ids.length).toBeGreaterThanOrEqual(1);
        if (e.email) expect(e.email).toMatch(/^customer-\d+@example\.com$/);
        if (e.phone) expect(e.phone).toMatch(/^\+49 30 \d{7}$/);
        if (e.loyaltyId) expect(e.loyaltyId).toMatch(/^OL-\d{8}$/);
      }
    }
    expect(randomized).toBeGreaterThan(0);
    // The same customer always gives the same identifiers (from the population the generator drew).
    const people = plan.people;
    for (const e of events) {
      const p = people.find((x) => (e.email && x.email === e.email) || (e.loyaltyId && x.loyaltyId === e.loyaltyId) || (e.phone && x.phone === e.phone))!;
      expect(p).toBeDefined();
      if (e.email) expect(e.email).toBe(p.email);
      if (e.phone) expect(e.phone).toBe(p.phone);
      if (e.loyaltyId) expect(e.loyaltyId).toBe(p.loyaltyId);
      if (p.globalMac !== null) expect(e.mac).toBe(macText(p.globalMac));
      person.set(e.email ?? e.loyaltyId ?? e.phone!, p.email);
    }
    // Several customers identify on more than one day: the cloud can stitch their days.
    const days = new Map<string, Set<number>>();
    for (const e of events) {
      const k = person.get(e.email ?? e.loyaltyId ?? e.phone!)!;
      if (!days.has(k)) days.set(k, new Set());
      days.get(k)!.add(Math.floor(e.tsMs / DAY));
    }
    expect([...days.values()].filter((d) => d.size > 1).length).toBeGreaterThanOrEqual(2);
  });

  it('keeps consent stable per customer, with the reported handful changing their mind once', () => {
    const byPerson = new Map<string, boolean[]>();
    for (const e of res.traffic.flatMap((t) => t.identifies).sort((a, b) => a.tsMs - b.tsMs)) {
      const p = plan.people.find((x) => x.email === e.email || (e.loyaltyId !== undefined && x.loyaltyId === e.loyaltyId))!;
      if (!byPerson.has(p.email)) byPerson.set(p.email, []);
      byPerson.get(p.email)!.push(e.consent.marketing);
    }
    let changed = 0;
    for (const seq of byPerson.values()) {
      const switches = seq.filter((c, i) => i > 0 && c !== seq[i - 1]).length;
      expect(switches).toBeLessThanOrEqual(1);
      changed += switches;
    }
    expect(changed).toBe(res.truth.consentChanges);
    expect(changed).toBeGreaterThanOrEqual(1);
    const yes = plan.people.filter((p) => p.kind !== 'staff' && p.consent).length / plan.people.filter((p) => p.kind !== 'staff').length;
    expect(yes).toBeGreaterThan(0.6);
    expect(yes).toBeLessThan(0.8);
  });

  it('never writes e-mails, phones or loyalty ids to disk', () => {
    for (const t of res.traffic) {
      const bytes = readFileSync(t.file).toString('latin1');
      expect(bytes.includes('@example.com')).toBe(false);
      expect(bytes.includes('OL-')).toBe(false);
      expect(bytes.includes('+49 30')).toBe(false);
    }
  });

  it('returns opted-out customers\' stable phones, which are really in the captures', () => {
    expect(res.truth.optedOutMacs.length).toBeGreaterThanOrEqual(2);
    expect(res.truth.optedOutMacs.length).toBeLessThanOrEqual(3);
    const seen = new Set(decoded.flatMap((d) => d.obs.map((o) => o.mac)));
    for (const m of res.truth.optedOutMacs) {
      expect(m).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      expect(macFirstOctet(parseMac(m)) & 0x03).toBe(0); // global, unicast
      expect(seen.has(parseMac(m))).toBe(true);
    }
  });

  it('shows passers-by weak and brief, visitors close; HQ judges them exactly as planned', () => {
    const kindOf = new Map<number, string>();
    for (const p of plan.people) {
      if (p.globalMac !== null) kindOf.set(p.globalMac, p.kind);
      if (p.ble) kindOf.set(p.ble.mac, p.kind);
    }
    const h = files('history');
    let passerObs = 0;
    for (const d of h) {
      for (const o of d.obs) {
        const kind = kindOf.get(o.mac);
        if (kind === undefined || o.beacon) continue;
        if (kind === 'passerBy') {
          passerObs++;
          expect(o.rssi).toBeGreaterThanOrEqual(-88);
          expect(o.rssi).toBeLessThanOrEqual(-72);
        } else {
          expect(o.rssi).toBeGreaterThanOrEqual(-75);
          expect(o.rssi).toBeLessThanOrEqual(-40);
        }
      }
    }
    expect(passerObs).toBeGreaterThan(100);

    // Stable phones in history: every planned visit and staff shift is one HQ visitor visit, every pass one pass-by.
    const visits = hqVisits(h, (o) => o.cls === AddressClass.WifiGlobal);
    const stays = plan.periods.find((p) => p.period.name === 'history')!.stays.filter((s) => plan.people[s.person]!.globalMac !== null);
    expect(visits.filter((v) => v.visitor).length).toBe(stays.filter((s) => s.kind !== 'pass').length);
    expect(visits.filter((v) => !v.visitor).length).toBe(stays.filter((s) => s.kind === 'pass').length);

    // Dwell of customers' visits (staff excluded) as HQ measures it: most 5-30 min, some longer.
    const staff = new Set(plan.people.filter((p) => p.kind === 'staff').flatMap((p) => [p.globalMac, p.ble?.mac]).map(String));
    const dwell = hqVisits(h, (o) => stable(o.cls))
      .filter((v) => v.visitor && !staff.has(v.cid))
      .map((v) => (v.end - v.start) / MIN);
    expect(dwell.length).toBeGreaterThan(100);
    expect(median(dwell)).toBeGreaterThan(5);
    expect(median(dwell)).toBeLessThan(30);
    const long = dwell.filter((m) => m >= 30).length / dwell.length;
    expect(long).toBeGreaterThan(0.03);
    expect(long).toBeLessThan(0.3);
    expect(Math.max(...dwell)).toBeLessThanOrEqual(95);
  });

  it('follows a daily curve in opening hours: lunch and after-work peaks over a quiet morning, closed on Sunday', () => {
    const hour = new Intl.DateTimeFormat('en-GB', { timeZone: TZ, hour: '2-digit', hourCycle: 'h23' });
    const weekday = new Intl.DateTimeFormat('en-GB', { timeZone: TZ, weekday: 'short' });
    const byHour = Array.from({ length: 24 }, () => 0);
    const visits = plan.periods.find((p) => p.period.name === 'history')!.stays.filter((s) => s.kind === 'visit');
    for (const s of visits) {
      byHour[Number(hour.format(new Date(s.start)))]!++;
      expect(weekday.format(new Date(s.start))).not.toBe('Sun');
    }
    expect(byHour.slice(0, 9).concat(byHour.slice(20)).every((n) => n === 0)).toBe(true);
    expect(byHour[12]! + byHour[13]!).toBeGreaterThan(1.5 * (byHour[9]! + byHour[10]!));
    expect(byHour[17]! + byHour[18]!).toBeGreaterThan(1.5 * (byHour[9]! + byHour[10]!));
  });

  it('packs the busy live period: dozens present at once in every store, short visits', () => {
    for (const d of files('live')) {
      const mid = LIVE_START + 1.5 * MIN;
      const present = new Set(d.obs.filter((o) => !o.beacon && o.rssi > -72 && Math.abs(o.ts - mid) <= 30_000).map((o) => `${o.mac}`));
      expect(present.size).toBeGreaterThanOrEqual(24);
    }
    const visits = hqVisits(files('live'), (o) => stable(o.cls));
    const customers = visits.filter((v) => v.visitor && v.end - v.start < 30 * MIN);
    expect(customers.length).toBeGreaterThan(20);
    expect(median(customers.map((v) => v.end - v.start))).toBeLessThan(4 * MIN);
    expect(res.traffic.filter((t) => t.period === 'live').reduce((n, t) => n + t.identifies.length, 0)).toBeGreaterThan(0);
  });

  it('reports a consistent ground truth', () => {
    const t = res.truth;
    expect(Object.values(t.customersByKind).reduce((a, b) => a + b, 0)).toBe(opts.customers);
    expect(Object.keys(t.customersByKind).sort()).toEqual(['multiStore', 'occasional', 'passerBy', 'regular', 'staff']);
    expect(t.passersBy).toBeGreaterThan(t.customersByKind.passerBy! / 2);
    expect(t.passersBy).toBeLessThanOrEqual(t.customersByKind.passerBy!);
    expect(t.visitors).toBeLessThanOrEqual(opts.customers - t.customersByKind.passerBy! - t.customersByKind.staff!);
    expect(t.visits).toBeGreaterThan(t.visitors);
    expect(t.identifies).toBe(res.traffic.reduce((n, x) => n + x.identifies.length, 0));
  });

  it('rejects what would write outside outDir or mean nothing', () => {
    expect(() => generateStoreTraffic({ ...opts, stores: ['../x'] })).toThrow(/store name/);
    expect(() => generateStoreTraffic({ ...opts, periods: [{ name: 'p', startMs: 10, endMs: 10 }] })).toThrow(/after startMs/);
    expect(() => generateStoreTraffic({ ...opts, timezone: 'Mars/Olympus' })).toThrow();
  });

  it('generates 3 stores x 1,200 customers x 14 days quickly and compactly', () => {
    const t0 = performance.now();
    const big = generateStoreTraffic({
      ...opts,
      customers: 1200,
      seed: 7,
      periods: [
        { name: 'history', startMs: TODAY - 14 * DAY, endMs: TODAY },
        { name: 'live', startMs: LIVE_START, endMs: LIVE_START + 3 * MIN },
      ],
      outDir: join(root, 'big'),
    });
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(15_000);
    const history = big.traffic.filter((t) => t.period === 'history').reduce((n, t) => n + t.frames, 0);
    expect(history).toBeGreaterThan(50_000);
    expect(history).toBeLessThan(300_000);
  });
});
