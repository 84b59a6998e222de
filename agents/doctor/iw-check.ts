/**
 * `iw`: the channel hopper tunes the WiFi interface with it — even for a single channel, which it sets
 * once — and the agent stops if it is missing. Found the way the hopper finds it: on PATH.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fail, ok, warn, type CheckResult } from './check.js';

export interface IwInput {
  /** The configured WiFi capture, if any. */
  wifi: { interface: string; channels: readonly number[] } | null;
  /** Where `iw` is on PATH, or null. */
  onPath: string | null;
  /** Where it is outside PATH (/usr/sbin for a user whose PATH lacks it), or null. */
  elsewhere: string | null;
}

export function judgeIw(p: IwInput): CheckResult {
  if (!p.wifi) return ok('iw', p.onPath ? `not needed (no WiFi capture); found at ${p.onPath}` : 'not needed (no WiFi capture)');
  const use = p.wifi.channels.length > 1 ? `hops ${p.wifi.interface} over ${p.wifi.channels.length} channels` : `tunes ${p.wifi.interface} to channel ${p.wifi.channels[0]}`;
  const details = { path: p.onPath ?? p.elsewhere, channels: p.wifi.channels.length };
  if (p.onPath) return ok('iw', `${p.onPath} (the agent ${use} with it)`, details);
  if (p.elsewhere) {
    return warn('iw', `iw is at ${p.elsewhere} but not on this PATH (the agent ${use} with it)`, `run the agent as the systemd service (its PATH has ${p.elsewhere.replace(/\/iw$/, '')}) or add that folder to PATH`, details);
  }
  return fail('iw', `iw not found (the agent ${use} with it and stops without it)`, 'sudo apt-get install iw', details);
}

export function findExecutable(name: string, dirs: readonly string[]): string | null {
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

export function probeIw(env: NodeJS.ProcessEnv = process.env): { onPath: string | null; elsewhere: string | null } {
  const path = (env.PATH ?? '').split(delimiter).filter(Boolean);
  const onPath = findExecutable('iw', path);
  return { onPath, elsewhere: onPath ? null : findExecutable('iw', ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) };
}
