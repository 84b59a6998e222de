/** Movement between stores, the identity graph's figures and agents' health: pure functions. */
import { describe, expect, it } from 'vitest';
import { storeFlows } from '../cloud/analytics/flows.js';
import { agentHealth, STALE_AFTER_MS } from '../cloud/analytics/agent-health.js';
import { periodProblem, daysBetween } from '../cloud/analytics/period.js';
import type { Visit } from '../cloud/analytics/visits.js';
import { buildIdentityGraph, type Edge } from '../cloud/identity/graph.js';
import { graphFigures } from '../cloud/identity/graph-figures.js';

const H = 3_600_000;
const T = Date.parse('2026-11-23T08:00:00Z');
const visit = (store: string, epoch: string, cid: string, start: number): Visit => ({ store, epoch, cid, start, end: start + 10 * 60_000, frames: 5, rssiMax: -60, visitor: true });

describe('store flows', () => {
  it('counts each device once per direction on the same day, in time order', () => {
    const visits: Visit[] = [];
    for (let i = 0; i < 6; i++) {
      const cid = `d${i}`;
      visits.push(visit('berlin-1', '2026-11-23', cid, T + i * 1000), visit('paris-1', '2026-11-23', cid, T + 2 * H));
      if (i < 2) visits.push(visit('berlin-1', '2026-11-23', cid, T + 4 * H)); // back again: 2 devices paris→berlin
    }
    visits.push(visit('rome-1', '2026-11-23', 'd0', T + 5 * H), visit('rome-1', '2026-11-23', 'd0', T + 6 * H)); // same store twice: no flow
    const f = storeFlows(visits.reverse(), () => undefined, 1);
    expect(f.sameDay).toEqual([
      { from: 'berlin-1', to: 'paris-1', devices: 6 },
      { from: 'paris-1', to: 'berlin-1', devices: 2 },
      { from: 'berlin-1', to: 'rome-1', devices: 1 },
    ]);
    expect(f.acrossDays).toEqual([]);
    // k-anonymous: a flow of fewer than k devices is not shown as a number.
    expect(storeFlows(visits, () => undefined, 5).sameDay.map((x) => x.devices)).toEqual([6, null, null]);
  });

  it('follows profiles, not daily ids, across days', () => {
    const profile = new Map([
      ['2026-11-23|a', 'p1'],
      ['2026-11-30|b', 'p1'],
      ['2026-11-30|c', 'p2'],
    ]);
    const visits = [visit('berlin-1', '2026-11-23', 'a', T), visit('paris-1', '2026-11-30', 'b', T + 7 * 24 * H), visit('paris-1', '2026-11-23', 'x', T + H), visit('rome-1', '2026-11-30', 'c', T + 7 * 24 * H)];
    const f = storeFlows(visits, (e, c) => profile.get(`${e}|${c}`), 1);
    expect(f.acrossDays).toEqual([{ from: 'berlin-1', to: 'paris-1', profiles: 1 }]);
    expect(f.sameDay).toEqual([]);
  });
});

describe('identity graph figures', () => {
  it('counts identifiers by kind, profiles by size, quarantine and refusals', () => {
    const e = (a: string, b: string, ts: number): Edge => ({ a, b, ts, batchId: 'ap-1:x:1', store: 's' });
    const edges = [
      e('hem:1', 'cid:2026-11-23:a', 1),
      e('hem:1', 'loy:1', 2),
      e('hem:2', 'cid:2026-11-23:b', 3),
      e('loy:2', 'hem:1', 4), // a second loyalty id: refused
      ...['hem:3', 'hem:4', 'hem:5', 'hem:6'].map((h, i) => e(h, 'cid:2026-11-23:tablet', 10 + i)), // a shared device
    ];
    const g = buildIdentityGraph(edges);
    const f = graphFigures(edges, g, 1);
    expect(f.identifiers).toEqual({ cid: 3, hem: 6, hph: 0, loy: 2, net: 0 });
    expect(f).toMatchObject({ edges: 8, profiles: 2, quarantinedDevices: 1 });
    expect(f.refused).toEqual({ blocked: 0, 'shared-device': 4, 'two-loyalty-ids': 1, 'component-too-large': 0 });
    expect(f.profileSizes).toEqual([
      { size: 2, profiles: 1 },
      { size: 3, profiles: 1 },
    ]);
    expect(graphFigures(edges, g, 5)).toMatchObject({ profiles: null, profileSizes: [{ size: 2, profiles: null }, { size: 3, profiles: null }] });
  });
});

describe('agent health', () => {
  const row = { tenant: 'acme', store: 'berlin-1', agent: 'ap-1', state: 'online', lastSeenMs: T, status: { timezone: 'Europe/Berlin', outbox: { rows: 12, oldestAgeSeconds: 30 } } };
  it('reads buffer depth and zone from the last status, and stops trusting a silent "online"', () => {
    expect(agentHealth(row, T + 1000)).toMatchObject({ online: true, stale: false, bufferRows: 12, oldestUnsentSeconds: 30, timezone: 'Europe/Berlin' });
    expect(agentHealth(row, T + STALE_AFTER_MS + 1)).toMatchObject({ online: false, stale: true });
    expect(agentHealth({ ...row, state: 'offline' }, T)).toMatchObject({ online: false });
    expect(agentHealth({ ...row, status: { outbox: { rows: 'many' } } }, T)).toMatchObject({ bufferRows: null, oldestUnsentSeconds: null, timezone: null });
  });
});

describe('periods', () => {
  it('spans whole store-days, at most a year', () => {
    expect(daysBetween('2026-02-27', '2026-03-01')).toEqual(['2026-02-27', '2026-02-28', '2026-03-01']);
    expect(periodProblem('2026-01-01', '2026-12-31')).toBeNull();
    expect(periodProblem('2026-01-01', '2027-01-02')).toMatch(/at most 366 days/);
    expect(periodProblem('2026-02-02', '2026-02-01')).toMatch(/ends before/);
    expect(periodProblem('2026-13-01', '2026-12-01')).toMatch(/YYYY-MM-DD/);
    expect(periodProblem('2026-02-01', '2026-02-30')).toBe('2026-02-30 is not a date');
  });
});
