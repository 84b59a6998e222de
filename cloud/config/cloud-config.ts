/** HQ's config file (YAML): the broker to consume from, the shared-subscription group, the database. */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InputError } from '../../shared/errors.js';
import { loadKeyFile } from '../../shared/identity/secret.js';
import { brokerSchema, resolveBrokerFiles } from '../../shared/broker/broker-config.js';
import { formatIssues } from '../../shared/config/format-issues.js';
import type { GraphRules } from '../identity/graph.js';
import { segmentsSchema } from '../segments/rules.js';

/**
 * Where HQ consumes from. `mqtt` (the default): the broker's shared subscription, for a single site.
 * `jetstream`: a chain's NATS cluster, whose MQTT listener stores agents' messages in a replicated
 * stream; HQ's processes share one durable pull consumer and store many messages per transaction.
 */
const jetstreamSchema = z
  .object({
    kind: z.literal('jetstream'),
    servers: z.array(z.string().regex(/^(nats|tls):\/\/[^\s]+$/, 'must be a URL such as nats://nats-1.example.com:4222')).min(1, 'list at least one NATS server (all of the cluster, ideally)'),
    /** Every HQ process with this name shares the stream: each message goes to one of them. */
    durable: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'durable must be 1-64 characters of A-Z, a-z, 0-9, _ and -').default('omniloop-hq'),
    /** Messages per transaction (group commit); each is acknowledged only after its transaction commits. */
    batch: z.number().int().min(1).max(5000).default(256),
    /** Unacknowledged for this long (a consumer died mid-transaction), a message goes to another consumer. */
    ackWaitSeconds: z.number().int().min(5).max(3600).default(60),
    /** Messages out at once across all HQ processes: at least 2 × batch per process. */
    maxAckPending: z.number().int().min(1).max(1_000_000).default(10_000),
    /** Replicas of the stream when HQ creates it (the MQTT listener's default too: the cluster size, at most 3). */
    replicas: z.number().int().min(1).max(5).default(3),
    username: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    caFile: z.string().min(1).optional(),
  })
  .strict();

export type JetStreamSettings = z.infer<typeof jetstreamSchema>;

export const cloudConfigSchema = z
  .object({
    broker: brokerSchema,
    stream: z.discriminatedUnion('kind', [z.object({ kind: z.literal('mqtt') }).strict(), jetstreamSchema]).default({ kind: 'mqtt' }),
    /**
     * Subscribe as a member of a shared subscription ($share/<group>/...), so consumers of a group split
     * the stream; off for a broker without shared subscriptions (aedes, the demo's): one consumer.
     */
    sharedSubscription: z.boolean().default(true),
    /** Consumers with the same group split the stream between them. */
    group: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'group must be 1-64 characters of a-z, 0-9, _ and -').default('omniloop-cloud'),
    /**
     * How long the broker keeps a consumer's session and queue while HQ is away (MQTT 5 session expiry).
     * An hour lost everything queued during a longer outage; a week by default, up to 90 days.
     */
    sessionExpiryHours: z.number().int().min(1).max(2160).default(168),
    database: z
      .union([
        z.object({ sqlite: z.string().min(1) }).strict(),
        z
          .object({
            postgres: z
              .object({
                url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a URL such as postgres://user@host:5432/db'),
                schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a plain lowercase SQL name').default('omniloop'),
              })
              .strict(),
          })
          .strict(),
      ])
      .default({ sqlite: 'cloud.db' }),
    identity: z
      .object({
        /** Identifiers that never join a profile: `hem:<sha256>`, `hph:<sha256>`, `loy:<key>`. */
        blocked: z.array(z.string().regex(/^(hem|hph|loy):[0-9a-f]{64}$/, 'a blocked value is hem:, hph: or loy: followed by 64 hex characters')).default([]),
        maxPersonsPerDevice: z.number().int().min(1).default(3),
        maxComponentSize: z.number().int().min(2).default(200),
      })
      .strict()
      .default({ blocked: [], maxPersonsPerDevice: 3, maxComponentSize: 200 }),
    /** In-store activation: the segments of the devices present in each store, pushed to its agents. */
    activation: z
      .object({
        /** How often; 0 turns the push off (for example on all but one of several consumers). */
        intervalSeconds: z.number().int().min(0).max(3600).default(15),
        /** A device heard within this many minutes is present. */
        presenceMinutes: z.number().int().min(1).max(120).default(5),
        /** New links reach the pushed segments within this time: the graph is rebuilt at most this often. */
        graphRefreshSeconds: z.number().int().min(0).max(3600).default(60),
      })
      .strict()
      .default({ intervalSeconds: 15, presenceMinutes: 5, graphRefreshSeconds: 60 }),
    /** Per-tenant keys HQ may hold (derived with `omniloop key derive`; never the tenant secret). */
    tenants: z
      .record(
        z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a tenant name is 1-64 characters of a-z, 0-9, _ and -'),
        z
          .object({
            linkKeyFile: z.string().min(1).optional(),
            optoutKeyFile: z.string().min(1).optional(),
            /** The tenant's control signing key (`omniloop key control`): agents apply only what it signed. */
            controlKeyFile: z.string().min(1).optional(),
          })
          .strict(),
      )
      .default({}),
    api: z
      .object({
        port: z.number().int().min(0).max(65535).default(8788), // 0: any free port
        host: z.string().min(1).default('127.0.0.1'),
        tokenFile: z.string().min(1),
        k: z.number().int().min(1).default(5),
        /**
         * A day still changing (today) is served from a rollup up to this old; 0: computed again on every
         * read after a change, always exact. A chain's dashboards: 15-60 (README, "Reports from rollups").
         */
        reportsMaxStaleSeconds: z.number().int().min(0).max(3600).default(0),
        /** How often the API's process brings changed days' rollups up to date in the background (0: never). */
        reportsRefreshSeconds: z.number().int().min(0).max(3600).default(10),
      })
      .strict()
      .optional(),
    /** Segment rules (cloud/segments/rules.ts); without the key, DEFAULT_SEGMENTS. */
    segments: segmentsSchema,
  })
  .strict();

export type CloudConfig = z.infer<typeof cloudConfigSchema>;

export function loadCloudConfig(path: string): CloudConfig {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? `config file ${path} does not exist` : `config file ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = cloudConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new InputError(`config file ${path}: ${formatIssues(parsed.error)}`);
  const cfg = parsed.data;
  const base = dirname(resolve(path));
  if ('sqlite' in cfg.database) cfg.database.sqlite = resolve(base, cfg.database.sqlite);
  resolveBrokerFiles(cfg.broker, base);
  if (cfg.stream.kind === 'jetstream') for (const k of ['passwordFile', 'caFile'] as const) if (cfg.stream[k]) cfg.stream[k] = resolve(base, cfg.stream[k]!);
  if (cfg.api) cfg.api.tokenFile = resolve(base, cfg.api.tokenFile);
  for (const t of Object.values(cfg.tenants)) {
    if (t.linkKeyFile) t.linkKeyFile = resolve(base, t.linkKeyFile);
    if (t.optoutKeyFile) t.optoutKeyFile = resolve(base, t.optoutKeyFile);
    if (t.controlKeyFile) t.controlKeyFile = resolve(base, t.controlKeyFile);
  }
  return cfg;
}

/** The identity graph's rules from the config. */
export function graphRules(cfg: CloudConfig): GraphRules {
  return { blocked: new Set(cfg.identity.blocked), maxPersonsPerDevice: cfg.identity.maxPersonsPerDevice, maxComponentSize: cfg.identity.maxComponentSize };
}

/** A tenant's derived key from the config, or a clear error saying how to get one. */
export function tenantKey(cfg: CloudConfig, tenant: string, purpose: 'link' | 'optout'): Uint8Array {
  const file = cfg.tenants[tenant]?.[purpose === 'link' ? 'linkKeyFile' : 'optoutKeyFile'];
  if (!file) throw new InputError(`the cloud config has no ${purpose} key for tenant ${tenant}: make one with \`omniloop key derive --purpose ${purpose} --tenant ${tenant} --key <tenant secret> --out ${tenant}-${purpose}.key\` and set tenants.${tenant}.${purpose}KeyFile`);
  return loadKeyFile(file, `omniloop key derive --purpose ${purpose}`);
}
