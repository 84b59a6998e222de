/**
 * The last opt-out list HQ published, kept on disk so an agent that restarts while the broker is out
 * of reach still drops every opted-out device from its first frame. The file holds the signed envelope
 * as it came, and is verified again when read: a list written into the file by hand (or by an older
 * agent that did not check signatures) is never applied. Written atomically (temp file and rename) with
 * mode 0600; a damaged file is reported and ignored, never half-applied.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { validateOptoutList, type OptoutList } from '../../shared/wire/control-schema.js';
import type { ControlVerifier } from '../../shared/wire/control-signing.js';
import { optoutTopic } from '../../shared/wire/topics.js';

export type CacheRead = { list: OptoutList } | { list: null; problem: string | null };

export function readOptoutCache(path: string, tenant: string, verifier: ControlVerifier | null): CacheRead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { list: null, problem: code === 'ENOENT' ? null : `cannot read the opt-out cache ${path} (${code ?? 'error'})` };
  }
  if (!verifier) return { list: null, problem: `the opt-out cache ${path} is not used: no control.publicKeys in the config to verify it` };
  const opened = verifier.open(optoutTopic(tenant), text);
  if (!opened.ok) return { list: null, problem: `the opt-out cache ${path} is not applied (${opened.reason}); waiting for HQ's signed list` };
  const v = validateOptoutList(opened.body);
  if (!v.ok) return { list: null, problem: `the opt-out cache ${path} is damaged (${v.reason}); waiting for HQ's list` };
  if (v.value.tenant !== tenant) return { list: null, problem: `the opt-out cache ${path} is tenant ${v.value.tenant}'s, not ${tenant}'s` };
  return { list: v.value };
}

/** `envelope`: the signed message exactly as received. */
export function writeOptoutCache(path: string, envelope: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, envelope, { mode: 0o600 });
  renameSync(tmp, path);
}
