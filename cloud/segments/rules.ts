/**
 * Segment rules (pure): a name and a conjunction of conditions over a subject's activity within the
 * last `withinDays` store-days up to a day. A subject with no visit in the window is in no segment.
 *   - minVisits: visitor visits (pass-bys do not count);
 *   - minStores: distinct stores visited;
 *   - minDwellMinutes: the longest visit lasted at least this long;
 *   - customer: `new` — visited on the day and on no earlier day of the window; `returning` — visited on
 *     the day and on an earlier day of the window too. A device in no profile is a Consumer-ID of one day
 *     and cannot be followed to another (by design), so on its own it is always `new`: only profiles
 *     (stitched through link events) can be `returning`.
 */
import { z } from 'zod';
import type { Visit } from '../analytics/visits.js';
import { activityOf, MAX_WITHIN_DAYS, type Activity } from './activity.js';

export const SEGMENT_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const CONDITIONS = ['minVisits', 'minStores', 'minDwellMinutes', 'customer'] as const;

export const segmentRuleSchema = z
  .object({
    name: z.string().regex(SEGMENT_NAME, 'a segment name is 1-64 characters of a-z, 0-9, _ and -'),
    withinDays: z.number().int().min(1).max(MAX_WITHIN_DAYS).default(30),
    minVisits: z.number().int().min(1).optional(),
    minStores: z.number().int().min(1).optional(),
    minDwellMinutes: z.number().min(0).max(24 * 60).optional(),
    customer: z.enum(['new', 'returning']).optional(),
  })
  .strict()
  .refine((r) => CONDITIONS.some((c) => r[c] !== undefined), { message: `a segment needs at least one condition: ${CONDITIONS.join(', ')}` });

export type SegmentRule = z.infer<typeof segmentRuleSchema>;

/** Used when cloud.yaml has no `segments:`. */
export const DEFAULT_SEGMENTS: SegmentRule[] = [
  { name: 'regulars', withinDays: 30, minVisits: 3 },
  { name: 'multi-store', withinDays: 30, minStores: 2 },
  { name: 'lingerers', withinDays: 1, minDwellMinutes: 20 },
  { name: 'new', withinDays: 30, customer: 'new' },
  { name: 'returning', withinDays: 30, customer: 'returning' },
];

export const segmentsSchema = z
  .array(segmentRuleSchema)
  .max(100)
  .refine((rules) => new Set(rules.map((r) => r.name)).size === rules.length, { message: 'segment names must be unique' })
  .default(DEFAULT_SEGMENTS);

export function matches(rule: SegmentRule, a: Activity): boolean {
  if (a.visits === 0) return false;
  if (rule.minVisits !== undefined && a.visits < rule.minVisits) return false;
  if (rule.minStores !== undefined && a.stores < rule.minStores) return false;
  if (rule.minDwellMinutes !== undefined && a.longestDwellMinutes < rule.minDwellMinutes) return false;
  if (rule.customer === 'new' && !(a.onDay && !a.before)) return false;
  if (rule.customer === 'returning' && !(a.onDay && a.before)) return false;
  return true;
}

/** The names of the segments one subject's visits put it in on `day`, in rule order. */
export function segmentsOf(visits: readonly Visit[], day: string, rules: readonly SegmentRule[]): string[] {
  const byWindow = new Map<number, Activity>(); // rules often share a window: one activity each
  const out: string[] = [];
  for (const r of rules) {
    let a = byWindow.get(r.withinDays);
    if (!a) byWindow.set(r.withinDays, (a = activityOf(visits, day, r.withinDays)));
    if (matches(r, a)) out.push(r.name);
  }
  return out;
}

/** The longest window among the rules (0 without rules): how far back evaluation must read. */
export function longestWindow(rules: readonly SegmentRule[]): number {
  return rules.reduce((m, r) => Math.max(m, r.withinDays), 0);
}
