/** `omniloop key init`: a new tenant secret, held by every agent of the tenant and never by the cloud. */
import type { Command } from 'commander';
import { generateSecret, loadSecretFile, validateTenant, writeSecretFile } from '../../shared/identity/secret.js';
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
      writeSecretFile(flags.out, derive(loadSecretFile(flags.key), flags.tenant));
      if (flags.json) return printJson({ keyFile: flags.out, tenant: flags.tenant, purpose: flags.purpose, mode: '0600' });
      printLine(`wrote ${flags.out} (mode 0600): the ${flags.purpose} key of tenant ${flags.tenant}`);
      printLine(flags.purpose === 'link' ? 'Give it to HQ (tenants.<tenant>.linkKeyFile in cloud.yaml) to find and erase people by loyalty id.' : 'Give it to whoever takes opt-out requests (`omniloop optout add --mac`): it makes opt-out tokens, nothing else.');
    });
  key
    .command('control')
    .description("write HQ's control signing key for a tenant (Ed25519, PEM, mode 0600) and print the public key its agents trust (control.publicKeys)")
    .requiredOption('-t, --tenant <name>', 'tenant name')
    .requiredOption('-o, --out <file>', 'where to write the private key (never overwritten)')
    .option('--json', 'machine-readable output')
    .action(async (flags: { tenant: string; out: string; json?: boolean }) => {
      validateTenant(flags.tenant);
      const { writeControlKeyFile, controlKeyId, generateControlKeyPair, parseControlPublicKey } = await controlKeys();
      const pair = generateControlKeyPair();
      writeControlKeyFile(flags.out, pair.privatePem);
      const keyId = controlKeyId(parseControlPublicKey(pair.publicKey));
      if (flags.json) return printJson({ keyFile: flags.out, tenant: flags.tenant, mode: '0600', publicKey: pair.publicKey, keyId });
      printLine(`wrote ${flags.out} (mode 0600): the control signing key of tenant ${flags.tenant} (key id ${keyId})`);
      printLine(`HQ: set tenants.${flags.tenant}.controlKeyFile in cloud.yaml. Agents: put its public key in agent.yaml:`);
      printLine(`  control:\n    publicKeys: ["${pair.publicKey}"]`);
    });
  key
    .command('public')
    .description('print the public key of a control signing key, for the agents of its tenant (control.publicKeys)')
    .requiredOption('-k, --key <file>', 'the control key file (`omniloop key control`)')
    .option('--json', 'machine-readable output')
    .action(async (flags: { key: string; json?: boolean }) => {
      const { readControlKeyFile, controlKeyId, publicKeyText } = await controlKeys();
      const priv = readControlKeyFile(flags.key);
      const publicKey = publicKeyText(priv);
      if (flags.json) return printJson({ publicKey, keyId: controlKeyId(priv) });
      printLine(publicKey);
    });
}

/** The control key's modules (node:crypto's Ed25519, the envelope schema), loaded only by the commands that use them. */
async function controlKeys() {
  const [file, signing] = await Promise.all([import('../../shared/identity/control-key-file.js'), import('../../shared/wire/control-signing.js')]);
  return { ...file, ...signing };
}

/** What HQ may hold instead of the secret: one-way derivations that cannot make a day key. */
const DERIVED: Record<string, (secret: Uint8Array, tenant: string) => Uint8Array> = { link: deriveLinkKey, optout: deriveOptoutKey };
