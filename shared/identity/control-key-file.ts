/**
 * HQ's control signing key on disk: an Ed25519 private key in PEM (PKCS#8), mode 0600, one per tenant.
 * Whoever holds it can switch any agent's opt-out list, so a file others can read is refused, not warned
 * about.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { InputError } from '../errors.js';
import { parseControlPrivateKey } from '../wire/control-signing.js';

export function writeControlKeyFile(path: string, pem: string): void {
  try {
    writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new InputError(`${path} exists; refusing to overwrite a control key (agents trust its public key)`);
    if (code === 'ENOENT') throw new InputError(`cannot write ${path}: its folder does not exist`);
    throw new InputError(`cannot write ${path} (${code ?? (err as Error).message})`);
  }
}

export function readControlKeyFile(path: string): KeyObject {
  let text: string;
  let mode: number;
  try {
    text = readFileSync(path, 'utf8');
    mode = statSync(path).mode & 0o777;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`control key file ${path} does not exist (make one with \`omniloop key control\`)`);
    throw new InputError(`cannot read control key file ${path} (${code ?? (err as Error).message})`);
  }
  if (mode & 0o077) throw new InputError(`control key file ${path} is readable by others (mode 0${mode.toString(8)}): chmod 600 ${path}`);
  try {
    return parseControlPrivateKey(text);
  } catch (err) {
    throw new InputError(`control key file ${path}: ${(err as Error).message}`);
  }
}
