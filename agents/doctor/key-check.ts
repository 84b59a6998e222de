/**
 * The tenant secret file: present, readable by this process, one line of 32 bytes in base64, and
 * private. Anyone who can read it can link Consumer-IDs back to devices, so a file its group or others
 * can open fails, as the agent refuses it. The secret's bytes never leave this module.
 */
import { statSync } from 'node:fs';
import { UserError } from '../../shared/errors.js';
import { readSecretFile } from '../../shared/identity/secret.js';
import { errnoCode, fail, ok, type CheckResult } from './check.js';

export function checkKeyFile(path: string): CheckResult {
  let mode: number;
  let uid: number;
  try {
    const st = statSync(path);
    mode = st.mode & 0o777;
    uid = st.uid;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') {
      return fail('key', `key file ${path} does not exist`, `copy the tenant's key file to ${path} (chmod 600): every agent of a tenant needs the same one; \`omniloop key init\` only for a new tenant, since a new key changes every Consumer-ID`);
    }
    return fail('key', `cannot look at key file ${path} (${code})`, `check the folder's permissions: ls -ld ${path}`);
  }
  const details = { path, mode: octal(mode), ownerUid: uid };
  try {
    const read = readSecretFile(path);
    read.secret.fill(0);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    if (/cannot read/.test(err.message)) {
      return fail('key', err.message, `run as the agent's user (sudo -u omniloop omniloop doctor ...) or give it the file: sudo chown omniloop: ${path} && sudo chmod 600 ${path}`, details);
    }
    return fail('key', err.message, `restore the tenant's key file (one line of base64, as \`omniloop key init\` writes it) from HQ's copy`, details);
  }
  return judgeKeyMode(path, mode, details);
}

/** Pure: the permission bits of a readable, valid key file. */
export function judgeKeyMode(path: string, mode: number, details: Record<string, unknown> = { path, mode: octal(mode) }): CheckResult {
  const fix = `chmod 600 ${path}`;
  if (mode & 0o004) return fail('key', `key file ${path} is readable by every user (mode ${octal(mode)})`, fix, details);
  if (mode & 0o002) return fail('key', `key file ${path} is writable by every user (mode ${octal(mode)})`, fix, details);
  // The agent refuses a key file its group can open (shared/identity/secret.ts): so does the doctor.
  if (mode & 0o070) return fail('key', `key file ${path} is open to its group (mode ${octal(mode)}): the agent refuses to start with it`, `${fix} and chown it to the agent's user (chown omniloop: ${path})`, details);
  return ok('key', `key file ${path}: 32 bytes, mode ${octal(mode)}`, details);
}

function octal(mode: number): string {
  return '0' + mode.toString(8).padStart(3, '0');
}
