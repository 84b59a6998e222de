/** A tenant's store-day figures: every store's visits and people, in each store's own hours, k-anonymous. */
import type { CloudStore } from '../store/cloud-store.js';
import { EXACT, tenantDay, type ReportOptions } from '../reports/rollups.js';
import { shownDay, type DayFigures } from '../reports/tenant-day.js';

export { emptyDayFigures, type DayFigures } from '../reports/tenant-day.js';

/**
 * Cross-store figures need every store of the day, so the tenant-day is one rollup even when one `store`
 * is asked for; the zones come from the agents' status. A store whose agents heard only randomizing
 * phones has no visits of known phones, and still its people.
 */
export async function dayFigures(store: CloudStore, tenant: string, day: string, k: number, only?: string, opts: ReportOptions = EXACT): Promise<DayFigures[]> {
  const raw = await tenantDay(store, tenant, day, opts);
  return raw.stores.filter((s) => !only || s.store === only).map((s) => shownDay(s, k));
}
