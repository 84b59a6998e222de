/**
 * Movement between stores (pure), k-anonymous like every count of people:
 *   - same day: a device (its Consumer-ID of the day) whose next visit was in another store — A→B;
 *   - across days: a profile (stitched through link events) whose next visit, on a later day, was in
 *     another store. A daily Consumer-ID alone cannot be followed across days, by design.
 * Each distinct device or profile counts once per direction.
 */
import { suppress, type Visit } from './visits.js';

export interface Flow {
  from: string;
  to: string;
}

export interface StoreFlows {
  k: number;
  sameDay: (Flow & { devices: number | null })[];
  acrossDays: (Flow & { profiles: number | null })[];
}

/** Movement counted exactly: distinct devices (same day) and profiles (across days) per direction. */
export interface RawFlows {
  sameDay: (Flow & { n: number })[];
  acrossDays: (Flow & { n: number })[];
}

export function storeFlows(visits: readonly Visit[], profileOf: (epoch: string, cid: string) => string | undefined, k: number): StoreFlows {
  return shownFlows(rawFlows(visits, profileOf), k);
}

export function rawFlows(visits: readonly Visit[], profileOf: (epoch: string, cid: string) => string | undefined): RawFlows {
  // Ties broken by what the visit is, so every reader of the same visits gets the same flows.
  const sorted = [...visits].sort((a, b) => a.start - b.start || cmp(a.epoch, b.epoch) || cmp(a.cid, b.cid) || cmp(a.store, b.store));
  const sameDay = new Map<string, Set<string>>();
  const acrossDays = new Map<string, Set<string>>();
  // A device is its store-day's Consumer-ID: by day, then by cid (no key string per visit).
  const lastOfDevice = new Map<string, Map<string, Visit>>();
  const lastOfProfile = new Map<string, Visit>();
  const count = (m: Map<string, Set<string>>, from: string, to: string, who: string) => {
    const key = `${from}\u0000${to}`;
    (m.get(key) ?? m.set(key, new Set()).get(key)!).add(who);
  };
  for (const v of sorted) {
    const ofDay = lastOfDevice.get(v.epoch) ?? lastOfDevice.set(v.epoch, new Map()).get(v.epoch)!;
    const prev = ofDay.get(v.cid);
    if (prev && prev.store !== v.store) count(sameDay, prev.store, v.store, `${v.epoch}|${v.cid}`);
    ofDay.set(v.cid, v);
    const p = profileOf(v.epoch, v.cid);
    if (!p) continue;
    const before = lastOfProfile.get(p);
    if (before && before.epoch !== v.epoch && before.store !== v.store) count(acrossDays, before.store, v.store, p);
    lastOfProfile.set(p, v);
  }
  const rows = (m: Map<string, Set<string>>) =>
    [...m].map(([key, who]) => {
      const [from, to] = key.split('\u0000') as [string, string];
      return { from, to, n: who.size };
    });
  return { sameDay: rows(sameDay), acrossDays: rows(acrossDays) };
}

/**
 * The same-day flows of several days: a device is one store-day's Consumer-ID, so the days' devices are
 * disjoint and their counts add up (what the tenant-day rollups keep, summed over a period).
 */
export function addFlows(days: readonly (Flow & { n: number })[][]): (Flow & { n: number })[] {
  const sum = new Map<string, Flow & { n: number }>();
  for (const list of days) {
    for (const f of list) {
      const key = `${f.from}\u0000${f.to}`;
      const had = sum.get(key);
      if (had) had.n += f.n;
      else sum.set(key, { ...f });
    }
  }
  return [...sum.values()];
}

/** Flows as shown: busiest first, every count below k hidden. */
export function shownFlows(r: RawFlows, k: number): StoreFlows {
  const rows = <K extends string>(list: (Flow & { n: number })[], field: K) =>
    [...list]
      .sort((a, b) => b.n - a.n || a.from.localeCompare(b.from) || a.to.localeCompare(b.to))
      .map(({ from, to, n }) => ({ from, to, [field]: suppress(n, k) }) as Flow & Record<K, number | null>);
  return { k, sameDay: rows(r.sameDay, 'devices'), acrossDays: rows(r.acrossDays, 'profiles') };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
