/**
 * The output folder of `omniloop broker provision`, on disk:
 *
 *   mosquitto.conf            settings + where the users and the ACL are (0644)
 *   passwd, acl               Mosquitto's password file and ACL file (0640: the broker's group reads them)
 *   emqx-acl.conf             the same rights for EMQX (0644)
 *   credentials/<user>.password   each user's password, one line (0600, folder 0700): what the agent's
 *                             broker.passwordFile or HQ's points to
 *
 * The credentials files are the memory between runs. Files are replaced atomically (write, then
 * rename), so a broker reloading meanwhile reads the old file or the new one, never half of one.
 */
import { chmodSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../shared/errors.js';
import type { ProvisionPlan, ProvisionState } from './provision.js';

export const CREDENTIALS_DIR = 'credentials';
const PASSWORD_SUFFIX = '.password';
/** What generatePassword makes; anything else in a credentials file was not written by us. */
const PASSWORD = /^[A-Za-z0-9_-]{32}$/;

export function credentialsFile(outDir: string, username: string): string {
  return join(outDir, CREDENTIALS_DIR, username + PASSWORD_SUFFIX);
}

export function readProvisionState(outDir: string): ProvisionState {
  const passwords = new Map<string, string>();
  const dir = join(outDir, CREDENTIALS_DIR);
  for (const name of listDir(dir)) {
    if (!name.endsWith(PASSWORD_SUFFIX)) continue;
    const path = join(dir, name);
    const password = readText(path).trim();
    // Never echo the content: it is a password, or something else that is not ours to print.
    if (!PASSWORD.test(password)) throw new InputError(`${path} does not hold a password written by omniloop broker provision; delete it to issue a new one`);
    passwords.set(name.slice(0, -PASSWORD_SUFFIX.length), password);
  }
  const hashes = new Map<string, string>();
  const passwd = join(outDir, 'passwd');
  if (exists(passwd)) {
    for (const line of readText(passwd).split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) hashes.set(line.slice(0, i), line.slice(i + 1).trim());
    }
  }
  return { passwords, hashes };
}

/** Writes every file of the plan and deletes the credentials of removed users. */
export function writeProvision(outDir: string, plan: ProvisionPlan): void {
  mkdir(outDir, 0o755);
  const creds = join(outDir, CREDENTIALS_DIR);
  mkdir(creds, 0o700);
  chmodSync(creds, 0o700);
  for (const [username, password] of plan.passwords) writeAtomic(credentialsFile(outDir, username), password + '\n', 0o600);
  for (const username of plan.removed) rmSync(credentialsFile(outDir, username), { force: true });
  writeAtomic(join(outDir, 'passwd'), plan.files.passwd, 0o640);
  writeAtomic(join(outDir, 'acl'), plan.files.acl, 0o640);
  writeAtomic(join(outDir, 'mosquitto.conf'), plan.files.conf, 0o644);
  writeAtomic(join(outDir, 'emqx-acl.conf'), plan.files.emqxAcl, 0o644);
}

function writeAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text, { mode });
    chmodSync(tmp, mode); // the umask must not loosen or tighten what the broker needs
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new InputError(`cannot write ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function mkdir(path: string, mode: number): void {
  try {
    mkdirSync(path, { recursive: true, mode });
  } catch (err) {
    throw new InputError(`cannot make the folder ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!statSync(path).isDirectory()) throw new InputError(`${path} is not a folder`);
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    throw new InputError(`cannot read the folder ${dir} (${code ?? 'error'})`);
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
