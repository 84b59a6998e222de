/** Sighting windows and the SQLite outbox, without a broker. */
import { MAX_SIGHTING_CHANNELS, validateSightingsMessage } from '../shared/wire/sightings-schema.js';
import { SIGHTINGS_SCHEMA, envelope } from '../shared/wire/batch.js';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SightingAggregator } from '../agents/aggregate/sightings.js';
import { AddressClass, newObservation, Source, type Observation } from '../agents/decode/observation.js';
import { Outbox } from '../agents/outbox/outbox.js';
import { StoreDayClock } from '../shared/identity/store-day.js';
import { readCaptureFile } from '../agents/capture/file-reader.js';
import { EdgePipeline } from '../agents/pipeline/edge-pipeline.js';
import { Pseudonymizer } from '../agents/pseudonymize/pseudonymizer.js';
import { CAPTURES } from './helpers/cli.js';

const clock = new StoreDayClock('Europe/Berlin');
const beacons = { ibeacon: () => 'ib', eddystone: () => 'ed' };
const dir = mkdtempSync(join(tmpdir(), 'omniloop-outbox-'));

function obs(tsMs: number, mac: number, cls: AddressClass, rssi = -60, channel = 6): Observation {
  const o = newObservation();
  o.source = cls >= AddressClass.BlePublic ? Source.Ble : Source.Wifi;
  o.tsMs = tsMs;
  o.mac = mac;
  o.addressClass = cls;
  o.rssi = rssi;
  o.channel = channel;
  return o;
}

function add(agg: SightingAggregator, o: Observation, cid: string | null): void {
  const d = clock.interval(o.tsMs);
  agg.add(o, cid, d.day, d.startMs, d.endMs, beacons);
}

describe('sighting windows', () => {
  it('lists at most the channels HQ accepts: a phone heard on 80 channels of a 2.4/5/6 GHz hopper is not a dead batch', () => {
    const agg = new SightingAggregator(60_000, 0);
    const t = Date.parse('2026-11-23T10:00:05Z');
    for (let ch = 1; ch <= 80; ch++) add(agg, obs(t + ch, 1, AddressClass.WifiGlobal, -60, ch), 'a'.repeat(32));
    const [w] = agg.takeClosed(Infinity, true);
    const s = w!.sightings[0]!;
    expect(s.frames).toBe(80);
    expect(s.channels).toHaveLength(MAX_SIGHTING_CHANNELS);
    const body = JSON.stringify({ window: { start: w!.start, end: w!.end, seconds: 60 }, sightings: w!.sightings, ephemeral: [] });
    const v = validateSightingsMessage('omniloop/v1/acme/berlin-1/ap-1/sightings', envelope(SIGHTINGS_SCHEMA, { tenant: 'acme', store: 'berlin-1', agent: 'ap-1' }, '00000000', 1, w!.epoch, body));
    expect(v.ok, v.ok ? '' : v.reason).toBe(true);
  });

  it('folds frames per Consumer-ID and source, with first/last, count, RSSI and channels', () => {
    const agg = new SightingAggregator(60_000, 0);
    const t = Date.parse('2026-11-23T10:00:05Z');
    add(agg, obs(t, 1, AddressClass.WifiGlobal, -70, 1), 'cid-a');
    add(agg, obs(t + 1000, 1, AddressClass.WifiGlobal, -50, 6), 'cid-a');
    add(agg, obs(t + 2000, 1, AddressClass.WifiGlobal, NaN, 6), 'cid-a');
    add(agg, obs(t + 3000, 2, AddressClass.BlePublic, -80, 37), 'cid-a'); // same id, other source
    add(agg, obs(t + 4000, 3, AddressClass.WifiRandomized), null);
    add(agg, obs(t + 5000, 4, AddressClass.WifiRandomized), null);
    add(agg, obs(t + 6000, 4, AddressClass.WifiRandomized), null);
    expect(agg.takeClosed()).toEqual([]); // the window is still open
    const [w] = agg.takeClosed(t + 120_000);
    expect(w!.epoch).toBe('2026-11-23');
    expect([w!.start, w!.end]).toEqual([Date.parse('2026-11-23T10:00:00Z'), Date.parse('2026-11-23T10:01:00Z')]);
    expect(w!.sightings).toEqual([
      { cid: 'cid-a', source: 'wifi', addressClass: 'global', first: t, last: t + 2000, frames: 3, rssiMax: -50, rssiMean: -60, channels: [1, 6] },
      { cid: 'cid-a', source: 'ble', addressClass: 'public', first: t + 3000, last: t + 3000, frames: 1, rssiMax: -80, rssiMean: -80, channels: [37] },
    ]);
    expect(w!.ephemeral).toEqual([{ source: 'wifi', addressClass: 'randomized', devices: 2, frames: 3 }]);
  });

  it('never lets a window straddle the store-day: it is cut at local midnight', () => {
    const agg = new SightingAggregator(3_600_000, 0); // hour windows; Berlin midnight is 23:00 UTC
    const before = Date.parse('2026-11-23T22:59:30Z');
    const after = Date.parse('2026-11-23T23:00:30Z');
    add(agg, obs(before, 1, AddressClass.WifiGlobal), 'day1-id');
    add(agg, obs(after, 1, AddressClass.WifiGlobal), 'day2-id');
    const closed = agg.takeClosed(-Infinity, true);
    expect(closed.map((w) => [w.epoch, new Date(w.start).toISOString(), new Date(w.end).toISOString(), w.sightings[0]!.cid])).toEqual([
      ['2026-11-23', '2026-11-23T22:00:00.000Z', '2026-11-23T23:00:00.000Z', 'day1-id'],
      ['2026-11-24', '2026-11-23T23:00:00.000Z', '2026-11-24T00:00:00.000Z', 'day2-id'],
    ]);
  });

  it('closes windows by the data clock plus the allowed lateness', () => {
    const agg = new SightingAggregator(60_000, 5_000);
    const t = Date.parse('2026-11-23T10:00:00Z');
    add(agg, obs(t + 10, 1, AddressClass.WifiGlobal), 'a');
    add(agg, obs(t + 64_000, 1, AddressClass.WifiGlobal), 'a'); // 4 s past the first window's end
    expect(agg.takeClosed()).toHaveLength(0);
    add(agg, obs(t + 2_000, 1, AddressClass.WifiGlobal), 'a'); // late, still counted in the first window
    add(agg, obs(t + 66_000, 1, AddressClass.WifiGlobal), 'a');
    const closed = agg.takeClosed();
    expect(closed).toHaveLength(1);
    expect(closed[0]!.sightings[0]!.frames).toBe(2);
    expect(agg.openWindows).toBe(1);
  });

  it('gives a private address that advertises a beacon the beacon identity', () => {
    const agg = new SightingAggregator(60_000, 0);
    const o = obs(Date.parse('2026-11-23T10:00:00Z'), 9, AddressClass.BleRpa);
    o.ibeaconUuidOff = 0;
    add(agg, o, null);
    const [w] = agg.takeClosed(-Infinity, true);
    expect(w!.sightings[0]).toMatchObject({ cid: 'ib', addressClass: 'rpa', beacon: { type: 'ibeacon', cid: 'ib' } });
    expect(w!.ephemeral).toEqual([]);
  });
});

describe('people behind ephemeral addresses, per window', () => {
  it("a real phone's hundreds of rotating addresses leave windows whose arrivals sum to about one device", () => {
    // iPhone 11 on iOS 16: 465 addresses in 53 minutes, one phone (test/fixtures/captures/probes-labelled).
    const agg = new SightingAggregator(60_000, 5_000);
    const pipeline = new EdgePipeline(new Pseudonymizer({ secret: new Uint8Array(32), tenant: 'test', timezone: 'Europe/Berlin' }), (o, cid) => add(agg, o, cid));
    readCaptureFile(join(CAPTURES, 'probes-labelled/iPhone11-B.pcap'), pipeline.onRecord);
    const windows = [...agg.takeClosed(), ...agg.takeClosed(Infinity, true)];
    expect(windows.length).toBeGreaterThan(10);
    const addresses = windows.reduce((n, w) => n + w.ephemeral.reduce((m, e) => m + e.devices, 0), 0);
    const arrivals = windows.reduce((n, w) => n + w.estimate.wifi.arrivals, 0);
    expect(addresses).toBeGreaterThan(400);
    expect(arrivals).toBeGreaterThanOrEqual(1);
    expect(arrivals).toBeLessThanOrEqual(2);
    for (const w of windows) {
      expect(w.estimate.method).toMatch(/^ephemeral-v\d+$/);
      expect(w.estimate.wifi.present).toBeLessThanOrEqual(2);
      // Counts only: the estimate carries nothing that names a device.
      expect(Object.keys(w.estimate).sort()).toEqual(['ble', 'method', 'wifi']);
    }
  });
});

describe('outbox', () => {
  it('keeps rows across reopen, oldest first, with a stable instance id and increasing sequence', () => {
    const path = join(dir, 'a.db');
    const ob = new Outbox(path);
    expect(ob.append('sightings', '2026-11-23', ['{"a":1}', '{"a":2}'])).toEqual([1, 2]);
    const instance = ob.instance;
    ob.close();
    const again = new Outbox(path);
    expect(again.instance).toBe(instance);
    expect(again.peek(10).map((r) => [r.seq, r.body])).toEqual([
      [1, '{"a":1}'],
      [2, '{"a":2}'],
    ]);
    again.delete(1);
    again.delete(1); // a late duplicate ack
    expect(again.append('sightings', '2026-11-23', ['{"a":3}'])).toEqual([3]); // never reused, even after deletes
    expect(again.peek(10, 2).map((r) => r.seq)).toEqual([3]);
    expect(again.stats()).toMatchObject({ rows: 2, dropped: 0, nextSeq: 4 });
    again.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    db.close();
  });

  it('upgrades an outbox of schema 1 with its backlog counted', () => {
    const path = join(dir, 'v1.db');
    const db = new Database(path);
    db.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, epoch TEXT NOT NULL, created_ms INTEGER NOT NULL, bytes INTEGER NOT NULL, body TEXT NOT NULL);
             INSERT INTO outbox (kind, epoch, created_ms, bytes, body) VALUES ('sightings', 'd', ${Date.now()}, 7, '{"a":1}'), ('sightings', 'd', ${Date.now()}, 7, '{"a":2}');
             PRAGMA user_version = 1;`);
    db.close();
    const ob = new Outbox(path, { maxRows: 3, maxBytes: 1000, maxAgeMs: 60_000 });
    expect(ob.stats()).toMatchObject({ rows: 2, bytes: 14 });
    ob.append('sightings', 'd', ['{"a":3}', '{"a":4}']);
    expect(ob.stats()).toMatchObject({ rows: 3, bytes: 21, dropped: 1 });
    ob.delete(2);
    expect(ob.stats()).toMatchObject({ rows: 2, bytes: 14 });
    ob.close();
  });

  it('drops the oldest rows past its row, byte and age limits, and counts them', () => {
    const ob = new Outbox(join(dir, 'b.db'), { maxRows: 3, maxBytes: 1000, maxAgeMs: 60_000 });
    const now = Date.now();
    for (let i = 1; i <= 5; i++) ob.append('sightings', 'd', [`{"i":${i}}`], now);
    expect(ob.peek(10).map((r) => r.body)).toEqual(['{"i":3}', '{"i":4}', '{"i":5}']);
    expect(ob.stats().dropped).toBe(2);
    ob.append('sightings', 'd', ['{"big":"' + 'x'.repeat(900) + '"}'], now);
    expect(ob.stats().bytes).toBeLessThanOrEqual(1000);
    expect(ob.peek(10).at(-1)!.body).toMatch(/big/);
    ob.append('sightings', 'd', ['{"late":1}'], now + 120_000); // everything before is now too old
    expect(ob.peek(10).map((r) => r.body)).toEqual(['{"late":1}']);
    expect(ob.stats().dropped).toBe(6);
    expect(ob.purge()).toBe(1);
    expect(ob.stats()).toMatchObject({ rows: 0, dropped: 7 });
    ob.close();
  });

  it('refuses a file that is not an outbox, and a newer schema, with a clear error', () => {
    const path = join(dir, 'newer.db');
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    expect(() => new Outbox(path)).toThrow(/schema 99 is newer/);
    expect(() => new Outbox(join(dir, 'no', 'such', 'dir', 'x.db'))).toThrow(/cannot open the outbox/);
    expect(statSync(path).size).toBeGreaterThan(0);
  });
});
