/**
 * The broker settings omniloop needs, in one place: what `omniloop broker provision` writes into its
 * mosquitto.conf and what `omniloop broker check` holds a broker's config to. Mosquitto's defaults
 * lose data: a client's queue holds 1000 messages, and what arrives beyond that for a lagging or
 * offline HQ is dropped silently, after the broker has acknowledged it to the agent (which then
 * deletes it).
 */
import { MAX_CONTROL_BYTES } from '../../shared/wire/control-schema.js';
import { MAX_MESSAGE_BYTES } from '../../shared/wire/sightings-schema.js';

/** Room for the topic, properties and fixed header around the largest payload. */
export const PACKET_OVERHEAD = 64 * 1024;

/**
 * The largest valid message: a tenant's opt-out list, up to MAX_CONTROL_BYTES of JSON, travels as a
 * string inside HQ's signed envelope (shared/wire/control-signing.ts), and escaping at most doubles it.
 */
const LARGEST_CONTROL_MESSAGE = 2 * MAX_CONTROL_BYTES + PACKET_OVERHEAD;

/** Mosquitto 2.0 keeps max_queued_bytes in 32 bits: 4294968296 acts as 1000. */
export const MOSQUITTO_32_BIT_LIMIT = 2 ** 31;

export const SHIPPED = {
  /** About 16 hours of one batch a minute from 1,000 agents, for each HQ session. */
  maxQueuedMessages: 1_000_000,
  /** Held in the broker's memory; below the 32-bit limit. */
  maxQueuedBytes: 2_000_000_000,
  /** Uplink batches are at most 1 MiB; the limit is set by the opt-out list. */
  maxPacketSize: LARGEST_CONTROL_MESSAGE,
  /** Seconds between saves: a crash loses at most this much of what agents already deleted. */
  autosaveInterval: 300,
  /** A persistent MQTT 3.1.1 session left this long is dropped with its queue (a retired HQ instance). */
  persistentClientExpiration: '14d',
} as const;

/** What `broker check` accepts. */
export const REQUIRED = {
  minQueuedMessages: 100_000,
  minQueuedBytes: 256 * 1024 * 1024,
  /** Below this a valid batch is refused (the agent is disconnected and sends it again, forever). */
  minPacketForBatches: MAX_MESSAGE_BYTES + PACKET_OVERHEAD,
  /** Below this a large opt-out list never reaches the agents. */
  minPacketForControl: LARGEST_CONTROL_MESSAGE,
  maxAutosaveSeconds: SHIPPED.autosaveInterval,
  minClientExpirationSeconds: 86_400,
} as const;
