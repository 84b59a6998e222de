/**
 * Reports from rollups (issue 15): a tenant-day's figures are computed once from its sightings and
 * estimates and kept; a report reads the kept figures unless the day changed since. Ingest marks the
 * days it changes, so a report of yesterday, of last week or of a closed store costs one row. A day
 * still changing (today) is computed again when read, unless its rollup is younger than `maxStaleMs`
 * (a chain's dashboards: config `api.reportsMaxStaleSeconds`), and the background refresh (refreshMarked)
 * keeps it young. What a read returns equals the figures of its data as of that computation.
 */
import type { CloudStats, CloudStore } from '../store/cloud-store.js';
import { storeTimezones } from '../analytics/visits.js';
import type { DayMark } from './rollup-store.js';
import { ROLLUP_VERSION, computeTenantDay, type RawTenantDay } from './tenant-day.js';

export interface ReportOptions {
  /** A changed day's rollup younger than this is served as it is (0: never, every figure exact). */
  maxStaleMs: number;
}

export const EXACT: ReportOptions = { maxStaleMs: 0 };

/** The time zone of each store of a tenant, from its agents' status. */
async function zonesOf(store: CloudStore, tenant: string): Promise<(store: string) => string> {
  return storeTimezones((await store.agents()).filter((a) => a.tenant === tenant));
}

/** A tenant-day's figures before k-anonymity, from its rollup when that is current enough. */
export async function tenantDay(store: CloudStore, tenant: string, epoch: string, opts: ReportOptions = EXACT): Promise<RawTenantDay> {
  const [r, zoneOf] = await Promise.all([store.rollups.get(tenant, epoch), zonesOf(store, tenant)]);
  // A store whose agents now report another zone: its hours move, so the day is computed again.
  const current = r && r.version === ROLLUP_VERSION && r.day.stores.every((s) => s.timezone === zoneOf(s.store));
  if (current && (!r.dirty || Date.now() - r.computedMs < opts.maxStaleMs)) return r.day;
  return (await compute(store, tenant, [epoch], zoneOf))[0]!;
}

/** Claims the days, computes them from what is stored, saves what has data; returns them in order. */
async function compute(store: CloudStore, tenant: string, epochs: readonly string[], zoneOf: (s: string) => string): Promise<RawTenantDay[]> {
  const marks: DayMark[] = epochs.map((epoch) => ({ tenant, epoch }));
  const gen = await store.rollups.claim(marks);
  try {
    const out: RawTenantDay[] = [];
    for (const epoch of epochs) {
      const [rows, estimates] = await Promise.all([store.sightingsOfDay(tenant, epoch), store.estimatesOfDay(tenant, epoch)]);
      const day = computeTenantDay(epoch, rows, estimates, zoneOf);
      // A day without data keeps no row: a day anyone may ask for leaves nothing behind.
      if (day.stores.length || (await store.rollups.get(tenant, epoch))) await store.rollups.save(tenant, gen, Date.now(), day);
      out.push(day);
    }
    return out;
  } catch (err) {
    await store.rollups.mark(marks).catch(() => {});
    throw err;
  }
}

/**
 * The background step: computes up to `limit` marked days whose rollup is missing or older than
 * `maxStaleMs`, oldest first. Returns how many it computed.
 */
export async function refreshMarked(store: CloudStore, opts: ReportOptions = EXACT, limit = 50): Promise<number> {
  const now = Date.now();
  const due = (await store.rollups.dirty(limit)).filter((d) => d.computedMs === null || now - d.computedMs >= opts.maxStaleMs);
  const byTenant = new Map<string, string[]>();
  for (const d of due) (byTenant.get(d.tenant) ?? byTenant.set(d.tenant, []).get(d.tenant)!).push(d.epoch);
  for (const [tenant, epochs] of byTenant) await compute(store, tenant, epochs, await zonesOf(store, tenant));
  return due.length;
}

/** /v1/stats: the counters, with the rollups the Consumer-ID count sums brought up to date first. */
export async function reportStats(store: CloudStore, opts: ReportOptions = EXACT): Promise<CloudStats> {
  while ((await refreshMarked(store, opts, 200)) === 200);
  return store.stats();
}
