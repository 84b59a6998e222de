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
import type { DayMark, StoredRollup } from './rollup-store.js';
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
  return (await tenantDaysOf(store, tenant, [epoch], opts))[0]!;
}

/** Several days of a tenant (a period's): their rollups in one read, the days due computed, in order. */
export async function tenantDaysOf(store: CloudStore, tenant: string, epochs: readonly string[], opts: ReportOptions = EXACT): Promise<RawTenantDay[]> {
  const [kept, zoneOf] = await Promise.all([store.rollups.getMany(tenant, epochs), zonesOf(store, tenant)]);
  const now = Date.now();
  const usable = (r: StoredRollup | undefined): r is StoredRollup =>
    // A store whose agents now report another zone: its hours move, so the day is computed again.
    !!r && r.version === ROLLUP_VERSION && r.day.stores.every((s) => s.timezone === zoneOf(s.store)) && (!r.dirty || now - r.computedMs < opts.maxStaleMs);
  const due = epochs.filter((e) => !usable(kept.get(e)));
  const computed = new Map<string, RawTenantDay>();
  if (due.length) {
    // A day without any batch has nothing to compute and keeps no row (anyone may ask for any day).
    const withData = await store.rollups.daysWithData(tenant, due);
    for (const e of due) {
      if (withData.has(e) || kept.has(e)) continue;
      const { devices: _none, ...empty } = computeTenantDay(e, [], [], zoneOf);
      computed.set(e, empty);
    }
    const todo = due.filter((e) => !computed.has(e));
    if (todo.length) for (const [i, day] of (await compute(store, tenant, todo, zoneOf)).entries()) computed.set(todo[i]!, day);
  }
  return epochs.map((e) => computed.get(e) ?? kept.get(e)!.day);
}

/** Claims the days, computes them from what is stored, saves them; returns them in order. */
async function compute(store: CloudStore, tenant: string, epochs: readonly string[], zoneOf: (s: string) => string): Promise<RawTenantDay[]> {
  const marks: DayMark[] = epochs.map((epoch) => ({ tenant, epoch }));
  const gen = await store.rollups.claim(marks);
  try {
    const out: RawTenantDay[] = [];
    for (const epoch of epochs) {
      const [rows, estimates] = await Promise.all([store.sightingsOfDay(tenant, epoch), store.estimatesOfDay(tenant, epoch)]);
      const { devices, ...day } = computeTenantDay(epoch, rows, estimates, zoneOf);
      await store.rollups.save(tenant, gen, Date.now(), day, devices);
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
