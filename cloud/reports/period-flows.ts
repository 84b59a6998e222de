/**
 * The period reports (issue 15) — store → store flows, returning customers, segments — without reading
 * the period's sightings. Same-day flows are the tenant-day rollups' (a device is one store-day's
 * Consumer-ID, so days add up); everything that follows a person across days needs only the devices in
 * a profile: the graph's index of profiled devices by day names them, and the day's rollup keeps the
 * visits of the devices a link named (one read per day). Under rules the database does not keep (a test, a what-if) the
 * in-memory graph and those devices' sightings serve instead. Equal to the computation from every sighting.
 */
import type { CloudStore } from '../store/cloud-store.js';
import { profileLookup } from '../identity/graph-reads.js';
import { graphRulesKey } from '../identity/stored-graph.js';
import type { GraphRules } from '../identity/graph.js';
import { addFlows, rawFlows, shownFlows, type StoreFlows } from '../analytics/flows.js';
import { daysBetween, profiledSightings } from '../analytics/period.js';
import { buildVisits, type Visit } from '../analytics/visits.js';
import { EXACT, tenantDaysOf, type ReportOptions } from './rollups.js';
import { visitsOfDevice } from './tenant-day.js';

/** The visits of the devices in a profile on these days, and each such device's profile (`cid:<epoch>:<cid>`). */
export async function profiledVisits(store: CloudStore, tenant: string, days: readonly string[], rules: GraphRules, opts: ReportOptions = EXACT): Promise<{ visits: Visit[]; profileOf: Map<string, string> }> {
  const profileOf = new Map<string, string>();
  if ((await store.graph.rulesKey()) === graphRulesKey(rules)) {
    await tenantDaysOf(store, tenant, days, opts); // the days' device rows as current as their figures
    const visits: Visit[] = [];
    for (const r of await store.rollups.profiledDevices(tenant, days)) {
      profileOf.set(`cid:${r.epoch}:${r.device.cid}`, r.profile);
      for (const v of visitsOfDevice(r.epoch, r.device)) visits.push(v);
    }
    return { visits: visits.sort((a, b) => a.start - b.start), profileOf };
  }
  const { rows, profileOf: of } = await profiledSightings(store, tenant, await profileLookup(store, tenant, rules), days);
  return { visits: buildVisits(rows), profileOf: of };
}

export async function periodFlows(store: CloudStore, tenant: string, from: string, to: string, k: number, rules: GraphRules, opts: ReportOptions = EXACT): Promise<StoreFlows> {
  const days = daysBetween(from, to);
  const rollups = await tenantDaysOf(store, tenant, days, opts);
  const { visits, profileOf } = await profiledVisits(store, tenant, days, rules, opts);
  const across = rawFlows(visits, (epoch, cid) => profileOf.get(`cid:${epoch}:${cid}`)).acrossDays;
  return shownFlows({ sameDay: addFlows(rollups.map((d) => d.sameDayFlows)), acrossDays: across }, k);
}
