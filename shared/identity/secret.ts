/**
 * The tenant secret file: 32 random bytes as one line of base64, mode 0600. Every agent of a tenant
 * holds it; the cloud never does.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { InputError } from '../errors.js';
import { checkPrivateFile } from '../private-file.js';

export const SECRET_BYTES = 32;

export function generateSecret(): Uint8Array {
  return new Uint8Array(randomBytes(SECRET_BYTES));
}

export function writeSecretFile(path: string, secret: Uint8Array): void {
  try {
    // 'wx': fail if it exists, so an existing tenant key (and every ID made with it) is never lost.
    writeFileSync(path, Buffer.from(secret).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new InputError(`${path} exists; refusing to overwrite a tenant key`);
    if (code === 'ENOENT') throw new InputError(`cannot write ${path}: its folder does not exist`);
    throw new InputError(`cannot write ${path} (${code ?? (err as Error).message})`);
  }
}

/** Inspection (the doctor judges the mode itself): a loose mode is only a warning. Commands use loadSecretFile. */
export function readSecretFile(path: string): { secret: Uint8Array; warnings: string[] } {
  return readKeyFile(path, 'omniloop key init');
}

/** The tenant secret for use: refused (exit 2) unless the file is its owner's alone (0600). */
export function loadSecretFile(path: string): Uint8Array {
  return loadKeyFile(path, 'omniloop key init');
}

/** Any key file of ours for use, refused like the tenant secret when others or the group can open it. */
export function loadKeyFile(path: string, maker: string): Uint8Array {
  checkPrivateFile(path, { what: 'key file', groupMayRead: false, missingHint: `make one with \`${maker}\`` });
  return readKeyFile(path, maker).secret;
}

/**
 * Any 32-byte key file of ours (the tenant secret, or a per-tenant key derived from it for HQ):
 * one line of base64. `maker` is the command that writes it, for the error messages.
 */
export function readKeyFile(path: string, maker: string): { secret: Uint8Array; warnings: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`key file ${path} does not exist (make one with \`${maker}\`)`);
    throw new InputError(`cannot read key file ${path} (${code ?? (err as Error).message})`);
  }
  const line = text.trim();
  const secret = /^[A-Za-z0-9+/]+={0,2}$/.test(line) ? Buffer.from(line, 'base64') : Buffer.alloc(0);
  if (secret.length !== SECRET_BYTES) throw new InputError(`key file ${path} does not hold ${SECRET_BYTES} bytes of base64 (one line, as \`${maker}\` writes it)`);
  const warnings: string[] = [];
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) warnings.push(`key file ${path} is readable by others (mode 0${mode.toString(8)}): chmod 600 ${path}`);
  return { secret: new Uint8Array(secret), warnings };
}

const TENANT = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Tenant names become part of MQTT topics and key derivations: a strict alphabet. */
export function validateTenant(tenant: string): string {
  if (!TENANT.test(tenant)) throw new InputError(`tenant ${JSON.stringify(tenant)} must be 1-64 characters of a-z, 0-9, _ and -, starting with a letter or digit`);
  return tenant;
}
