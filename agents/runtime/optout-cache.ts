/**
 * The last opt-out list HQ published, kept on disk so an agent that restarts while the broker is out
 * of reach still drops every opted-out device from its first frame. Written atomically (temp file and
 * rename) with mode 0600; a damaged file is reported and ignored, never half-applied.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { validateOptoutList, type OptoutList } from '../../shared/wire/control-schema.js';

export type CacheRead = { list: OptoutList } | { list: null; problem: string | null };

export function readOptoutCache(path: string, tenant: string): CacheRead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { list: null, problem: code === 'ENOENT' ? null : `cannot read the opt-out cache ${path} (${code ?? 'error'})` };
  }
  const v = validateOptoutList(text);
  if (!v.ok) return { list: null, problem: `the opt-out cache ${path} is damaged (${v.reason}); waiting for HQ's list` };
  if (v.value.tenant !== tenant) return { list: null, problem: `the opt-out cache ${path} is tenant ${v.value.tenant}'s, not ${tenant}'s` };
  return { list: v.value };
}

export function writeOptoutCache(path: string, list: OptoutList): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(list), { mode: 0o600 });
  renameSync(tmp, path);
}
