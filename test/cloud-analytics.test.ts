/** Visits, visitors vs passers-by, footfall, dwell and cross-store figures, with k-anonymity. */
import { describe, expect, it } from 'vitest';
import { buildVisits, storeDayFigures, storeTimezones, suppress, type SightingRow } from '../cloud/analytics/visits.js';

const T = Date.parse('2026-11-23T10:00:00Z');
const MIN = 60_000;
const row = (store: string, cid: string, fromMin: number, toMin: number, rssiMax: number | null = -80): SightingRow => ({
  store,
  epoch: '2026-11-23',
  cid,
  first: T + fromMin * MIN,
  last: T + toMin * MIN,
  frames: 3,
  rssiMax,
});

describe('visits', () => {
  it('joins sightings into visits and splits them at a long silence', () => {
    const v = buildVisits([row('a', 'x', 0, 1), row('a', 'x', 5, 6), row('a', 'x', 30, 31), row('a', 'y', 2, 2)]);
    expect(v.map((x) => [x.cid, (x.start - T) / MIN, (x.end - T) / MIN, x.frames, x.visitor])).toEqual([
      ['x', 0, 6, 6, true], // 6 minutes: a visitor
      ['y', 2, 2, 3, false], // a moment, far away: a passer-by
      ['x', 30, 31, 3, false],
    ]);
  });

  it('counts a short but close visit as a visitor', () => {
    expect(buildVisits([row('a', 'z', 0, 0, -50)])[0]!.visitor).toBe(true);
  });
});

describe('store-day figures', () => {
  const people = (store: string, n: number, fromMin: number, durMin: number, prefix = 'p') => Array.from({ length: n }, (_, i) => row(store, `${prefix}${i}`, fromMin, fromMin + durMin));

  it('counts visitors, passers-by, footfall per hour, dwell, cross-store', () => {
    const rows = [...people('a', 6, 0, 20), ...people('a', 7, 0, 0, 'q'), ...people('b', 5, 120, 4), ...people('b', 2, 0, 40, 'r')];
    const [a, b] = storeDayFigures(buildVisits(rows), 5);
    expect(a).toMatchObject({ store: 'a', uniqueVisitors: 6, passersBy: 7, visits: 6, medianDwellMinutes: 20, crossStore: 5 }); // p0..p4 were in b too
    expect(a!.footfallByHour[10]).toBe(6);
    expect(a!.footfallByHour[11]).toBe(0);
    expect(a!.dwellHistogram).toEqual([0, 0, 0, 6, 0, 0]);
    // Store b: 5 of store a's visitors (p0..p4) and 2 others: 7 visitors, of whom 5 were also in a.
    expect(b).toMatchObject({ store: 'b', uniqueVisitors: 7, crossStore: 5 });
    expect(b!.footfallByHour[12]).toBe(5);
    expect(b!.footfallByHour[10]).toBeNull(); // 2 people: below k
  });

  it("counts footfall in the store's local hours when its zone is known", () => {
    const rows = people('a', 5, 0, 10); // 10:00-10:10 UTC = 11:00 in Berlin
    const [f] = storeDayFigures(buildVisits(rows), 5, storeTimezones([{ store: 'a', status: { timezone: 'Europe/Berlin' } }, { store: 'b', status: { timezone: 'Mars/Base' } }]));
    expect(f!.timezone).toBe('Europe/Berlin');
    expect([f!.footfallByHour[10], f!.footfallByHour[11]]).toEqual([0, 5]);
    expect(storeTimezones([{ store: 'b', status: { timezone: 'Mars/Base' } }])('b')).toBe('UTC');
  });

  it('suppresses every count of people below k', () => {
    const [f] = storeDayFigures(buildVisits(people('a', 3, 0, 10)), 5);
    expect(f).toMatchObject({ uniqueVisitors: null, visits: null, medianDwellMinutes: null });
    expect(f!.dwellHistogram.filter((x) => x !== 0)).toEqual([null]);
    expect([suppress(4, 5), suppress(5, 5), suppress(1, 5), suppress(0, 5)]).toEqual([null, 5, null, 0]);
  });

  it('hides a second dwell bucket where one hidden bucket could be read off the visits beside it (issue 14, finding 7)', () => {
    // 12 visits of 5-15 min, 2 of 30-60 min: visits 14 is shown, so "14 - 12" would reveal the 2.
    const rows = [...people('a', 12, 0, 10), ...people('a', 2, 0, 45, 'long')];
    const [f] = storeDayFigures(buildVisits(rows), 5);
    expect(f!.visits).toBe(14);
    expect(f!.dwellHistogram.filter((x) => x === null).length).toBe(2);
    expect(f!.dwellHistogram.reduce<number>((a, b) => a + (b ?? 0), 0)).toBe(0);
  });
});
