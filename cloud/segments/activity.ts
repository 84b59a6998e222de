/**
 * What a subject did within a window of store-days (pure). A subject is a profile — every Consumer-ID
 * its devices had, across days — or, for a device in no profile, its Consumer-ID of one day alone.
 * Only *visits* count (a visitor's visit, see analytics/visits.ts): passing by a store is not being a
 * customer of it.
 */
import type { Visit } from '../analytics/visits.js';
import { periodProblem } from '../analytics/period.js';

/** The longest window a rule may look back over: a year of store-days, like a period query. */
export const MAX_WITHIN_DAYS = 366;

export interface Activity {
  /** Visitor visits in the window. */
  visits: number;
  /** Distinct stores of those visits. */
  stores: number;
  /** The longest of those visits, in minutes (0 without any). */
  longestDwellMinutes: number;
  /** A visit on the day itself. */
  onDay: boolean;
  /** A visit on an earlier day of the window. */
  before: boolean;
}

/** The first store-day of the window of `withinDays` days that ends with `day` (inclusive). */
export function windowStart(day: string, withinDays: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) - (withinDays - 1) * 86_400_000).toISOString().slice(0, 10);
}

/** Why `day` is not a store-day (YYYY-MM-DD, a date that exists), or null. */
export function dayProblem(day: string): string | null {
  return periodProblem(day, day);
}

/** The activity, within `withinDays` store-days up to and including `day`, of one subject's visits. */
export function activityOf(visits: readonly Visit[], day: string, withinDays: number): Activity {
  const from = windowStart(day, withinDays);
  const stores = new Set<string>();
  let n = 0;
  let longest = 0;
  let onDay = false;
  let before = false;
  for (const v of visits) {
    // Store-days compare as strings (YYYY-MM-DD); a visit after `day` is outside the window too.
    if (!v.visitor || v.epoch < from || v.epoch > day) continue;
    n++;
    stores.add(v.store);
    longest = Math.max(longest, (v.end - v.start) / 60_000);
    if (v.epoch === day) onDay = true;
    else before = true;
  }
  return { visits: n, stores: stores.size, longestDwellMinutes: longest, onDay, before };
}

/** Visits grouped by subject; `subjectOf` names the subject of a device's Consumer-ID of a day. */
export function visitsBySubject(visits: readonly Visit[], subjectOf: (epoch: string, cid: string) => string): Map<string, Visit[]> {
  const out = new Map<string, Visit[]>();
  for (const v of visits) {
    const s = subjectOf(v.epoch, v.cid);
    let list = out.get(s);
    if (!list) out.set(s, (list = []));
    list.push(v);
  }
  return out;
}
