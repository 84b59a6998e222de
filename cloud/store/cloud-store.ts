import { createHash, randomBytes } from 'node:crypto';
/** What the cloud keeps, independent of the database behind it (SQLite embedded, PostgreSQL in production). */
import type { SightingsBatch } from '../../shared/wire/sightings-schema.js';
import type { SightingRow } from '../analytics/visits.js';
import type { Edge } from '../identity/graph.js';
import type { StoredGraph } from '../identity/stored-graph.js';
import type { LinksBatch } from '../../shared/wire/links-schema.js';
import type { RollupStore } from '../reports/rollup-store.js';

/** 'conflict': a known batch id with other content; the first content stays, the conflict is counted. */
export type IngestOutcome = 'stored' | 'duplicate' | 'conflict';

/** A validated batch to store. */
export type StoreRequest = { kind: 'sightings'; batch: SightingsBatch } | { kind: 'links'; batch: LinksBatch };

/** One message of a group commit. */
export type GroupItem = StoreRequest & { receivedMs: number };

/** Per message of a group: its outcome, or `refused` (the database refused its content; the others are kept). */
export type GroupOutcome = IngestOutcome | { refused: string };

export interface AgentRow {
  tenant: string;
  store: string;
  agent: string;
  state: string;
  lastSeenMs: number;
  status: Record<string, unknown>;
}

export interface CloudStats {
  batches: number;
  sightings: number;
  duplicates: number;
  /** Batches that came again under a known id with other content (each also a dead letter). */
  conflicts: number;
  deadLetters: number;
  consumerIds: number;
  stores: number;
  agents: number;
}

export interface DeadLetter {
  id: number;
  topic: string;
  reason: string;
  payload: string;
  bytes: number;
  receivedMs: number;
}

/** One window's estimate of the devices behind ephemeral addresses, as an agent sent it. */
export interface EstimateRow {
  store: string;
  agent: string;
  epoch: string;
  start: number;
  end: number;
  method: string;
  wifiPresent: number;
  wifiArrivals: number;
  blePresent: number;
  bleArrivals: number;
}

/** Asynchronous, so that SQLite (synchronous underneath) and PostgreSQL share one interface. */
export interface CloudStore {
  /**
   * One batch in one transaction. A batch id seen before from the same store changes nothing: 'duplicate'
   * when the content is the same (batchDigest), 'conflict' when it is not.
   */
  ingestSightings(batch: SightingsBatch, receivedMs: number): Promise<IngestOutcome>;
  /** A link batch: its edges (with evidence and consent), idempotent by batch id like sightings. */
  ingestLinks(batch: LinksBatch, receivedMs: number): Promise<IngestOutcome>;
  /**
   * Group commit: many batches in one transaction, an outcome for each as if stored alone (a batch id twice
   * in the group: the second is a duplicate or a conflict). A batch whose content the database refuses is
   * `refused` with the error code and leaves the others stored; any other failure throws and stores none.
   */
  ingestGroup(items: readonly GroupItem[]): Promise<GroupOutcome[]>;
  /**
   * The identity graph as the database keeps it (identity/stored-graph.ts): each identifier's profile,
   * kept by ingestLinks, revokeBatch and erase in their own transactions.
   */
  readonly graph: StoredGraph;
  /**
   * The reports' rollups per tenant-day (reports/): ingest and erasure mark the days they change in
   * their own transactions, reports/rollups.ts computes and saves them.
   */
  readonly rollups: RollupStore;
  /** Every edge of a tenant, for building its identity graph in memory (the reference, tests, other rules). */
  edges(tenant: string): Promise<(Edge & { marketing: boolean })[]>;
  /**
   * Erasure: deletes the edges touching `nodes`, the sightings of the cids among them, and records a
   * suppression entry for each so that a replayed batch cannot bring them back.
   */
  erase(tenant: string, nodes: string[]): Promise<{ edges: number; sightings: number }>;
  /** Unmerge: revokes the edges a store's link batch brought (wrong evidence); returns how many. */
  revokeBatch(tenant: string, store: string, batchId: string): Promise<number>;
  /** Parks a message that failed validation, with the reason (payload redacted and cut). */
  deadLetter(topic: string, reason: string, payload: string, receivedMs: number): Promise<void>;
  /** The retained status / periodic metrics of an agent; a null state keeps the known one. */
  upsertAgent(tenant: string, store: string, agent: string, state: string | null, status: Record<string, unknown>, receivedMs: number): Promise<void>;
  /** Counters and small tables; consumerIds is the rollups' (reports/rollups.ts reportStats brings them up to date first). */
  stats(): Promise<CloudStats>;
  agents(): Promise<AgentRow[]>;
  deadLetters(limit: number): Promise<DeadLetter[]>;
  /**
   * Devices (Consumer-IDs of a store-day) heard in a store since `sinceMs`: who is there now. Served by
   * the (tenant, store, epoch, first_ms) index: a sighting spans at most one window (≤ 1 h), so only
   * sightings that began in the hour before `sinceMs` can still be going on.
   */
  presentCids(sinceMs: number): Promise<{ tenant: string; store: string; epoch: string; cid: string }[]>;
  /** The tenant's opt-out list (tokens, never addresses). */
  optouts(tenant: string): Promise<string[]>;
  /** Adds tokens to the list; returns how many were new. */
  addOptouts(tenant: string, tokens: readonly string[], nowMs: number): Promise<number>;
  /** Takes tokens off the list (an opt-in again); returns how many were there. */
  removeOptouts(tenant: string, tokens: readonly string[]): Promise<number>;
  /** Which tenant has batches from which store on which store-day (for pickers and period queries), from a table ingest keeps. */
  tenantDays(): Promise<{ tenant: string; store: string; epoch: string }[]>;
  /** Every sighting of a tenant's store-day (optionally one store), for the analytics. */
  sightingsOfDay(tenant: string, epoch: string, store?: string): Promise<SightingRow[]>;
  /** Every window estimate of a tenant's store-day (optionally one store), for the people figures. */
  estimatesOfDay(tenant: string, epoch: string, store?: string): Promise<EstimateRow[]>;
  /** Every sighting of the given devices, each a Consumer-ID of one store-day (segments: only what is asked). */
  sightingsOfCids(tenant: string, keys: readonly { epoch: string; cid: string }[]): Promise<SightingRow[]>;
  /**
   * A cheap fingerprint of a tenant's edges that changes whenever they do, for caching the identity
   * graph: their count, the highest id, and that edge's batch (SQLite hands a deleted highest id out
   * again, but only to a later batch).
   */
  edgesVersion(tenant: string): Promise<string>;
  /**
   * The database's profile key (32 random bytes, made on first use and kept in its meta table): profile
   * ids are keyed with it, so knowing someone's e-mail does not give their profile id; the same on every
   * restart and in every process on the database.
   */
  profileKey(): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Dead letters keep this much of a payload, redacted. */
export const DEAD_LETTER_KEEP = 4096;

/** The longest window an agent may use (windows.seconds ≤ 3600): a sighting lasts no longer. */
export const MAX_SIGHTING_MS = 3_600_000;

/** The store-days (in any time zone) that can hold an instant near `ms`: its UTC date and the days around it. */
export function epochsAround(ms: number): string[] {
  return [-1, 0, 1].map((d) => new Date(ms + d * 86_400_000).toISOString().slice(0, 10));
}

/**
 * What a batch row keeps of its content: SHA-256 of the validated batch as canonical JSON (keys sorted),
 * so an identical redelivery (at-least-once delivery) is a duplicate and other content under a known
 * id is told apart from it.
 */
export function batchDigest(batch: SightingsBatch | LinksBatch): string {
  return createHash('sha256').update(canonicalJson(batch)).digest('hex');
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** A known batch id's outcome: rows from before digests were kept (null) cannot be compared, so they stay duplicates. */
export function knownBatchOutcome(storedDigest: string | null, digest: string): 'duplicate' | 'conflict' {
  return storedDigest === null || storedDigest === digest ? 'duplicate' : 'conflict';
}

/** The counter each outcome for a known batch id bumps. */
export const KNOWN_BATCH_COUNTER = { duplicate: 'duplicates', conflict: 'conflicts' } as const;

/** A new profile key, as the meta table keeps it (base64). */
export function newProfileKeyText(): string {
  return randomBytes(32).toString('base64');
}

/** A profile key read back from the meta table; anything but 32 bytes is a damaged database. */
export function profileKeyFromText(text: string | undefined): Uint8Array {
  const key = Buffer.from(text ?? '', 'base64');
  if (key.length !== 32) throw new Error('the profile key in the database is damaged (meta.profile_key is not 32 bytes of base64)');
  return new Uint8Array(key);
}

/** What a suppression entry stores: a digest of the identifier, never the identifier itself. */
export function suppressionDigest(tenant: string, node: string): string {
  return createHash('sha256').update(`omniloop/v1/suppress|${tenant}|${node}`).digest('hex');
}
