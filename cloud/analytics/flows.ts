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

export function storeFlows(visits: readonly Visit[], profileOf: (epoch: string, cid: string) => string | undefined, k: number): StoreFlows {
  const sorted = [...visits].sort((a, b) => a.start - b.start);
  const sameDay = new Map<string, Set<string>>();
  const acrossDays = new Map<string, Set<string>>();
  const lastOfDevice = new Map<string, Visit>();
  const lastOfProfile = new Map<string, Visit>();
  const count = (m: Map<string, Set<string>>, from: string, to: string, who: string) => {
    const key = `${from}\u0000${to}`;
    (m.get(key) ?? m.set(key, new Set()).get(key)!).add(who);
  };
  for (const v of sorted) {
    const device = `${v.epoch}|${v.cid}`;
    const prev = lastOfDevice.get(device);
    if (prev && prev.store !== v.store) count(sameDay, prev.store, v.store, device);
    lastOfDevice.set(device, v);
    const p = profileOf(v.epoch, v.cid);
    if (!p) continue;
    const before = lastOfProfile.get(p);
    if (before && before.epoch !== v.epoch && before.store !== v.store) count(acrossDays, before.store, v.store, p);
    lastOfProfile.set(p, v);
  }
  const rows = <K extends string>(m: Map<string, Set<string>>, field: K) =>
    [...m]
      .map(([key, who]) => {
        const [from, to] = key.split('\u0000') as [string, string];
        return { from, to, n: who.size, [field]: suppress(who.size, k) } as Flow & { n: number } & Record<K, number | null>;
      })
      .sort((a, b) => b.n - a.n || a.from.localeCompare(b.from) || a.to.localeCompare(b.to))
      .map(({ n: _n, ...r }) => r);
  return { k, sameDay: rows(sameDay, 'devices'), acrossDays: rows(acrossDays, 'profiles') };
}
