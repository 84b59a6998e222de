/**
 * The identity settings every pseudonymizing command needs (key, tenant, time zone, rollover, opt-out
 * list), from flags or from the agent config file; flags win.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError } from '../../shared/errors.js';
import { parseOptoutList } from '../../shared/identity/optout.js';
import { generateSecret, loadSecretFile, validateTenant } from '../../shared/identity/secret.js';
import { isValidTimeZone } from '../../shared/identity/store-day.js';
import type { AgentConfig } from '../config/agent-config.js';
import { Pseudonymizer } from '../pseudonymize/pseudonymizer.js';

export interface IdentityFlags {
  config?: string;
  key?: string;
  tenant?: string;
  timezone?: string;
  rollover?: string;
  optout?: string;
}

export interface ResolvedIdentity {
  secret: Uint8Array;
  tenant: string;
  timezone: string;
  rolloverHours: number;
  optoutTokens: Set<string>;
  /** True when no key was given and a throwaway one is in use: the ids match nothing. */
  throwawayKey: boolean;
  config: AgentConfig | null;
  warnings: string[];
}

export function addIdentityOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'agent config file (YAML) with tenant, timezone, keyFile, optoutFile')
    .option('-k, --key <file>', 'tenant secret file (from `omniloop key init`)')
    .option('-t, --tenant <name>', 'tenant name')
    .option('-z, --timezone <zone>', "the store's IANA time zone, e.g. Europe/Berlin (default: this machine's)")
    .option('--rollover <hours>', 'hour of the night when the store-day changes (0-23)')
    .option('--optout <file>', 'opt-out list: one token per line');
}

/**
 * `allowThrowaway`: commands that only inspect (decode) may run without a key, on a random one, so a
 * technician can look at a capture anywhere; ids then match nothing and a notice says so.
 */
export async function resolveIdentity(flags: IdentityFlags, allowThrowaway: boolean): Promise<ResolvedIdentity> {
  // The config module (and its schema library) loads only when a config is read: `decode` and `whoami`
  // with flags start as fast as node itself.
  const config = flags.config ? (await import('../config/agent-config.js')).loadAgentConfig(flags.config) : null;
  const warnings: string[] = [];
  const tenant = flags.tenant ?? config?.tenant;
  const keyPath = flags.key ?? config?.keyFile;
  let secret: Uint8Array;
  let throwawayKey = false;
  if (keyPath) {
    // Refused (exit 2) unless the file is its owner's alone (0600): never only a warning.
    secret = loadSecretFile(keyPath);
  } else if (allowThrowaway) {
    secret = generateSecret();
    throwawayKey = true;
    warnings.push('no --key or --config given: Consumer-IDs come from a throwaway key and match nothing else (store-days in UTC unless --timezone)');
  } else {
    throw new InputError('no tenant secret: pass --key FILE (made by `omniloop key init`) or --config agent.yaml');
  }
  const resolvedTenant = tenant ?? (throwawayKey ? 'local' : undefined);
  if (!resolvedTenant) throw new InputError('no tenant: pass --tenant NAME or --config agent.yaml');
  validateTenant(resolvedTenant);

  // A throwaway key's ids match nothing anywhere, so their store-days need not be this machine's.
  const timezone = flags.timezone ?? config?.timezone ?? (throwawayKey ? 'UTC' : (Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC'));
  if (!isValidTimeZone(timezone)) throw new InputError(`--timezone ${JSON.stringify(timezone)} is not an IANA time zone (for example Europe/Berlin)`);
  const rolloverHours = flags.rollover !== undefined ? parseRollover(flags.rollover) : (config?.rolloverHours ?? 0);

  const optoutPath = flags.optout ?? config?.optoutFile;
  let optoutTokens = new Set<string>();
  if (optoutPath) {
    let text: string;
    try {
      text = readFileSync(optoutPath, 'utf8');
    } catch (err) {
      throw new InputError(`cannot read opt-out list ${optoutPath} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    optoutTokens = parseOptoutList(text, optoutPath);
  }
  return { secret, tenant: resolvedTenant, timezone, rolloverHours, optoutTokens, throwawayKey, config, warnings };
}

export function pseudonymizerFor(id: ResolvedIdentity): Pseudonymizer {
  return new Pseudonymizer({
    secret: id.secret,
    tenant: id.tenant,
    timezone: id.timezone,
    rolloverHours: id.rolloverHours,
    optoutTokens: id.optoutTokens,
  });
}

function parseRollover(text: string): number {
  const n = Number(text);
  if (!/^\d{1,2}$/.test(text.trim()) || n < 0 || n > 23) throw new InputError(`--rollover must be a whole hour from 0 to 23, not ${JSON.stringify(text)}`);
  return n;
}
