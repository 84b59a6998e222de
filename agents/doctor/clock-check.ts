/**
 * The clock. Consumer-IDs are keyed by the store-day, so a wrong date gives every device an ID that
 * matches nothing (and a Raspberry Pi has no battery clock: after a power cut it starts at the last
 * saved time, or 1970). We ask the time-sync service whether it is synchronized and check the year;
 * nothing here compares with another clock, so "unknown" is said as such.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fail, ok, warn, type CheckResult } from './check.js';

export interface NtpState {
  /** null: no time-sync service we can ask. */
  synchronized: boolean | null;
  /** Where the answer came from, for the summary. */
  source: string;
}

/** Nothing of this release can run before it was written; a date before it is a reset clock. */
const EARLIEST_YEAR = 2025;
const LATEST_YEAR = 2100;

export function judgeClock(nowMs: number, ntp: NtpState): CheckResult {
  const now = new Date(nowMs);
  const iso = now.toISOString().replace(/\.\d+Z$/, 'Z');
  const details = { now: iso, synchronized: ntp.synchronized, source: ntp.source };
  const year = now.getUTCFullYear();
  if (year < EARLIEST_YEAR || year > LATEST_YEAR) {
    return fail('clock', `the clock says ${iso}: Consumer-IDs made now would be keyed to the wrong day`, 'sudo timedatectl set-ntp true, wait for `timedatectl` to say "System clock synchronized: yes", then restart the agent (sudo systemctl restart omniloop-agent)', details);
  }
  if (ntp.synchronized === false) {
    return fail('clock', `${iso}, but the clock is not synchronized (${ntp.source}): the date may be wrong, and with it every Consumer-ID`, 'sudo timedatectl set-ntp true; if it stays unsynchronized, allow outbound UDP 123 to the NTP servers (timedatectl timesync-status)', details);
  }
  if (ntp.synchronized === null) {
    return warn('clock', `${iso}; whether the clock is synchronized is unknown (${ntp.source})`, 'use a time-sync service: sudo apt-get install systemd-timesyncd && sudo timedatectl set-ntp true (with chrony: chronyc tracking)', details);
  }
  return ok('clock', `${iso}, synchronized (${ntp.source})`, details);
}

/** timedatectl first, then systemd-timesyncd's flag file; anything else is unknown. */
export async function probeNtp(run: (cmd: string, args: string[]) => Promise<string | null> = runQuiet, flagFile = '/run/systemd/timesync/synchronized'): Promise<NtpState> {
  const out = await run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value']);
  const v = out?.trim();
  if (v === 'yes') return { synchronized: true, source: 'timedatectl' };
  if (v === 'no') return { synchronized: false, source: 'timedatectl' };
  // The flag file exists only once timesyncd has synchronized; its absence proves nothing (chrony, ntpd).
  if (existsSync(flagFile)) return { synchronized: true, source: flagFile };
  return { synchronized: null, source: 'no timedatectl answer, no timesyncd flag file' };
}

function runQuiet(cmd: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => execFile(cmd, args, { timeout: 3000 }, (err, stdout) => resolve(err ? null : String(stdout))));
}
