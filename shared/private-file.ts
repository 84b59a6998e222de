/**
 * Files that hold a secret (the tenant key and keys derived from it, API tokens): they must exist, be
 * regular files and be closed to other users. A key file must be its owner's alone (0600): whoever reads
 * it can link Consumer-IDs back to devices. A token file may also be read by its group (0640
 * root:omniloop is how services share one). Refused, not warned about: a warning in a service's log is
 * read too late.
 */
import { statSync } from 'node:fs';
import { InputError } from './errors.js';

export interface PrivateFileRule {
  /** What the file is, for the error (`key file`, `api.tokenFile`). */
  what: string;
  /** True: 0640 is accepted (a token); false: 0600 only (a key). */
  groupMayRead: boolean;
  /** Appended to "does not exist": how to make one. */
  missingHint?: string;
}

/** Throws an InputError (exit 2) saying what is wrong and how to fix it. */
export function checkPrivateFile(path: string, rule: PrivateFileRule): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`${rule.what} ${path} does not exist${rule.missingHint ? ` (${rule.missingHint})` : ''}`);
    throw new InputError(`cannot read ${rule.what} ${path} (${code ?? (err as Error).message})`);
  }
  if (!st.isFile()) throw new InputError(`${rule.what} ${path} is not a regular file`);
  const mode = Number(st.mode) & 0o777;
  const open = rule.groupMayRead ? mode & 0o027 : mode & 0o077;
  if (open) {
    const who = mode & 0o007 ? 'other users' : 'its group';
    const fix = rule.groupMayRead ? `chmod 600 ${path} (or 640 for a service's group)` : `chmod 600 ${path}`;
    throw new InputError(`${rule.what} ${path} is open to ${who} (mode 0${mode.toString(8).padStart(3, '0')}): ${fix}`);
  }
}
