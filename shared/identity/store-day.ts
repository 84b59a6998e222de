/**
 * Store-day (DESIGN.md): the local date, in the store's IANA time zone, of (timestamp − rollover hours).
 * Intl is slow, and the hot path asks for every frame, so the clock keeps the [start, end) interval of
 * the last two days it saw and only asks Intl again when a timestamp leaves them. Boundaries are found
 * by bisection on Intl's answers, which stays right across DST changes and any zone's history.
 */
import { InputError } from '../errors.js';

export interface DayInterval {
  day: string;
  startMs: number;
  endMs: number;
}

const HOUR = 3_600_000;
const SEARCH = 50 * HOUR; // longer than any civil day

export function isValidTimeZone(tz: string): boolean {
  if (typeof tz !== 'string' || tz === '') return false;
  if (tz === 'UTC') return true; // no need to start Intl (about 30 ms) for the one zone it is not needed for
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export class StoreDayClock {
  /** Null for UTC: its dates are plain arithmetic, and Intl costs ~30 ms to start. */
  private readonly fmt: Intl.DateTimeFormat | null;
  private readonly rolloverMs: number;
  private cur: DayInterval = { day: '', startMs: 0, endMs: 0 };
  private prev: DayInterval = { day: '', startMs: 0, endMs: 0 };

  constructor(
    readonly timezone: string,
    readonly rolloverHours = 0,
  ) {
    if (!isValidTimeZone(timezone)) throw new InputError(`${JSON.stringify(timezone)} is not an IANA time zone (for example Europe/Berlin)`);
    if (!Number.isInteger(rolloverHours) || rolloverHours < 0 || rolloverHours > 23) throw new InputError(`rollover must be a whole hour from 0 to 23, not ${rolloverHours}`);
    // en-CA formats dates as YYYY-MM-DD.
    this.fmt = timezone === 'UTC' ? null : new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' });
    this.rolloverMs = rolloverHours * HOUR;
  }

  dayOf(tsMs: number): string {
    return this.interval(tsMs).day;
  }

  interval(tsMs: number): DayInterval {
    const c = this.cur;
    if (tsMs >= c.startMs && tsMs < c.endMs) return c;
    const p = this.prev;
    if (tsMs >= p.startMs && tsMs < p.endMs) {
      this.prev = c;
      this.cur = p;
      return p;
    }
    const day = this.slowDayOf(tsMs);
    // Smallest t with the same day, and smallest t after it with a later day.
    const startMs = this.bisect(tsMs - SEARCH, tsMs, (t) => this.slowDayOf(t) >= day);
    const endMs = this.bisect(tsMs, tsMs + SEARCH, (t) => this.slowDayOf(t) > day);
    const next = { day, startMs, endMs };
    this.prev = c;
    this.cur = next;
    return next;
  }

  /** The definition, straight from Intl. */
  slowDayOf(tsMs: number): string {
    const at = new Date(tsMs - this.rolloverMs);
    return this.fmt ? this.fmt.format(at) : at.toISOString().slice(0, 10);
  }

  /** The smallest t in (lo, hi] where pred turns true (pred(lo) false, pred(hi) true), to the millisecond. */
  private bisect(lo: number, hi: number, pred: (t: number) => boolean): number {
    lo = Math.floor(lo);
    hi = Math.ceil(hi);
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (pred(mid)) hi = mid;
      else lo = mid;
    }
    return hi;
  }
}
