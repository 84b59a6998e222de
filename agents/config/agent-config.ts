/**
 * The agent's config file (YAML). One file per agent, written by store IT; every mistake is reported
 * with its path in the file and what is expected, before anything starts.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { InputError } from '../../shared/errors.js';
import { isValidTimeZone } from '../../shared/identity/store-day.js';
import { brokerSchema, resolveBrokerFiles } from '../../shared/broker/broker-config.js';
import { formatIssues } from '../../shared/config/format-issues.js';
import { MAX_BATCH_BYTES } from '../../shared/wire/batch.js';

const idPattern = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const id = (what: string) => z.string().regex(idPattern, `${what} must be 1-64 characters of a-z, 0-9, _ and -, starting with a letter or digit (it becomes part of MQTT topics)`);

const channelList = z.array(z.number().int().positive()).min(1, 'list at least one channel');

export const agentConfigSchema = z
  .object({
    tenant: id('tenant'),
    store: id('store').default('store'),
    agent: id('agent').default('agent'),
    timezone: z.string().refine(isValidTimeZone, 'not an IANA time zone (for example Europe/Berlin)').default('UTC'),
    rolloverHours: z.number().int().min(0).max(23).default(0),
    keyFile: z.string().min(1),
    optoutFile: z.string().min(1).optional(),
    /** Where HQ's opt-out list is cached between restarts (default: beside the outbox). */
    optoutCacheFile: z.string().min(1).optional(),
    /**
     * HQ's downlink is signed (shared/wire/control-signing.ts): the tenant's control public keys, as
     * `omniloop key control` prints them (two while HQ rotates). Without them no opt-out list or segments
     * push from the broker is applied.
     */
    control: z
      .object({
        publicKeys: z.array(z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'a control public key is 44 characters of base64, as `omniloop key control` prints it')).min(1).max(4),
        /** A message dated further ahead than this is refused (a far-future version would lock out HQ's next lists). */
        maxFutureMinutes: z.number().int().min(1).max(10_080).default(60),
      })
      .strict()
      .optional(),
    capture: z
      .object({
        wifi: z
          .object({
            /** The monitor-mode interface (mon0); optional on an access point that reports its stations instead. */
            interface: z.string().min(1).optional(),
            channels: channelList.default([1, 6, 11]),
            dwellMs: z.number().int().min(50).max(60_000).default(250),
            /**
             * The radio to (re)create `interface` on, in monitor mode, before every start of the service
             * (scripts/monitor-interface.sh): one of its WiFi interfaces (wlan1) or its phy (phy0).
             */
            radio: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}$/, 'a WiFi interface such as wlan1 or a radio such as phy0 (see `iw dev`)').optional(),
            /**
             * The store's own networks (the guest WiFi): a randomized address seen connected to one of their
             * access points is `associated` and gets a Consumer-ID (see agents/pipeline/store-networks.ts).
             * BSSIDs are learnt from the access points' beacons, or listed.
             */
            networks: z
              .array(
                z
                  .object({
                    ssid: z.string().min(1).refine((v) => Buffer.byteLength(v) <= 32, 'an SSID is at most 32 bytes'),
                    bssids: z.array(z.string().regex(/^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/, 'an access point address such as 0c:8d:db:00:00:01')).max(256).optional(),
                  })
                  .strict(),
              )
              .min(1)
              .max(16)
              .optional(),
            /** An address stays associated this many hours after its last frame to a store AP (default 4). */
            associatedHoldHours: z.number().min(0.1).max(72).default(4),
            /**
             * Once per store-day, link each associated address's Consumer-ID to its network token (keyed
             * with the tenant's link key, the same in every store and on every day), so HQ sees a connected
             * phone's visits across days and stores as one profile (default true). A guest network's
             * terms are the customer's consent to being recognized there; set false where they are not.
             */
            linkConnected: z.boolean().default(true),
            /**
             * On the access point itself (OpenWrt, or Debian with hostapd): its connected stations, from
             * `iw dev <interface> station dump` every pollSeconds and hostapd's connect events — no monitor
             * interface needed. Every station of the store's own AP is connected to the store's network.
             */
            stations: z
              .object({
                interface: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}$/, "the AP's WiFi interface, such as wlan0 (see `iw dev`)"),
                pollSeconds: z.number().int().min(2).max(300).default(10),
                hostapd: z.boolean().default(true),
              })
              .strict()
              .optional(),
          })
          .strict()
          // networks alone: an agent that replays captures (or the demo's) watches them in the files.
          .refine((w) => w.interface !== undefined || w.stations !== undefined || w.networks !== undefined, { message: 'give interface (a monitor-mode interface such as mon0) or stations (the access point\'s own interface)', path: ['interface'] })
          .optional(),
        ble: z.object({ interface: z.string().min(1) }).strict().optional(),
      })
      .strict()
      .default({}),
    broker: brokerSchema.optional(),
    windows: z
      .object({
        seconds: z.number().int().min(5).max(3600).default(60),
        lateSeconds: z.number().int().min(0).max(600).default(5),
      })
      .strict()
      .default({ seconds: 60, lateSeconds: 5 }),
    outbox: z
      .object({
        path: z.string().min(1).default('outbox.db'),
        maxRows: z.number().int().min(10).default(100_000),
        maxMegabytes: z.number().min(1).default(256),
        maxAgeHours: z.number().min(1).default(168),
        batchSize: z.number().int().min(1).max(10_000).default(500),
        /** A published batch, envelope included, stays at or below this: HQ's limit less a margin, or a broker's lower one. */
        maxBatchBytes: z.number().int().min(16 * 1024).max(MAX_BATCH_BYTES).default(MAX_BATCH_BYTES),
      })
      .strict()
      .default({ path: 'outbox.db', maxRows: 100_000, maxMegabytes: 256, maxAgeHours: 168, batchSize: 500, maxBatchBytes: MAX_BATCH_BYTES }),
    status: z
      .object({ port: z.number().int().min(0).max(65535).default(8787) })
      .strict()
      .default({ port: 8787 }),
    /**
     * The endpoint store systems talk to (off unless configured): identify events from the till or
     * the captive portal, and the audience mix now for digital signage. Behind a bearer token.
     */
    storeApi: z
      .object({
        port: z.number().int().min(1).max(65535).default(8790),
        /** 127.0.0.1 by default; 0.0.0.0 when the till or the signage player is another machine. */
        host: z.string().min(1).default('127.0.0.1'),
        tokenFile: z.string().min(1),
        /** For phone numbers written without one. */
        defaultCountryCode: z.string().regex(/^[1-9][0-9]{0,2}$/, 'a country calling code, 1-3 digits').default('49'),
        /** A device is present while heard within this many seconds. */
        presenceSeconds: z.number().int().min(10).max(3600).default(120),
        k: z.number().int().min(1).default(5),
        /** Zones by signal strength: a device is in a zone while its signal is at least minRssi. */
        zones: z
          .array(z.object({ name: id('zone'), minRssi: z.number().min(-127).max(0) }).strict())
          .min(1)
          .default([{ name: 'store', minRssi: -127 }]),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((c) => c.agent !== 'control', { message: '"control" is reserved for HQ\'s control topics', path: ['agent'] });

/** Environment variables that override the file, for containers and systemd drop-ins. */
const ENV_OVERRIDES: [string, string[], 'string' | 'number'][] = [
  ['OMNILOOP_TENANT', ['tenant'], 'string'],
  ['OMNILOOP_STORE', ['store'], 'string'],
  ['OMNILOOP_AGENT', ['agent'], 'string'],
  ['OMNILOOP_TIMEZONE', ['timezone'], 'string'],
  ['OMNILOOP_KEY_FILE', ['keyFile'], 'string'],
  ['OMNILOOP_BROKER_URL', ['broker', 'url'], 'string'],
  ['OMNILOOP_BROKER_USERNAME', ['broker', 'username'], 'string'],
  ['OMNILOOP_BROKER_PASSWORD', ['broker', 'password'], 'string'],
  ['OMNILOOP_OUTBOX_PATH', ['outbox', 'path'], 'string'],
  ['OMNILOOP_WINDOW_SECONDS', ['windows', 'seconds'], 'number'],
  ['OMNILOOP_STATUS_PORT', ['status', 'port'], 'number'],
];

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [name, path, type] of ENV_OVERRIDES) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    let node = raw;
    for (const k of path.slice(0, -1)) {
      if (typeof node[k] !== 'object' || node[k] === null) node[k] = {};
      node = node[k] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = type === 'number' ? Number(v) : v;
  }
}

export type AgentConfig = z.infer<typeof agentConfigSchema>;

/** Reads and validates a config file; relative paths inside it are relative to the file. */
export function loadAgentConfig(path: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? `config file ${path} does not exist` : `cannot read config file ${path} (${code ?? 'error'})`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new InputError(`config file ${path} is not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError(`config file ${path} must be a YAML mapping (key: value lines)`);
  applyEnv(raw as Record<string, unknown>, env);
  const parsed = agentConfigSchema.safeParse(raw);
  if (!parsed.success) throw new InputError(`config file ${path}: ${formatIssues(parsed.error)}`);
  const cfg = parsed.data;
  const base = dirname(resolve(path));
  cfg.keyFile = resolve(base, cfg.keyFile);
  if (cfg.optoutFile) cfg.optoutFile = resolve(base, cfg.optoutFile);
  cfg.outbox.path = resolve(base, cfg.outbox.path);
  cfg.optoutCacheFile = resolve(base, cfg.optoutCacheFile ?? join(dirname(cfg.outbox.path), 'optout-cache.json'));
  if (cfg.storeApi) cfg.storeApi.tokenFile = resolve(base, cfg.storeApi.tokenFile);
  if (cfg.broker) {
    resolveBrokerFiles(cfg.broker, base);
  }
  return cfg;
}
