/**
 * The period reports (issue 15) — store → store flows, returning customers, segments — without reading
 * the period's sightings. Same-day flows are the tenant-day rollups' (a device is one store-day's
 * Consumer-ID, so days add up); everything that follows a person across days needs only the devices in
 * a profile: the graph's index of profiled devices by day names them, and the day's rollup keeps the
 * visits of the devices a link named (one read per day). Under rules the database does not keep (a
 * test, a what-if) the in-memory graph and those devices' sightings serve instead. Equal to the
 * computation from every sighting.
 */
import type { CloudStore } from '../store/cloud-store.js';
import { tenantGraph } from '../identity/tenant-graph.js';
import { graphRulesKey } from '../identity/stored-graph.js';
import type { GraphRules } from '../identity/graph.js';
import { addFlows, rawFlows, shownFlows, type StoreFlows } from '../analytics/flows.js';
import { daysBetween, profiledSightings } from '../analytics/period.js';
import { buildVisits, type Visit } from '../analytics/visits.js';
import { EXACT, tenantDaysOf, type ReportOptions } from './rollups.js';
import { visitsOfDevice } from './tenant-day.js';

/** A device's profile by its store-day and Consumer-ID (undefined: in none). */
export type ProfileOfDevice = (epoch: string, cid: string) => string | undefined;

/** The visits of the devices in a profile on these days (in no order), and each such device's profile. */
export async function profiledVisits(store: CloudStore, tenant: string, days: readonly string[], rules: GraphRules, opts: ReportOptions = EXACT): Promise<{ visits: Visit[]; profileOf: ProfileOfDevice }> {
  if (await storedRules(store, rules)) await tenantDaysOf(store, tenant, days, opts); // the days' kept visits as current as their figures
  return visitsOfProfiled(store, tenant, days, rules);
}

export async function periodFlows(store: CloudStore, tenant: string, from: string, to: string, k: number, rules: GraphRules, opts: ReportOptions = EXACT): Promise<StoreFlows> {
  const days = daysBetween(from, to);
  const rollups = await tenantDaysOf(store, tenant, days, opts); // current: what visitsOfProfiled reads too
  const { visits, profileOf } = await visitsOfProfiled(store, tenant, days, rules);
  const across = rawFlows(visits, profileOf).acrossDays;
  return shownFlows({ sameDay: addFlows(rollups.map((d) => d.sameDayFlows)), acrossDays: across }, k);
}

const storedRules = async (store: CloudStore, rules: GraphRules) => (await store.graph.rulesKey()) === graphRulesKey(rules);

/** profiledVisits once the days' rollups are current. */
async function visitsOfProfiled(store: CloudStore, tenant: string, days: readonly string[], rules: GraphRules): Promise<{ visits: Visit[]; profileOf: ProfileOfDevice }> {
  if (await storedRules(store, rules)) {
    const visits: Visit[] = [];
    // By day, then by cid: no key string per look-up (tens of thousands of them in a month).
    const byDay = new Map<string, Map<string, string>>();
    for (const r of await store.rollups.profiledDevices(tenant, days)) {
      (byDay.get(r.epoch) ?? byDay.set(r.epoch, new Map()).get(r.epoch)!).set(r.device.cid, r.profile);
      for (const v of visitsOfDevice(r.epoch, r.device)) visits.push(v);
    }
    return { visits, profileOf: (epoch, cid) => byDay.get(epoch)?.get(cid) };
  }
  const { rows, profileOf: of } = await profiledSightings(store, tenant, (await tenantGraph(store, tenant, rules)).profileOf, days);
  return { visits: buildVisits(rows), profileOf: (epoch, cid) => of.get(`cid:${epoch}:${cid}`) };
}
