/** `omniloop key init`: a new tenant secret, held by every agent of the tenant and never by the cloud. */
import type { Command } from 'commander';
import { generateSecret, readSecretFile, validateTenant, writeSecretFile } from '../../shared/identity/secret.js';
import { deriveLinkKey, deriveOptoutKey } from '../../shared/identity/keys.js';
import { InputError } from '../../shared/errors.js';
import { printJson, printLine } from '../../shared/cli/output.js';

export function configureKey(key: Command): void {
  key
    .command('init')
    .description('write a new random tenant secret (32 bytes, base64, mode 0600); refuses to overwrite')
    .requiredOption('-t, --tenant <name>', 'tenant name (a-z, 0-9, _ and -)')
    .requiredOption('-o, --out <file>', 'where to write the key file')
    .option('--json', 'machine-readable output')
    .action((flags: { tenant: string; out: string; json?: boolean }) => {
      validateTenant(flags.tenant);
      writeSecretFile(flags.out, generateSecret());
      if (flags.json) {
        printJson({ keyFile: flags.out, tenant: flags.tenant, mode: '0600' });
        return;
      }
      printLine(`wrote ${flags.out} (mode 0600) for tenant ${flags.tenant}`);
      printLine('Copy it to every agent of this tenant (keyFile in agent.yaml). Never give it to the cloud: without it nobody can link a Consumer-ID to a device.');
    });
  key
    .command('derive')
    .description("derive a per-tenant key for HQ from the tenant secret: link (loyalty ids) or optout (opt-out tokens); it cannot make Consumer-IDs")
    .requiredOption('-k, --key <file>', 'the tenant secret (key file)')
    .requiredOption('-t, --tenant <name>', 'tenant name')
    .requiredOption('-p, --purpose <purpose>', 'link | optout')
    .requiredOption('-o, --out <file>', 'where to write the derived key (mode 0600, never overwritten)')
    .option('--json', 'machine-readable output')
    .action((flags: { key: string; tenant: string; purpose: string; out: string; json?: boolean }) => {
      validateTenant(flags.tenant);
      const derive = DERIVED[flags.purpose];
      if (!derive) throw new InputError(`--purpose is link or optout, not ${JSON.stringify(flags.purpose)}`);
      writeSecretFile(flags.out, derive(readSecretFile(flags.key).secret, flags.tenant));
      if (flags.json) return printJson({ keyFile: flags.out, tenant: flags.tenant, purpose: flags.purpose, mode: '0600' });
      printLine(`wrote ${flags.out} (mode 0600): the ${flags.purpose} key of tenant ${flags.tenant}`);
      printLine(flags.purpose === 'link' ? 'Give it to HQ (tenants.<tenant>.linkKeyFile in cloud.yaml) to find and erase people by loyalty id.' : 'Give it to whoever takes opt-out requests (`omniloop optout add --mac`): it makes opt-out tokens, nothing else.');
    });
}

/** What HQ may hold instead of the secret: one-way derivations that cannot make a day key. */
const DERIVED: Record<string, (secret: Uint8Array, tenant: string) => Uint8Array> = { link: deriveLinkKey, optout: deriveOptoutKey };
