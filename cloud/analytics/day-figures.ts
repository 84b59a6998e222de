/** A tenant's store-day figures from the store: every store's visits, in each store's own hours. */
import type { CloudStore } from '../store/cloud-store.js';
import { buildVisits, storeDayFigures, storeTimezones, type StoreDayFigures } from './visits.js';

/**
 * Cross-store figures need every store of the day, so all are computed even when one `store` is asked
 * for; the zones come from the agents' status.
 */
export async function dayFigures(store: CloudStore, tenant: string, day: string, k: number, only?: string): Promise<StoreDayFigures[]> {
  const zones = storeTimezones((await store.agents()).filter((a) => a.tenant === tenant));
  return storeDayFigures(buildVisits(await store.sightingsOfDay(tenant, day)), k, zones).filter((f) => !only || f.store === only);
}
