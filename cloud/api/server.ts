/**
 * HQ's HTTP JSON API, behind a bearer token: tenants, agents, footfall, visits, flows, returning
 * profiles, the identity graph, profiles, dead letters. Every figure that counts people goes through
 * the same k-anonymous analytics as the CLI.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { BearerToken, HttpError, closeServer, listenJson, sendJson as send } from '../../shared/http/json-api.js';
import type { CloudStore } from '../store/cloud-store.js';
import { buildVisits, suppress } from '../analytics/visits.js';
import { dayFigures } from '../analytics/day-figures.js';
import { EXACT, refreshMarked, reportStats, type ReportOptions } from '../reports/rollups.js';
import type { Logger } from 'pino';
import { findProfile } from '../identity/profiles.js';
import { DEFAULT_GRAPH_RULES, type GraphRules } from '../identity/graph.js';
import { tenantGraphFigures } from '../identity/graph-reads.js';
import { agentHealth } from '../analytics/agent-health.js';
import { periodFlows } from '../reports/period-flows.js';
import { daysBetween, periodProblem } from '../analytics/period.js';
import { PeriodCache } from '../reports/period-cache.js';
import { graphRulesKey } from '../identity/stored-graph.js';
import { longestWindow } from '../segments/rules.js';
import { returningProfiles } from '../analytics/returning.js';
import { serveDashboard } from '../dashboard/serve.js';
import { DEFAULT_SEGMENTS, type SegmentRule } from '../segments/rules.js';
import { latestDay, segmentCounts, segmentMembers } from '../segments/evaluate.js';
import { dayProblem, windowStart } from '../segments/activity.js';

export interface ApiOptions {
  token: string;
  /** k-anonymity threshold for counts of people. */
  k: number;
  rules?: GraphRules;
  /** Segment rules of the config (default: DEFAULT_SEGMENTS). */
  segments?: SegmentRule[];
  /** How stale a changing day's rollup may be served (default: never, every figure exact). */
  reports?: ReportOptions;
  /** The background refresh of changed days' rollups, every this many ms (0 or absent: none). */
  reportsRefreshMs?: number;
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const ROUTES = '/v1/stats, /v1/tenants, /v1/agents, /v1/footfall, /v1/visits, /v1/flows, /v1/returning, /v1/graph, /v1/segments, /v1/profiles/{id}, /v1/dead-letters';
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export class ApiServer {
  private server: Server | null = null;
  private readonly token: BearerToken;
  private refresher: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  /** The period reports' answers while their inputs stay the same (reports/period-cache.ts). */
  private readonly periods = new PeriodCache();

  constructor(
    private readonly store: CloudStore,
    private readonly opts: ApiOptions,
    private readonly log?: Logger,
  ) {
    this.token = new BearerToken(opts.token, 'API');
  }

  async start(port: number, host = '127.0.0.1'): Promise<number> {
    const { server, port: actual } = await listenJson((req, res) => this.handle(req, res), port, host);
    this.server = server;
    const every = this.opts.reportsRefreshMs ?? 0;
    if (every > 0) {
      // Keeps changed days' rollups young, so the dashboard's polls read them instead of computing.
      this.refresher = setInterval(() => {
        this.refreshing ??= refreshMarked(this.store, this.reports)
          .then(() => undefined, (err: Error) => this.log?.warn({ err: err.message }, 'reports: background refresh failed'))
          .finally(() => (this.refreshing = null));
      }, every);
      this.refresher.unref();
    }
    return actual;
  }

  async stop(): Promise<void> {
    if (this.refresher) clearInterval(this.refresher);
    this.refresher = null;
    await this.refreshing;
    const s = this.server;
    this.server = null;
    await closeServer(s);
  }

  private get reports(): ReportOptions {
    return this.opts.reports ?? EXACT;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The dashboard's static page holds no data: served without a token; its data requests carry one.
    if (await serveDashboard(req, res)) return;
    this.token.check(req.headers.authorization, res);
    if (req.method !== 'GET') throw new HttpError(405, 'only GET');
    const url = new URL(req.url ?? '/', 'http://api');
    const q = (name: string, re: RegExp, required = true): string | undefined => {
      const v = url.searchParams.get(name) ?? undefined;
      if (v === undefined && required) throw new HttpError(400, `query parameter ${name} is required`);
      if (v !== undefined && !re.test(v)) throw new HttpError(400, `query parameter ${name} is malformed`);
      return v;
    };
    const path = url.pathname;
    const tenant = () => q('tenant', NAME)!;
    /** A store-day parameter: YYYY-MM-DD and a date that exists (2026-13-45 and 2026-02-30 are refused). */
    const day = (required = true): string | undefined => {
      const d = q('day', DAY, required);
      const problem = d === undefined ? null : dayProblem(d);
      if (problem) throw new HttpError(400, `query parameter day: ${problem}`);
      return d;
    };
    const period = () => {
      const from = q('from', DAY)!;
      const to = q('to', DAY)!;
      const problem = periodProblem(from, to);
      if (problem) throw new HttpError(400, problem);
      return { from, to };
    };
    const k = this.opts.k;
    switch (path) {
      case '/v1/stats':
        return send(res, 200, await reportStats(this.store, this.reports));
      case '/v1/tenants': {
        const tenants = new Map<string, { tenant: string; stores: Set<string>; days: Set<string> }>();
        for (const r of await this.store.tenantDays()) {
          const t = tenants.get(r.tenant) ?? tenants.set(r.tenant, { tenant: r.tenant, stores: new Set(), days: new Set() }).get(r.tenant)!;
          t.stores.add(r.store);
          t.days.add(r.epoch);
        }
        return send(res, 200, { tenants: [...tenants.values()].map((t) => ({ tenant: t.tenant, stores: [...t.stores].sort(), days: [...t.days].sort().reverse() })) });
      }
      case '/v1/agents': {
        const now = Date.now();
        return send(res, 200, { agents: (await this.store.agents()).map((a) => agentHealth(a, now)) });
      }
      case '/v1/dead-letters': {
        const limit = Math.min(500, Math.max(1, Number(url.searchParams.get('limit') ?? 50) || 50));
        return send(res, 200, { deadLetters: await this.store.deadLetters(limit) });
      }
      case '/v1/footfall': {
        const t = tenant();
        const d = day()!;
        const store = q('store', NAME, false);
        return send(res, 200, { tenant: t, day: d, k, stores: await dayFigures(this.store, t, d, k, store, this.reports) });
      }
      case '/v1/visits': {
        // Single visits, without any identifier: when and how long, in which store, visitor or passer-by.
        const t = tenant();
        const d = day()!;
        const store = q('store', NAME, false);
        const limit = Math.min(10_000, Math.max(1, Number(url.searchParams.get('limit') ?? 1000) || 1000));
        const all = buildVisits(await this.store.sightingsOfDay(t, d, store));
        // Fewer than k visits are not shown at all: the list would count them (issue 14, finding 7).
        const visits = all.length < k ? [] : all;
        return send(res, 200, {
          tenant: t,
          day: d,
          k,
          total: suppress(all.length, k),
          truncated: visits.length > limit,
          visits: visits.slice(0, limit).map((v) => ({ store: v.store, start: v.start, end: v.end, dwellMinutes: Math.round((v.end - v.start) / 6_000) / 10, visitor: v.visitor, rssiMax: v.rssiMax })),
        });
      }
      case '/v1/flows': {
        const t = tenant();
        const { from, to } = period();
        const rules = this.opts.rules ?? DEFAULT_GRAPH_RULES;
        const flows = await this.periods.get(this.store, t, daysBetween(from, to), `flows|${from}|${to}|${k}|${graphRulesKey(rules)}`, this.reports, () => periodFlows(this.store, t, from, to, k, rules, this.reports));
        return send(res, 200, { tenant: t, from, to, ...flows });
      }
      case '/v1/returning': {
        const t = tenant();
        const { from, to } = period();
        const rules = this.opts.rules ?? DEFAULT_GRAPH_RULES;
        const figures = await this.periods.get(this.store, t, daysBetween(from, to), `returning|${from}|${to}|${k}|${graphRulesKey(rules)}`, this.reports, () => returningProfiles(this.store, t, from, to, k, rules, this.reports));
        return send(res, 200, { tenant: t, k, ...figures });
      }
      case '/v1/segments': {
        // Profiles per segment on a day (default: the tenant's latest with data), k-anonymous.
        const t = tenant();
        const day = q('day', DAY, false) ?? (await latestDay(this.store, t));
        const problem = dayProblem(day);
        if (problem) throw new HttpError(400, problem);
        const segments = this.opts.segments ?? DEFAULT_SEGMENTS;
        const rules = this.opts.rules ?? DEFAULT_GRAPH_RULES;
        const window = daysBetween(windowStart(day, longestWindow(segments)), day);
        const members = await this.periods.get(this.store, t, window, `segments|${day}|${graphRulesKey(rules)}|${JSON.stringify(segments)}`, this.reports, () => segmentMembers(this.store, t, day, segments, rules, this.reports));
        return send(res, 200, { tenant: t, day, k, segments: segmentCounts(members, k) });
      }
      case '/v1/graph': {
        const t = tenant();
        return send(res, 200, { tenant: t, k, ...(await tenantGraphFigures(this.store, t, this.opts.rules ?? DEFAULT_GRAPH_RULES, k)) });
      }
    }
    const m = /^\/v1\/profiles\/(p_[0-9a-f]{16})$/.exec(path);
    if (m) {
      const profile = await findProfile(this.store, tenant(), m[1]!, this.opts.rules);
      if (!profile) throw new HttpError(404, 'no such profile');
      return send(res, 200, profile);
    }
    throw new HttpError(404, `not found: ${ROUTES}`);
  }
}
