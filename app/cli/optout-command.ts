/**
 * `omniloop optout add --mac M`: the opt-out token of a device, made with the tenant's opt-out key only
 * (`omniloop key derive --purpose optout`) — whoever takes opt-out requests needs nothing that could
 * make a Consumer-ID. Printed, or appended to a list file for `omniloop cloud optout add --file`.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError } from '../../shared/errors.js';
import { optoutTokenOfMac, parseOptoutList } from '../../shared/identity/optout.js';
import { loadKeyFile, validateTenant } from '../../shared/identity/secret.js';
import { printJson, printLine } from '../../shared/cli/output.js';

export function configureOptout(optout: Command): void {
  optout
    .command('add')
    .description("a device's opt-out token (printed, or appended to a list); the address itself is never written")
    .requiredOption('--mac <address>', "the device's WiFi or Bluetooth address")
    .requiredOption('-k, --key <file>', "the tenant's opt-out key (omniloop key derive --purpose optout)")
    .requiredOption('-t, --tenant <name>', 'tenant')
    .option('--list <file>', 'append the token to this list file (one token per line) unless it is there')
    .option('--json', 'machine-readable output')
    .action((flags: { mac: string; key: string; tenant: string; list?: string; json?: boolean }) => {
      validateTenant(flags.tenant);
      const key = loadKeyFile(flags.key, 'omniloop key derive --purpose optout');
      const token = optoutTokenOfMac(key, flags.mac);
      let added = false;
      if (flags.list) {
        let known = new Set<string>();
        try {
          known = parseOptoutList(readFileSync(flags.list, 'utf8'), flags.list);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err instanceof InputError ? err : new InputError(`cannot read ${flags.list} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
        }
        if (!known.has(token)) {
          appendFileSync(flags.list, token + '\n', { mode: 0o644 });
          added = true;
        }
      }
      if (flags.json) return printJson({ token, ...(flags.list ? { list: flags.list, added } : {}) });
      printLine(token);
    });
}
