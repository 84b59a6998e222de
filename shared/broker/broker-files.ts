/**
 * The files a `broker:` block names (agent and cloud configs share its schema): the password file and
 * the TLS material, read with an error that says which setting and which file, never the content.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';

export type BrokerFileSetting = 'passwordFile' | 'caFile' | 'certFile' | 'keyFile';

export class BrokerFileError extends InputError {
  constructor(
    readonly setting: BrokerFileSetting,
    readonly path: string,
    code: string,
  ) {
    super(`cannot read broker.${setting} ${path} (${code})`);
  }
}

export function readBrokerFile(setting: BrokerFileSetting, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new BrokerFileError(setting, path, (err as NodeJS.ErrnoException).code ?? 'error');
  }
}

export interface BrokerSecrets {
  password?: string;
  passwordFile?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** The password (given, or from its file) and the TLS material of a broker block, as mqtt.js takes them. */
export function brokerSecrets(b: BrokerSecrets): { password?: string; ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const out: { password?: string; ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  const password = b.password ?? (b.passwordFile ? readBrokerFile('passwordFile', b.passwordFile).toString('utf8').trim() : undefined);
  if (password !== undefined) out.password = password;
  if (b.caFile) out.ca = readBrokerFile('caFile', b.caFile);
  if (b.certFile) out.cert = readBrokerFile('certFile', b.certFile);
  if (b.keyFile) out.key = readBrokerFile('keyFile', b.keyFile);
  return out;
}
