/**
 * The edge's pseudonymization stage: addresses and beacon identities in, Consumer-IDs out, exactly as
 * identity scheme v1 says. Per store-day it keeps one id per device (an HMAC per frame would cost more
 * than all the decoding); a new day starts a new map, so memory is bounded by one day's devices and
 * yesterday's ids, which must never be produced again, are gone.
 */
import { ConsumerIdHasher } from '../../shared/identity/consumer-id.js';
import { deriveDayKey, deriveOptoutKey } from '../../shared/identity/keys.js';
import { OptoutTokenizer } from '../../shared/identity/optout.js';
import { validateTenant } from '../../shared/identity/secret.js';
import { StoreDayClock, type DayInterval } from '../../shared/identity/store-day.js';
import { AddressTable } from '../decode/address-table.js';
import { macToBytes } from '../decode/observation.js';

export interface PseudonymizerOptions {
  secret: Uint8Array;
  tenant: string;
  timezone: string;
  rolloverHours?: number;
  optoutTokens?: ReadonlySet<string>;
}

interface DayState {
  interval: DayInterval;
  hasher: ConsumerIdHasher;
  /** The day's addresses (numbered as they come) and their ids by that number. */
  macs: AddressTable;
  ids: string[];
}

/** The opt-out verdict cache is bounded: beyond this many addresses it starts over. */
const OPTOUT_CACHE_MAX = 1_000_000;

export class Pseudonymizer {
  private readonly clock: StoreDayClock;
  private cur: DayState | null = null;
  /** The previous day stays around for frames that arrive out of order across midnight. */
  private prev: DayState | null = null;
  private optoutTokens: ReadonlySet<string>;
  private readonly optout: OptoutTokenizer;
  private readonly optoutCache = new Map<number, boolean>();
  private readonly mac6 = new Uint8Array(6);

  constructor(private readonly opts: PseudonymizerOptions) {
    if (opts.secret.length !== 32) throw new Error('tenant secret must be 32 bytes');
    validateTenant(opts.tenant);
    this.clock = new StoreDayClock(opts.timezone, opts.rolloverHours ?? 0);
    this.optoutTokens = opts.optoutTokens ?? new Set();
    this.optout = new OptoutTokenizer(deriveOptoutKey(opts.secret, opts.tenant));
  }

  cidForMac(mac: number, tsMs: number): string {
    let d = this.cur;
    if (d === null || tsMs < d.interval.startMs || tsMs >= d.interval.endMs) d = this.dayState(tsMs);
    const i = d.macs.add(mac);
    let cid = d.ids[i];
    if (cid === undefined) {
      cid = d.hasher.address(macToBytes(mac, this.mac6));
      d.ids.push(cid);
    }
    return cid;
  }

  cidForIBeacon(buf: Uint8Array, uuidOff: number, major: number, minor: number, tsMs: number): string {
    return this.dayState(tsMs).hasher.ibeacon(buf.subarray(uuidOff, uuidOff + 16), major, minor);
  }

  cidForEddystone(buf: Uint8Array, nsOff: number, tsMs: number): string {
    return this.dayState(tsMs).hasher.eddystoneUid(buf.subarray(nsOff, nsOff + 10), buf.subarray(nsOff + 10, nsOff + 16));
  }

  isOptedOut(mac: number): boolean {
    if (this.optoutTokens.size === 0) return false;
    let v = this.optoutCache.get(mac);
    if (v === undefined) {
      v = this.optoutTokens.has(this.optout.token(macToBytes(mac, this.mac6)));
      if (this.optoutCache.size >= OPTOUT_CACHE_MAX) this.optoutCache.clear();
      this.optoutCache.set(mac, v);
    }
    return v;
  }

  setOptoutTokens(tokens: ReadonlySet<string>): void {
    this.optoutTokens = tokens;
    this.optoutCache.clear();
  }

  storeDay(tsMs: number): string {
    return this.clock.dayOf(tsMs);
  }

  /** The store-day of tsMs with its [start, end) in epoch milliseconds. */
  dayInterval(tsMs: number): DayInterval {
    return this.clock.interval(tsMs);
  }

  /** Consumer-IDs held for the current and previous store-day. */
  get cacheSize(): number {
    return (this.cur?.ids.length ?? 0) + (this.prev?.ids.length ?? 0);
  }

  private dayState(tsMs: number): DayState {
    const c = this.cur;
    if (c !== null && tsMs >= c.interval.startMs && tsMs < c.interval.endMs) return c;
    const p = this.prev;
    if (p !== null && tsMs >= p.interval.startMs && tsMs < p.interval.endMs) return p;
    const interval = this.clock.interval(tsMs);
    const next: DayState = {
      interval,
      hasher: new ConsumerIdHasher(deriveDayKey(this.opts.secret, this.opts.tenant, interval.day)),
      macs: new AddressTable(),
      ids: [],
    };
    // Keep the later of the two days as current; an old straggler day never evicts today.
    if (c === null || interval.startMs >= c.interval.startMs) {
      this.prev = c;
      this.cur = next;
    } else {
      this.prev = next;
    }
    return next;
  }
}
