/**
 * Sightings batches as agents send them — about 50 sightings a window, ~190 bytes of JSON each — for
 * tests and the benchmark: the body the outbox stores, and the whole message with its envelope.
 */
import { SIGHTINGS_SCHEMA, envelope } from '../../shared/wire/batch.js';
import type { AgentIdentity } from '../../shared/wire/topics.js';

export const DAY = '2026-11-23';
const T = Date.parse(`${DAY}T08:00:00Z`);

/** The outbox row of window `n`: `perBatch` devices of a 40,000-device population, seen a few seconds each. */
export function sightingsBody(n: number, perBatch = 50): string {
  const start = T + (n % 600) * 60_000;
  const sightings = Array.from({ length: perBatch }, (_, i) => {
    const d = (n * perBatch + i) % 40_000;
    return { cid: d.toString(16).padStart(32, '0'), source: 'wifi', addressClass: 'global', first: start + i * 100, last: start + i * 100 + 5_000, frames: 4, rssiMax: -55, rssiMean: -61.5, channels: [1, 6, 11] };
  });
  return JSON.stringify({ window: { start, end: start + 60_000, seconds: 60 }, sightings, ephemeral: [{ source: 'wifi', addressClass: 'randomized', devices: 7, frames: 31 }] });
}

/** The MQTT payload of that window's batch, as the publisher builds it. */
export function sightingsMessage(id: AgentIdentity, instance: string, seq: number, perBatch = 50): Buffer {
  return Buffer.from(envelope(SIGHTINGS_SCHEMA, id, instance, seq, DAY, sightingsBody(seq, perBatch)));
}
