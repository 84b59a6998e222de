/**
 * Downlink messages (MQTT contract v1): HQ → agents. The tenant's opt-out list (retained on
 * `omniloop/v1/<tenant>/control/optout`) and each store's audience segments of the Consumer-IDs present
 * there now (retained on `omniloop/v1/<tenant>/<store>/control/segments`). Agents validate them like
 * the cloud validates uplink: a bad message is logged and ignored, never applied.
 */
import { z } from 'zod';
import { validateJson, type Validated } from './sightings-schema.js';

export const OPTOUT_SCHEMA = 'omniloop.optout/1';
export const SEGMENTS_SCHEMA = 'omniloop.segments/1';

/** 64 MiB of JSON: a million opt-out tokens fit. */
export const MAX_CONTROL_BYTES = 64 * 1024 * 1024;

const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/);
const token = z.string().regex(/^[0-9a-f]{64}$/, 'an opt-out token is 64 lowercase hex characters');

export const optoutListSchema = z
  .object({
    schema: z.literal(OPTOUT_SCHEMA),
    tenant: name,
    /** When HQ made this list (ms): an agent never replaces a list with an older one. */
    version: z.number().int().min(0),
    tokens: z.array(token).max(1_000_000),
  })
  .strict();

export type OptoutList = z.infer<typeof optoutListSchema>;

export const segmentsPushSchema = z
  .object({
    schema: z.literal(SEGMENTS_SCHEMA),
    tenant: name,
    store: name,
    /** The store-day of the Consumer-IDs inside. */
    epoch: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    ts: z.number().int().min(0),
    /** Consumer-ID → the segments its person (profile) or device is in; only ids in at least one. */
    cids: z.record(z.string().regex(/^[0-9a-f]{32}$/), z.array(name).min(1).max(64)),
  })
  .strict()
  .refine((m) => Object.keys(m.cids).length <= 100_000, 'at most 100000 Consumer-IDs');

export type SegmentsPush = z.infer<typeof segmentsPushSchema>;

export function validateOptoutList(payload: Buffer | string): Validated<OptoutList> {
  return validateJson(payload, optoutListSchema, MAX_CONTROL_BYTES);
}

export function validateSegmentsPush(payload: Buffer | string): Validated<SegmentsPush> {
  return validateJson(payload, segmentsPushSchema, MAX_CONTROL_BYTES);
}
