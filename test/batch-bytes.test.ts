/**
 * Issue finding 4: a busy window with `outbox.batchSize: 10000` made batches of 1.7–1.9 MB, which HQ
 * dead-letters (its limit is 1 MiB). Batches are now bounded by bytes too: every published payload,
 * envelope included, stays under the limit, HQ's own validator accepts it, and every sighting arrives.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentConfigSchema } from '../agents/config/agent-config.js';
import type { ClosedWindow, Sighting } from '../agents/aggregate/sightings.js';
import { windowBodies } from '../agents/aggregate/window-bodies.js';
import { AddressClass, newObservation, Source } from '../agents/decode/observation.js';
import { Pseudonymizer } from '../agents/pseudonymize/pseudonymizer.js';
import { Agent } from '../agents/runtime/agent.js';
import { createLogger } from '../shared/log.js';
import { ENVELOPE_MAX_BYTES, MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, SIGHTINGS_SCHEMA, envelope } from '../shared/wire/batch.js';
import { agentTopic } from '../shared/wire/topics.js';
import { validateSightingsMessage } from '../shared/wire/sightings-schema.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-batch-bytes-'));
const log = createLogger('test', 'silent');
const T0 = Date.parse('2026-11-23T10:00:00Z');
const cidOf = (i: number) => createHash('md5').update(`device-${i}`).digest('hex');
/** The longest names the contract allows, and a 15-digit sequence number: the biggest envelope. */
const LONG = { tenant: 't'.repeat(64), store: 's'.repeat(64), agent: 'a'.repeat(64) };

function sighting(i: number): Sighting {
  return { cid: cidOf(i), source: 'wifi', addressClass: 'global', first: T0 + 1000, last: T0 + 59_000, frames: 1234, rssiMax: -41, rssiMean: -63.25, channels: [1, 6, 11, 36, 40, 44, 48, 149], ...(i % 7 === 0 ? { beacon: { type: 'ibeacon' as const, cid: cidOf(-i) } } : {}) };
}

function busyWindow(n: number): ClosedWindow {
  const ephemeral = Array.from({ length: 64 }, (_, i) => ({ source: i % 2 ? ('ble' as const) : ('wifi' as const), addressClass: i % 2 ? 'rpa' : 'randomized', devices: 1000 + i, frames: 100_000 + i }));
  return { epoch: '2026-11-23', start: T0, end: T0 + 60_000, sightings: Array.from({ length: n }, (_, i) => sighting(i)), ephemeral, estimate: { method: 'ephemeral-v1', wifi: { present: 812.5, arrivals: 40.25 }, ble: { present: 301, arrivals: 12 } } };
}

/** What the publisher sends for a body, and HQ's verdict on it. */
function published(id: typeof LONG, instance: string, seq: number, body: string) {
  const payload = envelope(SIGHTINGS_SCHEMA, id, instance, seq, '2026-11-23', body);
  return { bytes: Buffer.byteLength(payload), verdict: validateSightingsMessage(agentTopic(id, 'sightings'), payload) };
}

describe('batches bounded by bytes', () => {
  it('a window of 12,000 sightings with batchSize 10000 becomes several bodies, each accepted by HQ, none lost', () => {
    const w = busyWindow(12_000);
    // The finding: one body of 10,000 sightings is far over HQ's limit.
    expect(Buffer.byteLength(JSON.stringify({ window: {}, sightings: w.sightings.slice(0, 10_000) }))).toBeGreaterThan(MAX_MESSAGE_BYTES);
    const { bodies, oversized } = windowBodies(w, 10_000, MAX_BATCH_BYTES - ENVELOPE_MAX_BYTES);
    expect(oversized).toBe(0);
    expect(bodies.length).toBeGreaterThanOrEqual(3);
    const got: Sighting[] = [];
    bodies.forEach((body, i) => {
      const p = published(LONG, 'ffffffffffffffffffffffffffffffffffff', 999_999_999_999_990 + i, body);
      expect(p.bytes).toBeLessThanOrEqual(MAX_BATCH_BYTES);
      expect(p.verdict, JSON.stringify(p.verdict)).toMatchObject({ ok: true });
      const b = JSON.parse(body);
      // The counts and the estimate ride with the first body only, as before.
      expect(b.ephemeral).toHaveLength(i === 0 ? 64 : 0);
      expect('estimate' in b).toBe(i === 0);
      got.push(...b.sightings);
    });
    expect(got).toEqual(w.sightings); // all of them, in order, unchanged
    expect(bodies.slice(0, -1).every((b) => Buffer.byteLength(b) > (MAX_BATCH_BYTES - ENVELOPE_MAX_BYTES) * 0.95)).toBe(true); // packed, not split needlessly
  });

  it('writes what JSON.stringify of the whole body gave, and still honours batchSize', () => {
    const w = busyWindow(25);
    const { bodies } = windowBodies(w, 10, 1e9);
    expect(bodies).toEqual([0, 10, 20].map((i) => JSON.stringify({ window: { start: w.start, end: w.end, seconds: 60 }, sightings: w.sightings.slice(i, i + 10), ephemeral: i === 0 ? w.ephemeral : [], ...(i === 0 ? { estimate: w.estimate } : {}) })));
    const empty = { ...busyWindow(0) };
    expect(windowBodies(empty, 10, 1e9).bodies).toEqual([JSON.stringify({ window: { start: w.start, end: w.end, seconds: 60 }, sightings: [], ephemeral: empty.ephemeral, estimate: empty.estimate })]);
  });

  it('guards against a sighting too big for any body: left out and counted, the others kept', () => {
    const w = busyWindow(3);
    w.sightings[1]!.channels = Array.from({ length: 200 }, (_, i) => i + 1); // far beyond any real device
    const small = windowBodies(w, 10, 700);
    expect(small.oversized).toBe(1);
    expect(small.bodies.flatMap((b) => JSON.parse(b).sightings.map((s: Sighting) => s.cid))).toEqual([cidOf(0), cidOf(2)]);
    expect(small.bodies.every((b) => Buffer.byteLength(b) <= 700 || JSON.parse(b).sightings.length === 0)).toBe(true);
  });

  it('the envelope never exceeds ENVELOPE_MAX_BYTES', () => {
    const body = '{"x":1}';
    const overhead = Buffer.byteLength(envelope(SIGHTINGS_SCHEMA, LONG, 'f'.repeat(36), 999_999_999_999_999, '2026-11-23', body)) - body.length;
    expect(overhead).toBeLessThanOrEqual(ENVELOPE_MAX_BYTES);
    expect(MAX_BATCH_BYTES).toBeLessThan(MAX_MESSAGE_BYTES);
  });

  it('the agent splits a busy window by bytes (default and a lower outbox.maxBatchBytes), and HQ accepts every row', () => {
    for (const [name, maxBatchBytes] of [['default', undefined], ['lower', 100_000]] as const) {
      const cfg = agentConfigSchema.parse({ tenant: 'acme', store: 'berlin-1', agent: 'edge-1', timezone: 'UTC', keyFile: 'unused', status: { port: 0 }, outbox: { path: join(dir, `${name}.db`), batchSize: 10_000, ...(maxBatchBytes ? { maxBatchBytes } : {}) } });
      const limit = maxBatchBytes ?? MAX_BATCH_BYTES;
      const pseudo = new Pseudonymizer({ secret: Buffer.alloc(32, 7), tenant: 'acme', timezone: 'UTC' });
      const agent = new Agent(cfg, pseudo, log);
      const d = pseudo.dayInterval(T0);
      const beacons = { ibeacon: () => 'unused', eddystone: () => 'unused' }; // no beacon frames here
      for (let i = 0; i < 11_000; i++) {
        for (const ch of [1, 6, 11, 36]) {
          const o = newObservation();
          o.source = Source.Wifi;
          o.tsMs = T0 + 1000 + (i % 50_000);
          o.mac = i + 1;
          o.addressClass = AddressClass.WifiGlobal;
          o.rssi = -50 - (i % 40);
          o.channel = ch;
          agent.aggregator.add(o, cidOf(i), d.day, d.startMs, d.endMs, beacons);
        }
      }
      agent.flushWindows(-Infinity, true);
      const rows = agent.outbox.peek(1000);
      expect(rows.length).toBeGreaterThan(name === 'default' ? 2 : 20);
      let sightings = 0;
      const id = { tenant: 'acme', store: 'berlin-1', agent: 'edge-1' };
      for (const r of rows) {
        const p = published(id, agent.outbox.instance, r.seq, r.body);
        expect(p.bytes).toBeLessThanOrEqual(limit);
        expect(p.verdict.ok, JSON.stringify(p.verdict)).toBe(true);
        sightings += p.verdict.ok ? p.verdict.value.sightings.length : 0;
      }
      expect(sightings).toBe(11_000);
      expect(agent.counters).toMatchObject({ sightings: 11_000, batches: rows.length, oversized: 0 });
      agent.outbox.close();
    }
  });

  it('refuses an outbox.maxBatchBytes above the limit HQ can take', () => {
    const base = { tenant: 'acme', store: 'berlin-1', agent: 'edge-1', keyFile: 'unused' };
    expect(agentConfigSchema.safeParse({ ...base, outbox: { maxBatchBytes: 2_000_000 } }).success).toBe(false);
    expect(agentConfigSchema.parse(base).outbox.maxBatchBytes).toBe(MAX_BATCH_BYTES);
  });
});
