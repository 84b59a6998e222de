/**
 * Validation of what arrives over MQTT (contract v1): every field typed and bounded, so one bad or
 * hostile message is parked with a reason instead of reaching the store. Shared so the agent's tests
 * can check what it sends against the same rules the cloud applies.
 */
import { z } from 'zod';
import { MAX_MESSAGE_BYTES, SIGHTINGS_SCHEMA } from './batch.js';

/** Larger payloads are refused before parsing (defined beside the envelope: the agent splits below it). */
export { MAX_MESSAGE_BYTES };
/** Distinct channels one sighting lists; the agent keeps the first this many (a 2.4/5/6 GHz hopper can hear a phone on more). */
export const MAX_SIGHTING_CHANNELS = 64;

const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/);
const cid = z.string().regex(/^[0-9a-f]{32}$/, 'a Consumer-ID is 32 lowercase hex characters');
const ms = z.number().int().min(946_684_800_000).max(4_102_444_800_000); // 2000..2100
const dbm = z.number().min(-130).max(20).nullable();

export const sightingSchema = z
  .object({
    cid,
    source: z.enum(['wifi', 'ble']),
    addressClass: z.enum(['global', 'randomized', 'associated', 'public', 'static', 'rpa', 'nrpa']),
    first: ms,
    last: ms,
    frames: z.number().int().min(1).max(10_000_000),
    rssiMax: dbm,
    rssiMean: dbm,
    channels: z.array(z.number().int().min(0).max(233)).max(MAX_SIGHTING_CHANNELS),
    beacon: z.object({ type: z.enum(['ibeacon', 'eddystone']), cid }).strict().optional(),
  })
  .strict()
  .refine((s) => s.last >= s.first, 'last before first');

export const ephemeralSchema = z
  .object({
    source: z.enum(['wifi', 'ble']),
    addressClass: z.enum(['global', 'randomized', 'associated', 'public', 'static', 'rpa', 'nrpa']),
    devices: z.number().int().min(0).max(10_000_000),
    frames: z.number().int().min(0).max(100_000_000),
  })
  .strict();

/** An estimate of devices: fractional, since it is an estimate; never a record of any one device. */
const deviceEstimateSchema = z
  .object({
    /** Devices present in the window (heard, or silent for less than the method's hold time). */
    present: z.number().min(0).max(1_000_000),
    /** Of those, devices that arrived in this window (not continuing one of an earlier window). */
    arrivals: z.number().min(0).max(1_000_000),
  })
  .strict();

/**
 * How many physical devices stood behind the window's ephemeral addresses (randomized WiFi, BLE private),
 * estimated on the agent; absent in batches of agents that do not estimate (older ones).
 */
export const peopleEstimateSchema = z
  .object({
    method: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,31}$/, 'a method name such as ephemeral-v1'),
    wifi: deviceEstimateSchema,
    ble: deviceEstimateSchema,
  })
  .strict();

export type PeopleEstimate = z.infer<typeof peopleEstimateSchema>;

/** The envelope every batch kind carries (the schema literal aside): who sent it, its id, its key epoch. */
export const batchEnvelopeShape = {
  tenant: name,
  store: name,
  agent: name,
  batchId: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}:[0-9a-z]{1,36}:\d{1,15}$/),
  seq: z.number().int().min(1),
  epoch: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
};

/** A batch id names its agent and ends in its sequence number. */
export const batchIdMatches = { check: (b: { batchId: string; agent: string; seq: number }) => b.batchId.startsWith(`${b.agent}:`) && b.batchId.endsWith(`:${b.seq}`), message: 'batchId does not match agent and seq' };

export const sightingsBatchSchema = z
  .object({
    schema: z.literal(SIGHTINGS_SCHEMA),
    ...batchEnvelopeShape,
    window: z.object({ start: ms, end: ms, seconds: z.number().positive().max(86_400) }).strict(),
    sightings: z.array(sightingSchema).max(10_000),
    ephemeral: z.array(ephemeralSchema).max(64),
    /** Rides with the first batch of a window, like `ephemeral`. */
    estimate: peopleEstimateSchema.optional(),
  })
  .strict()
  .refine((b) => b.window.end > b.window.start, { message: 'window ends before it starts', path: ['window'] })
  .refine((b) => withinEpoch(b.epoch, b.window.start) && withinEpoch(b.epoch, b.window.end - 1), { message: 'window is not on the key epoch\'s store-day', path: ['window'] })
  .refine(batchIdMatches.check, { message: batchIdMatches.message, path: ['batchId'] });

/**
 * Whether ms can fall on store-day `epoch` in some time zone with some rollover: the local date of
 * (ms - rollover) is the epoch, so ms lies between the epoch's UTC midnight less 14 h (UTC+14) and the
 * next midnight plus 12 h (UTC-12) plus 23 h of rollover. A window dated 2099 under a 2026 epoch is not.
 */
export function withinEpoch(epoch: string, ms: number): boolean {
  const day = Date.parse(`${epoch}T00:00:00Z`);
  if (Number.isNaN(day) || new Date(day).toISOString().slice(0, 10) !== epoch) return false;
  return ms >= day - 14 * HOUR && ms < day + DAY + 12 * HOUR + 23 * HOUR;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

export type SightingsBatch = z.infer<typeof sightingsBatchSchema>;
export type WireSighting = z.infer<typeof sightingSchema>;

export type Validated<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Parses and validates one message received on `topic` against a batch schema: size, JSON, every field,
 * and that the topic names the sender the payload names.
 */
export function validateBatchMessage<T extends { tenant: string; store: string; agent: string }>(topic: string, payload: Buffer | string, schema: z.ZodType<T>): Validated<T> {
  const v = validateJson(payload, schema, MAX_MESSAGE_BYTES);
  if (!v.ok) return v;
  const b = v.value;
  const parts = topic.split('/');
  // omniloop/v1/<tenant>/<store>/<agent>/<kind>: the topic must name the sender the payload names.
  if (parts.length !== 6 || parts[2] !== b.tenant || parts[3] !== b.store || parts[4] !== b.agent) {
    return { ok: false, reason: `topic ${topic} does not match the payload's ${b.tenant}/${b.store}/${b.agent}` };
  }
  return v;
}

/** Size, JSON, then the schema: the first problem as the reason. */
export function validateJson<T>(payload: Buffer | string, schema: z.ZodType<T>, maxBytes: number): Validated<T> {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (size > maxBytes) return { ok: false, reason: `message of ${size} bytes exceeds ${maxBytes}` };
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString());
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    return { ok: false, reason: `schema: ${i.path.join('.') || '(message)'}: ${i.message}${parsed.error.issues.length > 1 ? ` (+${parsed.error.issues.length - 1} more)` : ''}` };
  }
  return { ok: true, value: parsed.data };
}

/** Parses and validates one sightings message received on `topic`. */
export function validateSightingsMessage(topic: string, payload: Buffer | string): Validated<SightingsBatch> {
  return validateBatchMessage(topic, payload, sightingsBatchSchema);
}
