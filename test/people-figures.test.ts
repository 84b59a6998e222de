/** People on today's phones: known phones exactly, plus the agents' estimates for randomizing ones; k-anonymous. */
import { describe, expect, it } from 'vitest';
import { peopleFigures } from '../cloud/analytics/people.js';
import { suppressSeries } from '../cloud/analytics/visits.js';
import type { EstimateRow } from '../cloud/store/cloud-store.js';
import type { SightingRow } from '../cloud/analytics/visits.js';

const DAY = '2026-11-23';
const T = Date.parse('2026-11-23T09:00:00Z'); // 10:00 in Berlin
const MIN = 60_000;
const known = (cid: string, atMin: number, source: 'wifi' | 'ble' = 'wifi'): SightingRow => ({ store: 'a', epoch: DAY, cid, first: T + atMin * MIN, last: T + atMin * MIN + 30_000, frames: 4, rssiMax: -60, source });
const est = (agent: string, atMin: number, wifiArrivals: number, bleArrivals = 0): EstimateRow => ({
  store: 'a',
  agent,
  epoch: DAY,
  start: T + atMin * MIN,
  end: T + (atMin + 1) * MIN,
  method: 'ephemeral-v2',
  wifiPresent: wifiArrivals + 1,
  wifiArrivals,
  blePresent: bleArrivals,
  bleArrivals,
});

describe('people figures', () => {
  it('adds the estimate for randomizing phones to the phones known by Consumer-ID, per day and per local hour', () => {
    const rows = [known('k1', 0), known('k1', 70), known('k2', 5), known('k3', 65), known('k4', 66), known('k5', 67), known('w1', 1, 'ble')];
    const estimates = [...Array.from({ length: 10 }, (_, i) => est('ap-1', i, 1.5)), ...Array.from({ length: 10 }, (_, i) => est('ap-1', 60 + i, 0.5, 1))];
    const p = peopleFigures(rows, estimates, 5, 'Europe/Berlin');
    // 5 known WiFi phones (k1 once, though seen twice) + 15 + 5 estimated; the BLE band is not a person.
    expect(p.known).toBe(5);
    expect(p.estimated).toBe(25);
    expect(p.knownShare).toBe(0.2);
    // Arrivals: k1, k2 and 15 estimated at 10:xx local; k3..k5 and 5 estimated at 11:xx.
    expect(p.arrivalsByHour[10]).toBe(17);
    expect(p.arrivalsByHour[11]).toBe(8);
    expect(p.arrivalsByHour.reduce<number>((a, b) => a + (b ?? 0), 0)).toBe(p.estimated);
    expect(p.bleDevices).toBe(11); // the band + 10 estimated
    expect(p.method).toBe('ephemeral-v2');
  });

  it('takes, per window, the agent that heard the most: two agents in one store hear the same people', () => {
    const estimates = [est('ap-1', 0, 4), est('ap-2', 0, 6), est('ap-1', 1, 3), est('ap-2', 1, 1)];
    expect(peopleFigures([], estimates, 1, 'UTC').estimated).toBe(9);
  });

  it('counts the phones connected to the store WiFi among the known, k-anonymous, and hides them where the rest would be below k', () => {
    const conn = (cid: string, atMin: number): SightingRow => ({ ...known(cid, atMin), addressClass: 'associated' });
    const six = [conn('c1', 0), conn('c1', 40), conn('c2', 1), conn('c3', 2), conn('c4', 3), conn('c5', 4), conn('c6', 5)];
    const globals = Array.from({ length: 5 }, (_, i) => ({ ...known(`g${i}`, 10 + i), addressClass: 'global' }));
    expect(peopleFigures([...six, ...globals], [], 5, 'UTC')).toMatchObject({ known: 11, connected: 6 });
    // Six connected beside two global phones: "known - connected" would tell 2, so connected is hidden.
    expect(peopleFigures([...six, ...globals.slice(0, 2)], [], 5, 'UTC')).toMatchObject({ known: 8, connected: null });
    // All known phones connected: nothing to hide but a count below k.
    expect(peopleFigures(six, [], 5, 'UTC')).toMatchObject({ known: 6, connected: 6 });
    expect(peopleFigures(six.slice(0, 4), [], 5, 'UTC')).toMatchObject({ known: null, connected: null });
  });

  it('without estimates (older agents) it is the known phones, and says no method', () => {
    const p = peopleFigures([known('k1', 0), known('k2', 1), known('k3', 2), known('k4', 3), known('k5', 4)], [], 5, 'UTC');
    expect(p).toMatchObject({ estimated: 5, known: 5, knownShare: 1, method: null });
  });

  it('hides every count below k, and a second hour where one hidden hour could be recovered from the total', () => {
    const p = peopleFigures([known('k1', 0), known('k2', 1)], [...Array.from({ length: 8 }, (_, i) => est('ap-1', 60 + i, 1)), est('ap-1', 180, 6)], 5, 'UTC');
    expect(p.known).toBeNull(); // 2 known phones
    expect(p.knownShare).toBeNull();
    expect(p.estimated).toBe(16);
    // 09:00 has 2 (hidden); 10:00 has 8 and 12:00 has 6: the smaller of them is hidden too.
    expect(p.arrivalsByHour[9]).toBeNull();
    expect(p.arrivalsByHour[12]).toBeNull();
    expect(p.arrivalsByHour[10]).toBe(8);
    expect(suppressSeries([0, 3, 0, 9, 12], 5)).toEqual([0, null, 0, null, 12]);
    expect(suppressSeries([0, 3, 4, 9], 5)).toEqual([0, null, null, 9]); // two hidden already: enough
  });
});
