/**
 * Realistic multi-store, multi-day traffic for `omniloop demo`: one customer population (regulars,
 * occasional shoppers, multi-store shoppers, passers-by, staff) walks into several stores over days, and
 * every store gets one pcapng per period (WiFi radiotap on interface 0, BLE LL with PHDR on interface 1),
 * plus the identify events its tills and captive portal would send, which stay in memory.
 *
 * The phones behave as today's phones do (scripts/lib/phone-models.ts): each person carries one phone
 * model, and nearly every phone probes with randomized addresses that rotate per burst (iOS) or per scan
 * (Android), the sequence number restarting with each new address; only a few percent of the phones
 * (`globalShare`, old ones) probe with their global address. Phones and smartwatches advertise over BLE
 * with resolvable private addresses rotating every 5-15 minutes; fitness bands and the stores' beacons
 * keep one address.
 *
 * Two steps: `planTraffic` (pure) decides who is where and when — a person's day depends only on
 * (seed, person, local date), so periods cut the same calendar and a phone with a global address keeps
 * it in every store and on every day; `generateStoreTraffic` turns the plan into frames, file by file.
 *
 * Frame budget: bursts every 20 s to a couple of minutes while the screen is on and every 1.5-5 minutes
 * while idle, phones' BLE sampled every ~30 s and wearables' every ~20 s while inside; staff devices
 * (present all day) and the stores' beacons are sampled sparsely, so 3 stores x 1,200 customers x 14
 * days stays far under 300k frames and a replay at max speed takes seconds.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LinkType } from '../agents/capture/record.js';
import { macToBytes } from '../agents/decode/observation.js';
import { PcapngWriter } from './lib/capture-writer.js';
import { adEddystoneUid, adFlags, adIBeacon, adStructure, bleAdvPdu, bleLlPacket, blePhdr, concat, probeRequest, qosNullFrame, radiotapHeader } from './lib/frames.js';
import { GLOBAL_MODELS, PHONE_MODELS, RANDOMIZING_MODELS, WEARABLES, type BleProfile } from './lib/phone-models.js';
import { mulberry32 } from './lib/prng.js';

// ------------------------------------------------------------------ the interface

export interface TrafficPeriod {
  name: string;
  startMs: number;
  endMs: number;
  /** Generate this period packed with short visits (see TrafficOptions.busy); overrides the default. */
  busy?: boolean;
}

export interface TrafficOptions {
  stores: string[];
  /** Population size over all stores (staff included), e.g. 400 per store. */
  customers: number;
  seed: number;
  /** The stores' IANA zone: opening hours 09:00-20:00 local. */
  timezone: string;
  periods: TrafficPeriod[];
  outDir: string;
  /**
   * Compress a live period: frames spread as if the store were busy (for a short demo run), default
   * false. Applies to every period of at most BUSY_MAX_MS (a live run), never to history days; a
   * period's own `busy` overrides it.
   */
  busy?: boolean;
  /** Local weekdays the stores are closed (0 = Sunday); default [0]. Passers-by still walk past. */
  closedWeekdays?: number[];
  /**
   * Share of phones that probe with their global address (old phones), default 0.04 (DEFAULT_GLOBAL_SHARE);
   * every other phone randomizes. The opted-out customers always do (on top of the share).
   */
  globalShare?: number;
}

export const DEFAULT_GLOBAL_SHARE = 0.04;

export interface IdentifyEvent {
  tsMs: number;
  store: string;
  /** aa:bb:cc:dd:ee:ff */
  mac: string;
  email?: string;
  phone?: string;
  loyaltyId?: string;
  /** The captive portal's login: the address is the phone's per-network one, connected to the guest WiFi. */
  connected?: boolean;
  consent: { marketing: boolean };
}

export interface StoreTraffic {
  store: string;
  period: string;
  /** <outDir>/<store>-<period>.pcapng */
  file: string;
  frames: number;
  /** Sorted by tsMs. */
  identifies: IdentifyEvent[];
  /** Of `frames`, deliberately malformed (the decoder must count exactly these). */
  malformed?: number;
}

/**
 * What a retail analyst compares with a door counter, for one store on one local date (the calendar
 * date in the stores' time zone, midnight to midnight). Counted from the frames written (malformed
 * ones aside) over every period: a person is present on a store-day when at least one frame of theirs
 * was written in that store on that date. Opted-out customers are counted (they are there).
 */
export interface StoreDayTruth {
  /** Distinct customers present (people, not phones or addresses): visitors + passersBy. Staff apart. */
  people: number;
  /** Customers who came inside. */
  visitors: number;
  /** Customers who only walked past the shop window. */
  passersBy: number;
  /** Staff members present (not in `people`). */
  staff: number;
  /** Of `people`, those whose phone probed with a global (stable) address. */
  globalPhones: number;
  /**
   * Phones heard over WiFi (customers and staff with at least one probe request written): what the
   * agents' people estimate counts. Opted-out phones included (the agents drop them).
   */
  wifiPhones: number;
  /**
   * Distinct WiFi source addresses written (staff phones included): the naive count of a capture —
   * every randomized address counts, so it is far above `people`.
   */
  wifiAddresses: number;
  /**
   * Distinct BLE advertiser addresses written: phones' and watches' rotating private addresses, fitness
   * bands, staff devices, and the store's three beacons.
   */
  bleAddresses: number;
  /** Visitors by the local hour (0-23) of their first frame on the date: they sum to `visitors`. */
  arrivalsByHour: number[];
  /** Passers-by by the local hour of their first frame on the date: they sum to `passersBy`. */
  passersByHour: number[];
}

/**
 * Ground truth over every written file. A visit (or pass) counts once per file where at least one of
 * its frames was written. Opted-out customers are counted here (they are physically there); the agents
 * drop them. Staff are not customers: their days are `staffShifts`.
 */
export interface TrafficTruth {
  /** Customer visits inside a store. */
  visits: number;
  /** Distinct customers with at least one visit. */
  visitors: number;
  /** Distinct passers-by seen walking past (they never enter). */
  passersBy: number;
  /** The population: regular, occasional, multiStore, passerBy, staff. */
  customersByKind: Record<string, number>;
  /** Customers who visited two or more stores. */
  multiStoreCustomers: number;
  /** Customers who visited on two or more local dates. */
  returningCustomers: number;
  /** The opted-out customers' phone addresses (global, stable; they carry no BLE device). */
  optedOutMacs: string[];
  /** Walks past a shop window. */
  passes?: number;
  staffShifts?: number;
  frames?: number;
  malformed?: number;
  identifies?: number;
  /** Customers whose identify events carry both consent values (they changed their mind). */
  consentChanges?: number;
  /**
   * Per store name, then per local date (YYYY-MM-DD): people present against addresses written, e.g.
   * `truth.people['berlin-1']['2026-11-21'].arrivalsByHour[12]`. Only store-days with a frame written.
   */
  people: Record<string, Record<string, StoreDayTruth>>;
}

// ------------------------------------------------------------------ constants

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const QUARTER = 15 * MIN;
/** Periods up to this long are "live" runs that `busy` compresses. */
export const BUSY_MAX_MS = 2 * HOUR;
const OPEN_MS = 9 * HOUR;
const CLOSE_MS = 20 * HOUR;
/** Arrival weights per local hour from 09 to 19: a quiet morning, lunch and after-work peaks. */
const ARRIVAL_BY_HOUR = [0.4, 0.6, 0.8, 1.25, 1.3, 0.85, 0.75, 0.9, 1.3, 1.4, 0.7];
/** Per weekday from Sunday, mean 1 over Monday-Saturday: Saturday is the busy day. */
const DAY_WEIGHT = [0, 0.92, 0.83, 0.88, 0.92, 1.06, 1.39];
/** Passers-by commute: morning, lunch, evening windows (local ms), far enough apart never to merge. */
const PASS_SLOTS: [number, number][] = [
  [7.5 * HOUR, 9.5 * HOUR],
  [12 * HOUR, 14 * HOUR],
  [16.5 * HOUR, 19.5 * HOUR],
];
export const MALFORMED_SHARE = 0.001;
const CHANNELS = [1, 6, 11];
const BLE_RF = [0, 12, 39]; // RF channel numbers of advertising channels 37, 38, 39
const BEACON_UUID = 'b9407f30f5f8466eaff925556b57fe6d';
const EDDYSTONE_NS = 'edd1ebeac04e5defa017';
/** Share of people with a watch or a fitness band. */
const WEARABLE_SHARE = 0.25;
/** Share of shoppers with a randomizing phone who join the chain's guest WiFi when they visit. */
export const GUEST_WIFI_SHARE = 0.35;
/** The chain's guest network, the same SSID in every store. */
export const GUEST_SSID = 'Store-Guest';
/** Each store's guest access point (its BSSID): the store's index added. */
export const GUEST_AP_BASE = 0x0c8ddb5a0000;

export type Kind = 'regular' | 'occasional' | 'multiStore' | 'passerBy' | 'staff';
const KINDS: Kind[] = ['regular', 'occasional', 'multiStore', 'passerBy', 'staff'];

export interface Person {
  /** 1-based; the n of customer-<n>@example.com. */
  id: number;
  kind: Kind;
  home: number;
  /** Stores this person shops in (home first). */
  stores: number[];
  /** The phone: an index into PHONE_MODELS. */
  model: number;
  /** Stable global phone address, or null when the phone randomizes (rotating addresses). */
  globalMac: number | null;
  /** The phone's own BLE advertising (rotating resolvable private addresses), or null. */
  phoneBle: BleDevice | null;
  /** A smartwatch (rotating addresses) or a fitness band (one stable address), or null. */
  wearable: (BleDevice & { model: number }) | null;
  /** Chance of a visit per open day (shoppers) or of walking past on a day (passers-by). */
  rate: number;
  email: string;
  phone?: string;
  loyaltyId?: string;
  /** Marketing consent as first given (a handful change their mind later: see generateStoreTraffic). */
  consent: boolean;
  /**
   * Chance that a visit ends with an identify event. Habit, not dice: some 15% are card users who
   * identify at about every other visit with a stable phone (so their days stitch into one profile) or
   * every fourth with a randomized one (which then needs two identifiers), the rest rarely; the mean is
   * ~8% of visits for a stable phone, ~4% for a randomized one.
   */
  identifyRate: number;
  optedOut: boolean;
  /** Probes for a known network by name, not only wildcard (only old phones with a global address). */
  directed: boolean;
  /**
   * The phone's per-network address for the guest WiFi (locally administered, the same in every store of
   * the chain: one SSID), or null when the customer does not use it.
   */
  guestMac: number | null;
}

/** A BLE advertiser and the payload shape it keeps (the contents rotate with a private address). */
export interface BleDevice {
  company: number;
  mfgType: number;
  /** Manufacturer data bytes after the company id. */
  mfgLen: number;
  txPower: number | null;
  flags: number;
  pdu: number;
  /** A private address lives this long; [Infinity, Infinity] for a stable one. */
  rotateMs: [number, number];
  /** The stable address (public or static), null when it rotates. */
  mac: number | null;
  public: boolean;
  /** A stable device's manufacturer data (after the type byte); null when it rotates. */
  payload: number[] | null;
}

export interface Stay {
  person: number; // index into people
  store: number;
  kind: 'visit' | 'pass' | 'shift';
  start: number;
  end: number;
  /** Local date number (days since 1970-01-01 in the zone). */
  day: number;
  /** Frame-level randomness of this stay alone, so cutting periods never changes its frames. */
  seed: number;
  /** Between bursts with the screen on, and idle (ms), and the share of bursts with the screen on. */
  screenOnMs: [number, number];
  idleMs: [number, number];
  screenOn: number;
  /** How often the phone's and the wearable's advertisements are sampled (ms). */
  bleMs: number;
  wearMs: number;
  rssi: [number, number];
  /** Guarantee one close burst (at the shelf or till): a short busy visit still counts as a visitor. */
  closeBurst: boolean;
}

export interface PlannedPeriod {
  period: TrafficPeriod;
  busy: boolean;
  stays: Stay[];
}

// ------------------------------------------------------------------ randomness

/** A 32-bit hash of small integers: independent streams per (seed, purpose, person, day...). */
function mix(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

const hi32 = (ms: number) => Math.floor(ms / 2 ** 32);

const uniform = (r: () => number, lo: number, hi: number) => lo + r() * (hi - lo);
const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

function pickWeighted(r: () => number, weights: readonly number[]): number {
  let total = 0;
  for (const w of weights) total += w;
  let u = r() * total;
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i]!;
    if (u < 0) return i;
  }
  return weights.length - 1;
}

/** Most visits 5-30 min (log-uniform, median ~12), some 30-90, a few quick 4-5 min errands. */
function dwellMs(r: () => number): number {
  const u = r();
  if (u < 0.86) return Math.exp(uniform(r, Math.log(5), Math.log(30))) * MIN;
  if (u < 0.96) return uniform(r, 30, 90) * MIN;
  return uniform(r, 4, 5) * MIN;
}

/** The five low bytes of an address: two draws, as one carries only 32 random bits. */
const low40 = (r: () => number) => Math.floor(r() * 2 ** 20) * 2 ** 20 + Math.floor(r() * 2 ** 20);

/** A unicast, globally administered address (vendor OUI style). */
function globalMac(r: () => number): number {
  return (int(r, 0, 63) << 2) * 2 ** 40 + low40(r);
}

/** A unicast, locally administered (randomized) address. */
function randomizedMac(r: () => number): number {
  return ((int(r, 0, 63) << 2) | 0x02) * 2 ** 40 + low40(r);
}

/** A BLE random static address (top bits 11): a fitness band's or a beacon's, stable. */
function staticMac(r: () => number): number {
  return (0xc0 | int(r, 0, 63)) * 2 ** 40 + low40(r);
}

/** A BLE resolvable private address (top bits 01: prand with the hash of an IRK): rotates. */
function rpaMac(r: () => number): number {
  return (0x40 | int(r, 0, 63)) * 2 ** 40 + low40(r);
}

export function macText(mac: number): string {
  return [...macToBytes(mac)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

// ------------------------------------------------------------------ time zone

/** Local calendar arithmetic in one zone: UTC offsets from Intl, asked once per date. */
class Zone {
  private readonly fmt: Intl.DateTimeFormat;
  private readonly offsets = new Map<number, number>();

  constructor(tz: string) {
    this.fmt = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  }

  /** Local minus UTC at an instant, in ms. */
  offsetAt(ms: number): number {
    const p: Record<string, number> = {};
    for (const part of this.fmt.formatToParts(new Date(ms))) if (part.type !== 'literal') p[part.type] = Number(part.value);
    return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour! % 24, p.minute!, p.second!) - Math.floor(ms / 1000) * 1000;
  }

  /** The local date number of an instant. */
  dayOf(ms: number): number {
    return Math.floor((ms + this.offsetAt(ms)) / DAY);
  }

  private readonly quarters = new Map<number, number>();

  /**
   * Local hours since 1970-01-01 00:00 local of an instant (date number = / 24, hour = % 24), exact and
   * cheap: every zone's offset today is a multiple of 15 minutes and changes on a 15-minute UTC boundary, so
   * the local hour is the same all through a UTC quarter-hour, asked of Intl once.
   */
  localHours(ms: number): number {
    const q = Math.floor(ms / QUARTER);
    let h = this.quarters.get(q);
    if (h === undefined) {
      const t = q * QUARTER;
      this.quarters.set(q, (h = Math.floor((t + this.offsetAt(t)) / HOUR)));
    }
    return h;
  }

  /**
   * The instant of local time-of-day `t` on date `day`. The offset is the one at local noon: on a DST
   * change day it is wrong only between midnight and 03:00, when nobody is near a store.
   */
  at(day: number, t: number): number {
    let off = this.offsets.get(day);
    if (off === undefined) {
      const noon = day * DAY + 12 * HOUR;
      off = this.offsetAt(noon - this.offsetAt(noon));
      this.offsets.set(day, off);
    }
    return day * DAY + t - off;
  }
}

// ------------------------------------------------------------------ population

/** The population: the same for every store and period of a seed. */
export function buildPopulation(o: Pick<TrafficOptions, 'stores' | 'customers' | 'seed' | 'globalShare'>): Person[] {
  const r = mulberry32(mix(o.seed, 0x9e0));
  const nStores = o.stores.length;
  const globalShare = o.globalShare ?? DEFAULT_GLOBAL_SHARE;
  const staffPerStore = o.customers >= 40 * nStores ? 2 : o.customers >= 10 * nStores ? 1 : 0;
  const used = new Set<number>();
  const unique = (make: () => number) => {
    let m = make();
    while (used.has(m)) m = make();
    used.add(m);
    return m;
  };
  const randomShares = RANDOMIZING_MODELS.map((i) => PHONE_MODELS[i]!.share);
  const globalShares = GLOBAL_MODELS.map((i) => PHONE_MODELS[i]!.share);
  const people: Person[] = [];
  for (let i = 0; i < o.customers; i++) {
    const id = i + 1;
    let kind: Kind;
    let home: number;
    if (i < staffPerStore * nStores) {
      kind = 'staff';
      home = i % nStores;
    } else {
      const u = r();
      // Passers-by are many, but each costs a handful of frames; visits cost the frame budget.
      kind = u < 0.55 ? 'passerBy' : u < 0.63 ? 'regular' : u < 0.92 ? 'occasional' : 'multiStore';
      if (kind === 'multiStore' && nStores < 2) kind = 'regular';
      home = Math.floor(r() * nStores);
    }
    const stores = [home];
    if (kind === 'multiStore') {
      const extra = Math.min(nStores - 1, r() < 0.6 ? 1 : 2);
      while (stores.length < extra + 1) {
        const s = Math.floor(r() * nStores);
        if (!stores.includes(s)) stores.push(s);
      }
    }
    const global = r() < globalShare;
    const model = global ? GLOBAL_MODELS[pickWeighted(r, globalShares)]! : RANDOMIZING_MODELS[pickWeighted(r, randomShares)]!;
    const m = PHONE_MODELS[model]!;
    const phoneBle = m.ble && r() < m.bleShare ? bleDevice(r, m.ble, null) : null;
    let wearable: Person['wearable'] = null;
    if (r() < WEARABLE_SHARE) {
      // Watches go with their phones; anyone may wear a band.
      const u = r();
      const watch = m.id.startsWith('iphone') ? (u < 0.55 ? 'apple-watch' : null) : m.id.startsWith('galaxy') ? (u < 0.4 ? 'galaxy-watch' : null) : null;
      const wi = watch ? WEARABLES.findIndex((w) => w.id === watch) : WEARABLES.findIndex((w) => w.address !== 'rpa') + int(r, 0, WEARABLES.filter((w) => w.address !== 'rpa').length - 1);
      const w = WEARABLES[wi]!;
      const mac = w.address === 'public' ? unique(() => globalMac(r)) : w.address === 'static' ? unique(() => staticMac(r)) : null;
      wearable = { ...bleDevice(r, w.ble, mac), public: w.address === 'public', model: wi };
    }
    const rate =
      kind === 'regular' ? uniform(r, 2, 4) / 6 // 2-4 visits a week over six open days
      : kind === 'multiStore' ? uniform(r, 1.5, 3) / 6
      : kind === 'occasional' ? 1 / uniform(r, 7, 21) // a visit every 1-3 weeks
      : kind === 'passerBy' ? uniform(r, 0.25, 0.6) // share of days they walk past
      : 1;
    const p: Person = {
      id,
      kind,
      home,
      stores,
      model,
      globalMac: global ? unique(() => globalMac(r)) : null,
      phoneBle,
      wearable,
      rate,
      email: `customer-${id}@example.com`,
      consent: r() < 0.7,
      identifyRate: 0,
      optedOut: false,
      // Randomized probes carry only the wildcard SSID; some old phones still ask for known networks.
      directed: r() < 0.2 && global,
      guestMac: null,
    };
    // Distinct by construction: id times a prime, modulo a range the prime does not divide.
    if (r() < 0.5) p.phone = `+49 30 ${1_000_000 + ((id * 7919) % 9_000_000)}`;
    if (r() < 0.6) p.loyaltyId = `OL-${10_000_000 + ((id * 104_729) % 90_000_000)}`;
    p.identifyRate = identifyRate(p, r() < 0.15);
    people.push(p);
  }
  // Guest WiFi: drawn from a generator of its own (the rest of the population stays as it was).
  const g = mulberry32(mix(o.seed, 0x6e57));
  for (const p of people) {
    const shopper = p.kind === 'regular' || p.kind === 'occasional' || p.kind === 'multiStore';
    if (g() < GUEST_WIFI_SHARE && shopper && p.globalMac === null) p.guestMac = unique(() => randomizedMac(g));
  }
  // Opt-outs: 2-3 customers who shop often; their phones probe with a global address (an old phone, if
  // need be), so the opt-out list names exactly the one address the agents must drop.
  const often = people.filter((p) => p.kind === 'regular' || p.kind === 'multiStore');
  const nOptout = Math.min(often.length, r() < 0.5 ? 2 : 3);
  const withGlobal = often.filter((p) => p.globalMac !== null);
  const others = often.filter((p) => p.globalMac === null);
  for (let k = 0; k < nOptout; k++) {
    const from = withGlobal.length ? withGlobal : others;
    const p = from.splice(Math.floor(r() * from.length), 1)[0]!;
    p.optedOut = true;
    if (p.globalMac === null) {
      p.model = GLOBAL_MODELS[0]!;
      p.globalMac = unique(() => globalMac(r));
      p.phoneBle = null;
    }
    p.wearable = null; // one address per opted-out person
    p.guestMac = null;
  }
  return people;
}

/**
 * Chance that a visit ends with an identify event (see Person.identifyRate): card users identify at
 * about every other visit with a stable phone, every fourth with a randomized one; a randomized phone
 * needs two identifiers, so only customers with a loyalty card or a phone number do.
 */
function identifyRate(p: Person, cardUser: boolean): number {
  if (p.kind === 'staff' || p.kind === 'passerBy') return 0;
  if (p.globalMac !== null) return cardUser ? 0.45 : 0.015;
  return p.loyaltyId || p.phone ? (cardUser ? 0.25 : 0.006) : 0;
}

/** A BLE advertiser of a profile: its payload shape drawn once (and its contents, if its address is stable). */
function bleDevice(r: () => number, b: BleProfile, mac: number | null): BleDevice {
  const mfgLen = b.mfgLen[int(r, 0, b.mfgLen.length - 1)]!;
  const txPower = b.txPower[int(r, 0, b.txPower.length - 1)]!;
  const payload = mac === null ? null : Array.from({ length: mfgLen - 1 }, () => int(r, 0, 255));
  return { company: b.company, mfgType: b.mfgType, mfgLen, txPower, flags: b.flags, pdu: b.pdu, rotateMs: b.rotateMs, mac, public: false, payload };
}

// ------------------------------------------------------------------ planning

interface PlanContext {
  o: TrafficOptions;
  people: Person[];
  zone: Zone;
  closed: Set<number>;
}

function newStay(ctx: PlanContext, pi: number, store: number, kind: Stay['kind'], start: number, end: number, day: number, seed: number, busy: boolean): Stay {
  const p = ctx.people[pi]!;
  const b = PHONE_MODELS[p.model]!.burst;
  const stay: Stay = {
    person: pi,
    store,
    kind,
    start,
    end,
    day,
    seed,
    screenOnMs: b.screenOnMs,
    idleMs: b.idleMs,
    // Shoppers look at their phones now and then (a list, a price); passers-by walk with it in hand.
    screenOn: kind === 'pass' ? 0.5 : 0.35,
    bleMs: 30_000,
    wearMs: 20_000,
    rssi: [-75, -40],
    closeBurst: kind === 'visit' && busy,
  };
  if (kind === 'pass') stay.rssi = [-88, -72];
  if (kind === 'shift') {
    // A phone in a locker probes rarely (but within HQ's 10-minute gap, so a shift stays one visit)
    // and a watch on a wrist does not move: sample them sparsely.
    stay.screenOn = 0;
    stay.idleMs = [240_000, 570_000];
    stay.bleMs = 180_000;
    stay.wearMs = 180_000;
    stay.rssi = [-72, -45];
  }
  if (busy && kind !== 'shift') {
    // A few minutes of a busy store: everyone heard every few seconds.
    stay.screenOnMs = [b.screenOnMs[0] / 5, b.screenOnMs[1] / 5];
    stay.idleMs = [b.idleMs[0] / 6, b.idleMs[1] / 6];
    stay.bleMs = 6_000;
    stay.wearMs = 5_000;
  }
  return stay;
}

/** Everyone's stays on one local date, in every store. Depends on (seed, person, date) only. */
function planDay(ctx: PlanContext, day: number): Stay[] {
  const { o, people, zone } = ctx;
  const dow = (((day + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
  const open = !ctx.closed.has(dow);
  const stays: Stay[] = [];
  const closeAt = zone.at(day, CLOSE_MS);
  const arrival = (r: () => number) => {
    const h = pickWeighted(r, ARRIVAL_BY_HOUR);
    return zone.at(day, OPEN_MS + h * HOUR + r() * (h === ARRIVAL_BY_HOUR.length - 1 ? 45 * MIN : HOUR));
  };
  const visit = (pi: number, store: number, start: number, r: () => number, k: number) => {
    // People linger a few minutes past closing, no longer.
    const end = Math.max(start + 4 * MIN, Math.min(start + dwellMs(r), closeAt + 10 * MIN));
    stays.push(newStay(ctx, pi, store, 'visit', start, end, day, mix(o.seed, 0x5ea, pi, day, k), false));
    return end;
  };
  for (let pi = 0; pi < people.length; pi++) {
    const p = people[pi]!;
    const r = mulberry32(mix(o.seed, 0xda7, pi, day));
    switch (p.kind) {
      case 'staff':
        if (open) stays.push(newStay(ctx, pi, p.home, 'shift', zone.at(day, 8.5 * HOUR + r() * 25 * MIN), zone.at(day, CLOSE_MS + 5 * MIN + r() * 25 * MIN), day, mix(o.seed, 0x5ea, pi, day, 0), false));
        break;
      case 'regular':
      case 'occasional': {
        const weight = p.kind === 'regular' ? DAY_WEIGHT[dow]! : 7 / 6;
        if (!open || r() >= p.rate * weight) break;
        // Occasional shoppers sometimes try another store of the chain.
        const store = p.kind === 'occasional' && o.stores.length > 1 && r() < 0.15 ? (p.home + 1 + Math.floor(r() * (o.stores.length - 1))) % o.stores.length : p.home;
        visit(pi, store, arrival(r), r, 0);
        break;
      }
      case 'multiStore': {
        if (!open || r() >= p.rate * DAY_WEIGHT[dow]!) break;
        const first = p.stores[Math.floor(r() * p.stores.length)]!;
        const end = visit(pi, first, arrival(r), r, 0);
        // Sometimes a second store the same day, after travelling between them.
        if (r() < 0.3) {
          const start2 = end + uniform(r, 45, 120) * MIN;
          const others = p.stores.filter((s) => s !== first);
          if (start2 < zone.at(day, 19.5 * HOUR) && others.length) visit(pi, others[Math.floor(r() * others.length)]!, start2, r, 1);
        }
        break;
      }
      case 'passerBy': {
        if (r() >= p.rate) break;
        const slots = [0, 1, 2];
        const n = r() < 0.6 ? 1 : 2;
        for (let k = 0; k < n; k++) {
          const [a, b] = PASS_SLOTS[slots.splice(Math.floor(r() * slots.length), 1)[0]!]!;
          const start = zone.at(day, uniform(r, a, b));
          stays.push(newStay(ctx, pi, p.home, 'pass', start, start + uniform(r, 10_000, 60_000), day, mix(o.seed, 0x5ea, pi, day, k), false));
        }
        break;
      }
    }
  }
  return stays;
}

/**
 * A short live period packed for a demo: dozens present per store at once, dwell scaled down ten-fold
 * (each visit still has one close burst, so HQ judges it a visitor), a stream of passers-by, staff in.
 * Customers come from the same population (each at most once per period), so live visits of a stable
 * phone join its history.
 */
function planBusy(ctx: PlanContext, period: TrafficPeriod): Stay[] {
  const { o, people } = ctx;
  const S = period.startMs;
  const E = period.endMs;
  const span = E - S;
  const r = mulberry32(mix(o.seed, 0xb05, hi32(S), S >>> 0, hi32(E), E >>> 0));
  const stays: Stay[] = [];
  const taken = new Set<number>();
  const meanDwell = 2 * MIN;
  const day = ctx.zone.dayOf(S);
  for (let s = 0; s < o.stores.length; s++) {
    for (let pi = 0; pi < people.length; pi++) {
      const p = people[pi]!;
      if (p.kind === 'staff' && p.home === s) stays.push(newStay(ctx, pi, s, 'shift', S - HOUR, E + HOUR, day, mix(o.seed, 0xb5f, pi, S >>> 0), true));
    }
    // Arrivals spread over the period and the lead-in before it: that many keep `present` inside.
    const present = int(r, 30, 50);
    const want = Math.round((present * (span + 1.5 * meanDwell)) / meanDwell);
    const shoppers = (pi: number) => people[pi]!.kind !== 'staff' && people[pi]!.kind !== 'passerBy' && !taken.has(pi);
    const order = shuffle(r, people.map((_, i) => i));
    // This store's own customers first, then anyone else who shops.
    const pool = [...order.filter((pi) => shoppers(pi) && people[pi]!.stores.includes(s)), ...order.filter((pi) => shoppers(pi) && !people[pi]!.stores.includes(s))];
    for (const pi of pool.slice(0, want)) {
      taken.add(pi);
      const start = uniform(r, S - 1.5 * meanDwell, E);
      const dwell = Math.min(10 * MIN, Math.max(45_000, dwellMs(r) / 10));
      stays.push(newStay(ctx, pi, s, 'visit', start, start + dwell, day, mix(o.seed, 0xb51, pi, S >>> 0), true));
    }
    const passers = shuffle(r, people.map((_, i) => i).filter((pi) => people[pi]!.kind === 'passerBy' && people[pi]!.home === s && !taken.has(pi)));
    for (const pi of passers.slice(0, Math.round((span / MIN) * 15))) {
      taken.add(pi);
      const start = uniform(r, S - 30_000, E);
      stays.push(newStay(ctx, pi, s, 'pass', start, start + uniform(r, 10_000, 60_000), day, mix(o.seed, 0xb52, pi, S >>> 0), true));
    }
  }
  return stays;
}

function shuffle<T>(r: () => number, a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function validate(o: TrafficOptions): void {
  const name = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
  if (!o.stores.length) throw new Error('at least one store');
  if (new Set(o.stores).size !== o.stores.length) throw new Error('store names repeat');
  for (const s of o.stores) if (!name.test(s)) throw new Error(`store name ${JSON.stringify(s)}: letters, digits, . _ - only`);
  if (!Number.isInteger(o.customers) || o.customers < 1) throw new Error('customers must be a positive integer');
  if (!Number.isFinite(o.seed)) throw new Error('seed must be a number');
  if (o.globalShare !== undefined && !(o.globalShare >= 0 && o.globalShare <= 1)) throw new Error('globalShare must be from 0 to 1');
  if (!o.periods.length) throw new Error('at least one period');
  if (new Set(o.periods.map((p) => p.name)).size !== o.periods.length) throw new Error('period names repeat');
  for (const p of o.periods) {
    if (!name.test(p.name)) throw new Error(`period name ${JSON.stringify(p.name)}: letters, digits, . _ - only`);
    if (!Number.isFinite(p.startMs) || !Number.isFinite(p.endMs) || p.endMs <= p.startMs) throw new Error(`period ${p.name}: endMs must be after startMs`);
  }
  new Intl.DateTimeFormat('en-US', { timeZone: o.timezone }); // throws RangeError on an unknown zone
}

/** Who is where and when, per period (pure). */
export function planTraffic(o: TrafficOptions): { people: Person[]; periods: PlannedPeriod[] } {
  validate(o);
  const people = buildPopulation(o);
  const ctx: PlanContext = { o, people, zone: new Zone(o.timezone), closed: new Set(o.closedWeekdays ?? [0]) };
  const days = new Map<number, Stay[]>();
  const periods = o.periods.map((period): PlannedPeriod => {
    const busy = period.busy ?? (o.busy === true && period.endMs - period.startMs <= BUSY_MAX_MS);
    if (busy) return { period, busy, stays: planBusy(ctx, period) };
    const stays: Stay[] = [];
    // One day before: nothing crosses midnight today, but a zone's offset could shift a boundary.
    for (let d = ctx.zone.dayOf(period.startMs) - 1; d <= ctx.zone.dayOf(period.endMs - 1); d++) {
      let list = days.get(d);
      if (!list) days.set(d, (list = planDay(ctx, d)));
      for (const s of list) if (s.end >= period.startMs && s.start < period.endMs) stays.push(s);
    }
    return { period, busy, stays };
  });
  return { people, periods };
}

// ------------------------------------------------------------------ rendering

/** A frame's owner for the ground truth: person index * 4 + its stay's kind; -1 for a beacon. */
const KIND_CODE: Record<Stay['kind'], number> = { visit: 0, pass: 1, shift: 2 };

/**
 * One file's frames before sorting, as parallel typed arrays: a history file has ~100k of them, and
 * objects would cost more in garbage collection than writing the file.
 */
class FrameList {
  n = 0;
  ts = new Float64Array(4096);
  mac = new Float64Array(4096);
  /** WiFi: rssi byte | seq << 8; BLE: rssi byte | advertising channel index (0-2) << 8. */
  info = new Int32Array(4096);
  /** The index of the frame's template in `templates`. */
  tpl = new Int32Array(4096);
  /** person * 4 + KIND_CODE, or -1 (a beacon). */
  who = new Int32Array(4096);
  readonly templates: Uint8Array[] = [];
  /** Per template: a WiFi probe request (radiotap) or a BLE packet (LL with PHDR). */
  readonly wifi: boolean[] = [];
  private readonly tplIndex = new Map<Uint8Array, number>();

  push(ts: number, mac: number, info: number, tpl: Uint8Array, wifi: boolean, who: number): void {
    if (this.n === this.ts.length) this.grow();
    const i = this.n++;
    this.ts[i] = ts;
    this.mac[i] = mac;
    this.info[i] = info;
    this.who[i] = who;
    let t = this.tplIndex.get(tpl);
    if (t === undefined) {
      this.tplIndex.set(tpl, (t = this.templates.length));
      this.templates.push(tpl);
      this.wifi.push(wifi);
    }
    this.tpl[i] = t;
  }

  /** Indices in time order; equal instants keep insertion order, so the output is deterministic. */
  order(): Uint32Array {
    const o = new Uint32Array(this.n);
    for (let i = 0; i < o.length; i++) o[i] = i;
    const ts = this.ts;
    return o.sort((a, b) => ts[a]! - ts[b]! || a - b);
  }

  private grow(): void {
    const g = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(a.length * 2);
      b.set(a);
      return b;
    };
    this.ts = g(this.ts, (n) => new Float64Array(n));
    this.mac = g(this.mac, (n) => new Float64Array(n));
    this.info = g(this.info, (n) => new Int32Array(n));
    this.tpl = g(this.tpl, (n) => new Int32Array(n));
    this.who = g(this.who, (n) => new Int32Array(n));
  }
}

// Radiotap template (flags, channel, dBm signal, antenna: 16 bytes) followed by the probe request.
const RT_SIGNAL = 14;
const RT_LEN = 16;
const PR_SA = RT_LEN + 10;
const PR_SEQ = RT_LEN + 22;

/** Per phone model, wildcard [0] or directed [1], per channel of CHANNELS: the probe request template. */
type WifiTemplates = Uint8Array[][][];

function wifiTemplates(): WifiTemplates {
  return PHONE_MODELS.map((m) =>
    ['', 'Store-Guest'].map((ssid) =>
      CHANNELS.map((ch) => {
        const rt = radiotapHeader({ flags: 0, freqMhz: 2407 + 5 * ch, signalDbm: -60, antenna: 0 });
        if (rt.length !== RT_LEN) throw new Error('radiotap template changed size');
        return concat(rt, probeRequest({ sa: 0, seq: 0, ssid, elements: m.elements(ch) }));
      }),
    ),
  );
}

function bleTemplate(mac: number, isPublic: boolean, pdu: number, ad: Uint8Array): Uint8Array {
  return concat(blePhdr({ rfChannel: 0, signalDbm: -60 }), bleLlPacket(bleAdvPdu({ pduType: pdu, txAdd: isPublic ? 0 : 1, advA: mac, adData: ad })));
}

/** A device's advertising data: flags, manufacturer data (company id, type, contents), TX power. */
function bleAd(d: BleDevice, contents: number[]): Uint8Array {
  const parts = [adFlags(d.flags), adStructure(0xff, [d.company & 0xff, d.company >> 8, d.mfgType, ...contents])];
  if (d.txPower !== null) parts.push(adStructure(0x0a, [d.txPower & 0xff]));
  return concat(...parts);
}

/** Rounded to the microsecond the file stores, so filtering and ordering agree with what is read back. */
const us = (ms: number) => Math.round(ms * 1000) / 1000;

/** One frame of a stay as the generator means it (see stayFrames). */
export interface StayFrame {
  /** As written (microseconds). */
  ts: number;
  source: 'wifi' | 'ble';
  /** The phone's probe requests, the phone's BLE advertising, or its owner's watch or band. */
  device: 'phone' | 'phoneBle' | 'wearable';
  mac: number;
  /** WiFi sequence number; -1 for BLE. */
  seq: number;
  /** WiFi channel (1, 6, 11) or BLE advertising channel (37-39). */
  channel: number;
  rssi: number;
  /** WiFi: the burst's index in the stay; -1 for BLE. */
  burst: number;
  /** WiFi: a probe for a network by name. */
  directed: boolean;
}

interface StayOut {
  S: number;
  E: number;
  /** Where frames inside [S, E) go (null: nowhere). */
  list: FrameList | null;
  wifiTpl: WifiTemplates | null;
  /** The store's guest access point: a QoS null frame to it (radiotap, channel 6), the station patched in. */
  apTpl: Uint8Array | null;
  /** Stable BLE devices' templates, per person and device. */
  stableTpl: Map<string, Uint8Array>;
  /** Every frame of the stay, whatever the window. */
  detail?: (f: StayFrame) => void;
}

interface StayOutcome {
  written: number;
  identify: IdentifyEvent | null;
}

/** A stay's frames inside [S, E), and its identify event at the till if it has one there. */
function renderStay(st: Stay, p: Person, storeName: string, out: StayOut): StayOutcome {
  const r = mulberry32(st.seed);
  const { S, E, list, detail } = out;
  const who = st.person * 4 + KIND_CODE[st.kind];
  const m = PHONE_MODELS[p.model]!;
  // Every draw happens whatever the period, so a stay's frames never depend on where periods cut.
  const idRoll = r();
  const idPick = r();
  const idExtra = r();
  const rssiIn = (lo: number, hi: number) => Math.round(uniform(r, lo, hi));
  const bursts: number[] = [];
  /** Per burst: the screen is on (a full scan) or the phone idles (the fewest probes per channel). */
  const awake: boolean[] = [];
  const dur = st.end - st.start;
  let t = st.start + r() * Math.min(3_000, dur);
  while (t < st.end) {
    const on = r() < st.screenOn;
    bursts.push(t);
    awake.push(on);
    t += on ? uniform(r, st.screenOnMs[0], st.screenOnMs[1]) : uniform(r, st.idleMs[0], st.idleMs[1]);
  }
  // Phones probe when they move: one burst on the way out too (a visit's observed dwell is its dwell).
  if (st.kind !== 'pass' && st.end - bursts[bursts.length - 1]! > 10_000) {
    bursts.push(st.end - r() * 3_000);
    awake.push(false);
  }
  const close = st.closeBurst ? bursts.length >> 1 : -1;
  // A guest WiFi user joins a minute or two into a visit; connected, the phone no longer scans while idle.
  // (Drawn from a generator of its own: the stay's other frames stay as they were.)
  const gr = mulberry32(mix(st.seed, 0x6e5));
  const joinAt = p.guestMac !== null && st.kind === 'visit' ? st.start + uniform(gr, 45_000, 150_000) : Infinity;
  const rot = m.rotation;
  const shape = m.burst;
  const burstMac: number[] = [];
  /** Per burst: it was made (a connected phone's idle bursts are not). */
  const heard: boolean[] = [];
  let mac = p.globalMac ?? 0;
  let born = 0;
  let maxAge = Infinity;
  let seq = int(r, 0, 4095);
  let written = 0;
  let walk = 0;
  for (let b = 0; b < bursts.length; b++) {
    const bt = bursts[b]!;
    // A connected phone idles without scanning: the burst is not made (its draws still are, so the rest of
    // the stay's frames stay as they were), and without a scan the address does not rotate either.
    const quiet = bt >= joinAt && joinAt < st.end && !awake[b];
    if (p.globalMac === null && (b === 0 || r() < rot.perBurst || bt - born > maxAge)) {
      const kept = [mac, maxAge, born, seq] as const;
      mac = randomizedMac(r);
      maxAge = uniform(r, rot.maxAgeMs[0], rot.maxAgeMs[1]);
      // The address a phone walks in with has been in use for a while (it rotates wherever it is).
      born = b === 0 ? bt - r() * Math.min(maxAge, 10 * MIN) : bt;
      // A new address restarts the sequence number at a random value (never just the next one).
      if (b > 0 && rot.seq === 'restart') seq = (seq + 256 + int(r, 0, 3583)) & 0xfff;
      if (quiet) [mac, maxAge, born, seq] = kept;
    }
    burstMac.push(mac);
    heard.push(!quiet);
    // A person moves a few metres between bursts: the signal walks (a few dB per burst) within the
    // stay's range rather than jumping anywhere in it; the close burst is at the till or the window.
    // (A staff phone lies in its locker: its level stays.)
    const step = st.kind === 'shift' ? 0 : int(r, -5, 5);
    walk = b === 0 ? rssiIn(st.rssi[0], st.rssi[1]) : Math.max(st.rssi[0], Math.min(st.rssi[1], walk + step));
    const base = b === close ? rssiIn(-60, -45) : walk;
    const hi = b === close ? -45 : st.rssi[1];
    const n = awake[b] ? int(r, shape.perChannel[0], shape.perChannel[1]) : shape.perChannel[0];
    let ts = bt;
    for (let c = 0; c < CHANNELS.length; c++) {
      for (let k = 0; k < n + (p.directed ? 1 : 0); k++) {
        const directed = k === n; // after the wildcard probes, the network it knows by name
        if (!quiet) seq = (seq + 1) & 0xfff; // (a scan not made counts nothing up)
        const rssi = Math.max(st.rssi[0], Math.min(hi, base + int(r, -3, 3)));
        const at = us(ts);
        if (!quiet) {
          detail?.({ ts: at, source: 'wifi', device: 'phone', mac, seq, channel: CHANNELS[c]!, rssi, burst: b, directed });
          if (at >= S && at < E) {
            list?.push(at, mac, (rssi & 0xff) | (seq << 8), out.wifiTpl![p.model]![directed ? 1 : 0]![c]!, true, who);
            written++;
          }
        }
        ts += uniform(r, shape.probeGapMs[0], shape.probeGapMs[1]);
      }
      // The channels between 1, 6 and 11 (and after) are scanned as well, unheard here.
      if (!quiet) seq = (seq + 4 * n) & 0xfff;
      ts += uniform(r, shape.channelGapMs[0], shape.channelGapMs[1]);
    }
  }

  // Connected: a data or null frame to the store's guest AP every 20-50 s, from the per-network address.
  const connectedAt: number[] = [];
  if (p.guestMac !== null && joinAt < st.end) {
    let gseq = int(gr, 0, 4095);
    for (let t = joinAt; t < st.end; t += uniform(gr, 20_000, 50_000)) {
      connectedAt.push(t);
      gseq = (gseq + int(gr, 1, 40)) & 0xfff;
      const rssi = Math.round(uniform(gr, st.rssi[0], st.rssi[1]));
      const at = us(t);
      detail?.({ ts: at, source: 'wifi', device: 'phone', mac: p.guestMac, seq: gseq, channel: 6, rssi, burst: -1, directed: false });
      if (at >= S && at < E && out.apTpl) {
        list?.push(at, p.guestMac, (rssi & 0xff) | (gseq << 8), out.apTpl, true, who);
        written++;
      }
    }
  }

  const advertise = (d: BleDevice, every: number, device: 'phoneBle' | 'wearable', key: string) => {
    const rotating = d.mac === null;
    let addr = d.mac ?? 0;
    let contents = d.payload ?? [];
    let tpl: Uint8Array | null = null;
    let until = Infinity;
    const renew = () => {
      addr = rpaMac(r);
      contents = Array.from({ length: d.mfgLen - 1 }, () => int(r, 0, 255));
      tpl = null;
    };
    if (rotating) {
      renew();
      until = st.start + r() * uniform(r, d.rotateMs[0], d.rotateMs[1]); // in use since before the stay
    }
    for (let tb = st.start + r() * every; tb < st.end; tb += every * uniform(r, 0.8, 1.2)) {
      while (tb >= until) {
        renew();
        until += uniform(r, d.rotateMs[0], d.rotateMs[1]);
      }
      const at = us(tb);
      const rssi = rssiIn(st.rssi[0], st.rssi[1]);
      const ch = int(r, 0, 2);
      detail?.({ ts: at, source: 'ble', device, mac: addr, seq: -1, channel: 37 + ch, rssi, burst: -1, directed: false });
      if (at >= S && at < E) {
        if (!tpl) {
          if (rotating) tpl = bleTemplate(addr, false, d.pdu, bleAd(d, contents));
          else {
            tpl = out.stableTpl.get(key) ?? null;
            if (!tpl) out.stableTpl.set(key, (tpl = bleTemplate(addr, d.public, d.pdu, bleAd(d, contents))));
          }
        }
        list?.push(at, addr, (rssi & 0xff) | (ch << 8), tpl, false, who);
        written++;
      }
    }
  };
  if (p.phoneBle) advertise(p.phoneBle, st.bleMs, 'phoneBle', `${p.id}:p`);
  if (p.wearable) advertise(p.wearable, st.wearMs, 'wearable', `${p.id}:w`);

  // At the till, late in the visit: mostly stable phones' card users; a randomized phone's address of
  // that moment needs two identifiers.
  let identify: IdentifyEvent | null = null;
  if (st.kind === 'visit' && !p.optedOut && bursts.length) {
    const global = p.globalMac !== null;
    if (idRoll < p.identifyRate) {
      let bi = Math.min(bursts.length - 1, Math.floor(bursts.length * (0.5 + idPick * 0.5)));
      while (bi > 0 && !heard[bi]) bi--; // the till sees the address of a burst that was made
      const ts = Math.floor(us(bursts[bi]!));
      if (ts >= S && ts < E) {
        identify = { tsMs: ts, store: storeName, mac: macText(burstMac[bi]!), consent: { marketing: p.consent } };
        if (!global) {
          identify.email = p.email;
          if (p.loyaltyId) identify.loyaltyId = p.loyaltyId;
          else identify.phone = p.phone!;
        } else if (idExtra < 0.5 && p.loyaltyId) {
          identify.loyaltyId = p.loyaltyId; // the loyalty card at the till
        } else {
          identify.email = p.email; // the captive portal
          if (p.phone && idExtra > 0.8) identify.phone = p.phone;
        }
      }
    }
  }
  // The captive portal: about every other connected visit asks for the login again (e-mail), and sees the
  // per-network address; the login is the phone's first frame after joining.
  if (!identify && !p.optedOut && connectedAt.length && gr() < 0.5) {
    const ts = Math.floor(us(connectedAt[0]!));
    if (ts >= S && ts < E) identify = { tsMs: ts, store: storeName, mac: macText(p.guestMac!), email: p.email, connected: true, consent: { marketing: p.consent } };
  }
  return { written, identify };
}

/**
 * Every frame a stay's devices send, whatever the periods (what generateStoreTraffic writes of it is
 * the part inside a period): for tests and tools that need to know which addresses are one person's.
 */
export function stayFrames(people: Person[], st: Stay): StayFrame[] {
  const frames: StayFrame[] = [];
  renderStay(st, people[st.person]!, '', { S: -Infinity, E: -Infinity, list: null, wifiTpl: null, apTpl: null, stableTpl: new Map(), detail: (f) => frames.push(f) });
  return frames;
}

/** The store's two iBeacons and its Eddystone-UID: fixed, all day, sampled sparsely. */
function renderBeacons(o: TrafficOptions, store: number, S: number, E: number, out: FrameList): void {
  const every = Math.min(10 * MIN, Math.max(10_000, (E - S) / 100));
  const beacons = [
    adIBeacon({ uuid: BEACON_UUID, major: store + 1, minor: 1, power: -59 }),
    adIBeacon({ uuid: BEACON_UUID, major: store + 1, minor: 2, power: -59 }),
    adEddystoneUid({ namespace: EDDYSTONE_NS, instance: (0x5707e0000000 + store + 1).toString(16).padStart(12, '0') }),
  ];
  beacons.forEach((ad, b) => {
    const m = mulberry32(mix(o.seed, 0xbea, store, b)); // the same device in every period
    const mac = staticMac(m);
    const r = mulberry32(mix(o.seed, 0xbeb, store, b, hi32(S), S >>> 0));
    const tpl = bleTemplate(mac, false, 2, concat(adFlags(0x04), ad));
    const level = b === 0 ? -56 : b === 1 ? -68 : -62; // fixed on the wall: a steady level
    for (let t = S + r() * every; t < E; t += every * uniform(r, 0.9, 1.1)) {
      out.push(us(t), mac, ((level + int(r, -2, 2)) & 0xff) | (int(r, 0, 2) << 8), tpl, false, -1);
    }
  });
}

/** A frame broken the way real captures are, carrying no real device. */
function malformedFrame(good: Uint8Array, wifi: boolean, r: () => number): Uint8Array {
  const f = good.slice();
  if (!wifi) {
    f[f.length - 1]! ^= 0x55; // CRC-24 no longer matches
    return f;
  }
  macToBytes(randomizedMac(r), f, PR_SA);
  const kind = int(r, 0, 2);
  if (kind === 0) return f.slice(0, RT_LEN + 20); // cut inside the header
  if (kind === 1) f[2] = 0xff; // radiotap length beyond the frame
  else f[RT_LEN + 25] = 200; // SSID element runs past the frame
  return f;
}

/**
 * A handful of customers who identified more than once change their mind: from one of their later
 * events on, their marketing consent is the opposite (mostly a withdrawal, as 70% start with a yes).
 * Decided on the events themselves, so the change is always visible. Returns how many changed.
 */
function changeMinds(seed: number, eventsOf: Map<number, IdentifyEvent[]>): number {
  const r = mulberry32(mix(seed, 0xc05));
  const candidates = [...eventsOf.keys()].filter((k) => eventsOf.get(k)!.length > 1).sort((a, b) => a - b);
  const n = Math.min(candidates.length, int(r, 3, 5));
  for (let k = 0; k < n; k++) {
    const events = eventsOf.get(candidates.splice(Math.floor(r() * candidates.length), 1)[0]!)!.sort((a, b) => a.tsMs - b.tsMs);
    for (let i = int(r, 1, events.length - 1); i < events.length; i++) events[i]!.consent = { marketing: !events[i]!.consent.marketing };
  }
  return n;
}

/** One store-day's tally while files are written (see StoreDayTruth). */
class StoreDayTally {
  readonly wifi = new Set<number>();
  readonly ble = new Set<number>();
  /** Customer -> time of their first frame. */
  readonly first = new Map<number, number>();
  readonly visitors = new Set<number>();
  readonly passers = new Set<number>();
  readonly staff = new Set<number>();
  readonly global = new Set<number>();
  readonly wifiPhones = new Set<number>();

  add(ts: number, mac: number, wifi: boolean, who: number, people: Person[]): void {
    (wifi ? this.wifi : this.ble).add(mac);
    if (who < 0) return;
    const pi = who >> 2;
    const kind = who & 3;
    if (wifi) this.wifiPhones.add(pi);
    if (kind === KIND_CODE.shift) {
      this.staff.add(pi);
      return;
    }
    const f = this.first.get(pi);
    if (f === undefined || ts < f) this.first.set(pi, ts);
    (kind === KIND_CODE.visit ? this.visitors : this.passers).add(pi);
    if (wifi && people[pi]!.globalMac === mac) this.global.add(pi);
  }

  figures(zone: Zone): StoreDayTruth {
    const arrivalsByHour = Array<number>(24).fill(0);
    const passersByHour = Array<number>(24).fill(0);
    for (const [pi, ts] of this.first) (this.visitors.has(pi) ? arrivalsByHour : passersByHour)[zone.localHours(ts) % 24]!++;
    return {
      people: this.first.size,
      visitors: this.visitors.size,
      passersBy: this.passers.size,
      staff: this.staff.size,
      globalPhones: this.global.size,
      wifiPhones: this.wifiPhones.size,
      wifiAddresses: this.wifi.size,
      bleAddresses: this.ble.size,
      arrivalsByHour,
      passersByHour,
    };
  }
}

/** Plans, then writes one pcapng per (period, store); returns what was written and the ground truth. */
export function generateStoreTraffic(o: TrafficOptions): { traffic: StoreTraffic[]; truth: TrafficTruth } {
  const { people, periods } = planTraffic(o);
  mkdirSync(o.outDir, { recursive: true });
  const zone = new Zone(o.timezone);
  const wifiTpl = wifiTemplates();
  const apTpls = o.stores.map((_, s) => concat(radiotapHeader({ flags: 0, freqMhz: 2437, signalDbm: -60, antenna: 0 }), qosNullFrame(0, GUEST_AP_BASE + s)));
  const stableTpl = new Map<string, Uint8Array>();

  const visitStores = new Map<number, Set<number>>();
  const visitDays = new Map<number, Set<number>>();
  const passers = new Set<number>();
  const eventsOf = new Map<number, IdentifyEvent[]>();
  const tallies = o.stores.map(() => new Map<number, StoreDayTally>());
  const truth: Required<TrafficTruth> = {
    visits: 0,
    visitors: 0,
    passersBy: 0,
    customersByKind: Object.fromEntries(KINDS.map((k) => [k, people.filter((p) => p.kind === k).length])),
    multiStoreCustomers: 0,
    returningCustomers: 0,
    optedOutMacs: people.filter((p) => p.optedOut).map((p) => macText(p.globalMac!)),
    passes: 0,
    staffShifts: 0,
    frames: 0,
    malformed: 0,
    identifies: 0,
    consentChanges: 0,
    people: {},
  };

  const traffic: StoreTraffic[] = [];
  for (const { period, stays } of periods) {
    const S = period.startMs;
    const E = period.endMs;
    for (let s = 0; s < o.stores.length; s++) {
      const store = o.stores[s]!;
      const events = new FrameList();
      const identifies: IdentifyEvent[] = [];
      for (const st of stays) {
        if (st.store !== s) continue;
        const p = people[st.person]!;
        const { written, identify } = renderStay(st, p, store, { S, E, list: events, wifiTpl, apTpl: apTpls[s]!, stableTpl });
        if (identify) {
          identifies.push(identify);
          let list = eventsOf.get(st.person);
          if (!list) eventsOf.set(st.person, (list = []));
          list.push(identify);
        }
        if (written === 0) continue;
        if (st.kind === 'shift') truth.staffShifts++;
        else if (st.kind === 'pass') {
          truth.passes++;
          passers.add(st.person);
        } else {
          truth.visits++;
          let stores = visitStores.get(st.person);
          if (!stores) visitStores.set(st.person, (stores = new Set()));
          stores.add(s);
          let days = visitDays.get(st.person);
          if (!days) visitDays.set(st.person, (days = new Set()));
          days.add(st.day);
        }
      }
      renderBeacons(o, s, S, E, events);

      const file = join(o.outDir, `${store}-${period.name}.pcapng`);
      const w = new PcapngWriter(file, [{ linktype: LinkType.Ieee80211Radiotap }, { linktype: LinkType.BluetoothLeLlWithPhdr }]);
      const bad = mulberry32(mix(o.seed, 0xbad, s, hi32(S), S >>> 0));
      const tally = tallies[s]!;
      let last: StoreDayTally | null = null;
      let lastDay = NaN;
      let malformed = 0;
      for (const i of events.order()) {
        const info = events.info[i]!;
        const t = events.tpl[i]!;
        const ts = events.ts[i]!;
        const mac = events.mac[i]!;
        const wifi = events.wifi[t]!;
        const frame = events.templates[t]!;
        if (wifi) {
          const seq = (info >> 8) & 0xfff;
          macToBytes(mac, frame, PR_SA);
          frame[PR_SEQ] = (seq << 4) & 0xff;
          frame[PR_SEQ + 1] = seq >> 4;
          frame[RT_SIGNAL] = info & 0xff;
        } else {
          frame[0] = BLE_RF[(info >> 8) & 3]!;
          frame[1] = info & 0xff;
        }
        w.add(wifi ? 0 : 1, ts, frame);
        const day = Math.floor(zone.localHours(ts) / 24);
        if (day !== lastDay) {
          last = tally.get(day) ?? null;
          if (!last) tally.set(day, (last = new StoreDayTally()));
          lastDay = day;
        }
        last!.add(ts, mac, wifi, events.who[i]!, people);
        // Added beside a good frame, never instead of one: the ground truth of people stays exact. (Probe
        // requests and BLE only: a guest phone's null frame has no elements to break.)
        if (bad() < MALFORMED_SHARE && (!wifi || frame[RT_LEN] === 0x40)) {
          w.add(wifi ? 0 : 1, ts, malformedFrame(frame, wifi, bad));
          malformed++;
        }
      }
      w.close();
      identifies.sort((a, b) => a.tsMs - b.tsMs);
      truth.frames += w.count;
      truth.malformed += malformed;
      truth.identifies += identifies.length;
      traffic.push({ store, period: period.name, file, frames: w.count, identifies, malformed });
    }
  }
  truth.visitors = visitStores.size;
  truth.passersBy = passers.size;
  truth.multiStoreCustomers = [...visitStores.values()].filter((s) => s.size > 1).length;
  truth.returningCustomers = [...visitDays.values()].filter((d) => d.size > 1).length;
  truth.consentChanges = changeMinds(o.seed, eventsOf);
  o.stores.forEach((store, s) => {
    const days: Record<string, StoreDayTruth> = {};
    for (const day of [...tallies[s]!.keys()].sort((a, b) => a - b)) days[localDate(day)] = tallies[s]!.get(day)!.figures(zone);
    truth.people[store] = days;
  });
  return { traffic, truth };
}

/** YYYY-MM-DD of a local date number. */
function localDate(day: number): string {
  return new Date(day * DAY).toISOString().slice(0, 10);
}
