/** `omniloop key init`: a new tenant secret, held by every agent of the tenant and never by the cloud. */
import type { Command } from 'commander';
import { generateSecret, validateTenant, writeSecretFile } from '../identity/secret.js';
import { printJson, printLine } from './output.js';

export function registerKeyCommands(program: Command): void {
  const key = program.command('key').description("manage the tenant secret that Consumer-IDs are derived from");
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
}
