/**
 * `omniloop cloud optout add|remove|list`: HQ's opt-out list. Tokens only — an address is turned into
 * its token right here with the tenant's opt-out key (never the secret) and forgotten. Every change is
 * published at once, retained, to every agent of the tenant.
 */
import type { ControlSigner } from '../../shared/wire/control-signing.js';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError } from '../../shared/errors.js';
import { printJson, printLine } from '../../shared/cli/output.js';
import { optoutTokenOfMac, parseOptoutList } from '../../shared/identity/optout.js';
import { loadCloudConfig, tenantKey, type CloudConfig } from '../config/cloud-config.js';
import { openCloudStore } from '../store/open-store.js';
import type { CloudStore } from '../store/cloud-store.js';

interface TokenFlags {
  config: string;
  tenant: string;
  token?: string[];
  mac?: string[];
  file?: string;
  json?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerOptoutCommands(cloud: Command): void {
  const optout = cloud.command('optout').description("the tenant's opt-out list, published to every agent (tokens, never addresses)");
  const tokenCommand = (name: string, description: string) =>
    optout
      .command(name)
      .description(description)
      .requiredOption('-c, --config <file>', 'cloud config (YAML)')
      .requiredOption('-t, --tenant <name>', 'tenant')
      .option('--token <hex>', 'an opt-out token (repeatable)', collect)
      .option('--mac <address>', "a device's address, turned into its token here with the tenant's opt-out key (repeatable)", collect)
      .option('--file <path>', 'a list of tokens, one per line (as `omniloop optout add --list` writes)')
      .option('--json', 'machine-readable output');
  tokenCommand('add', 'add devices to the opt-out list and publish it').action(async (flags: TokenFlags) => change(flags, 'add'));
  tokenCommand('remove', 'take devices off the opt-out list (they opted in again) and publish it').action(async (flags: TokenFlags) => change(flags, 'remove'));
  optout
    .command('list')
    .description('the tokens on the list')
    .requiredOption('-c, --config <file>', 'cloud config (YAML)')
    .requiredOption('-t, --tenant <name>', 'tenant')
    .option('--json', 'machine-readable output')
    .action(async (flags: { config: string; tenant: string; json?: boolean }) => {
      const store = await openCloudStore(loadCloudConfig(flags.config));
      const tokens = await store.optouts(flags.tenant).finally(() => store.close());
      if (flags.json) return printJson({ tenant: flags.tenant, tokens });
      for (const t of tokens) printLine(t);
    });
  optout
    .command('publish')
    .description('publish the list again (retained), e.g. after restoring a database')
    .requiredOption('-c, --config <file>', 'cloud config (YAML)')
    .requiredOption('-t, --tenant <name>', 'tenant')
    .action(async (flags: { config: string; tenant: string }) => {
      const cfg = loadCloudConfig(flags.config);
      const signer = await signerFor(cfg, flags.tenant);
      const store = await openCloudStore(cfg);
      const n = await publish(cfg, store, flags.tenant, signer).finally(() => store.close());
      printLine(`published the opt-out list of ${flags.tenant}: ${n} tokens`);
    });
}

async function change(flags: TokenFlags, how: 'add' | 'remove'): Promise<void> {
  const cfg = loadCloudConfig(flags.config);
  const tokens = tokensOf(flags, cfg);
  // Before anything changes: a list HQ cannot sign would be stored but never reach an agent.
  const signer = await signerFor(cfg, flags.tenant);
  const store = await openCloudStore(cfg);
  try {
    const changed = how === 'add' ? await store.addOptouts(flags.tenant, tokens, Date.now()) : await store.removeOptouts(flags.tenant, tokens);
    const total = await publish(cfg, store, flags.tenant, signer);
    if (flags.json) return printJson({ tenant: flags.tenant, [how === 'add' ? 'added' : 'removed']: changed, total, published: true });
    printLine(`${how === 'add' ? 'added' : 'removed'} ${changed} of ${tokens.length} tokens; the list (${total}) is published to every agent of ${flags.tenant}`);
  } finally {
    await store.close();
  }
}

async function signerFor(cfg: CloudConfig, tenant: string): Promise<ControlSigner> {
  const { ControlSigners } = await import('../control/signers.js');
  return new ControlSigners(cfg.tenants).forTenant(tenant);
}

async function publish(cfg: CloudConfig, store: CloudStore, tenant: string, signer: ControlSigner): Promise<number> {
  const [{ connectBroker }, { optoutMessage, publishOptoutList }] = await Promise.all([import('../control/broker.js'), import('../control/optout.js')]);
  const list = await optoutMessage(store, tenant, Date.now());
  const client = await connectBroker(cfg, 'optout');
  try {
    await publishOptoutList(client, list, signer);
  } finally {
    await client.endAsync();
  }
  return list.tokens.length;
}

function tokensOf(flags: TokenFlags, cfg: CloudConfig): string[] {
  const tokens = new Set<string>();
  for (const t of flags.token ?? []) for (const x of parseOptoutList(t, '--token')) tokens.add(x);
  if (flags.file) {
    let text: string;
    try {
      text = readFileSync(flags.file, 'utf8');
    } catch (err) {
      throw new InputError(`cannot read ${flags.file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    for (const x of parseOptoutList(text, flags.file)) tokens.add(x);
  }
  if (flags.mac?.length) {
    const key = tenantKey(cfg, flags.tenant, 'optout');
    for (const m of flags.mac) tokens.add(optoutTokenOfMac(key, m));
  }
  if (tokens.size === 0) throw new InputError('name the devices: --token, --mac or --file');
  return [...tokens];
}
