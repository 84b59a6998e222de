/**
 * Capture permissions. libpcap (WiFi and HCI) needs CAP_NET_RAW; tuning channels with `iw` needs
 * CAP_NET_ADMIN. We read the bits of this process's effective set rather than trusting uid 0: root in
 * a container often lacks CAP_NET_ADMIN. A technician's shell is not the service, so when the installed
 * systemd unit grants what this shell lacks, that is a warning, not a failure.
 */
import { readFileSync } from 'node:fs';
import { fail, ok, warn, type CheckResult } from './check.js';

export const CAP_NET_ADMIN = 12;
export const CAP_NET_RAW = 13;

export const SERVICE_UNIT_PATHS = ['/etc/systemd/system/omniloop-agent.service', '/lib/systemd/system/omniloop-agent.service'];

export interface PermissionInput {
  uid: number | null;
  /** CapEff from /proc/self/status; null where there is no such file. */
  capEff: bigint | null;
  needRaw: boolean;
  needAdmin: boolean;
  /** AmbientCapabilities of the installed omniloop-agent.service, null when none is installed. */
  serviceGrants: string[] | null;
}

/** The CapEff mask of a /proc/PID/status text. */
export function parseCapEff(statusText: string): bigint | null {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(statusText);
  return m ? BigInt('0x' + m[1]) : null;
}

/** Capability names on the AmbientCapabilities= lines of a systemd unit. */
export function parseAmbientCapabilities(unitText: string): string[] {
  return unitText
    .split('\n')
    .filter((l) => /^\s*AmbientCapabilities\s*=/.test(l))
    .flatMap((l) => l.split('=')[1]!.trim().split(/\s+/))
    .filter((c) => /^CAP_[A-Z_]+$/.test(c));
}

const hasCap = (mask: bigint, bit: number): boolean => ((mask >> BigInt(bit)) & 1n) === 1n;

export function judgeCapturePermissions(p: PermissionInput): CheckResult {
  const needed = [p.needRaw && 'CAP_NET_RAW', p.needAdmin && 'CAP_NET_ADMIN'].filter((c): c is string => !!c);
  if (needed.length === 0) return ok('permissions', 'no live capture configured: no capabilities needed');
  const who = p.uid === 0 ? 'root' : p.uid === null ? 'this process' : `uid ${p.uid}`;
  if (p.capEff === null) {
    if (p.uid === 0) return ok('permissions', `running as root (no /proc/self/status to read capabilities from)`, { uid: p.uid });
    return warn('permissions', `cannot read this process's capabilities; ${who} may not capture`, 'run the agent as the omniloop-agent systemd service, which grants CAP_NET_RAW and CAP_NET_ADMIN', { uid: p.uid });
  }
  const bits: Record<string, number> = { CAP_NET_RAW, CAP_NET_ADMIN };
  const missing = needed.filter((c) => !hasCap(p.capEff!, bits[c]!));
  const details = { uid: p.uid, capEff: p.capEff.toString(16), needed, missing };
  if (missing.length === 0) return ok('permissions', `${who} with ${needed.join(' and ')} in its effective set`, details);
  const lacks = `${who} lacks ${missing.join(' and ')} (needed for ${needed.length === 2 ? 'capture and channel hopping' : missing.includes('CAP_NET_RAW') ? 'capture' : 'channel hopping'})`;
  if (p.serviceGrants && missing.every((c) => p.serviceGrants!.includes(c))) {
    return warn('permissions', `${lacks}; the installed omniloop-agent.service grants them, so the agent itself has them`, 'to check capture the way the agent runs it: sudo omniloop doctor --config /etc/omniloop/agent.yaml', details);
  }
  const container = p.uid === 0 ? ' (root without them: a container? start it with --cap-add NET_RAW --cap-add NET_ADMIN)' : '';
  return fail(
    'permissions',
    lacks + container,
    'run the agent as the systemd service, which grants exactly these (sudo systemctl enable --now omniloop-agent); for a manual run: sudo setcap cap_net_raw,cap_net_admin+eip $(readlink -f $(which node))',
    details,
  );
}

export function probeCapEff(statusPath = '/proc/self/status'): bigint | null {
  try {
    return parseCapEff(readFileSync(statusPath, 'utf8'));
  } catch {
    return null;
  }
}

export function probeServiceGrants(paths: readonly string[] = SERVICE_UNIT_PATHS): string[] | null {
  for (const p of paths) {
    try {
      return parseAmbientCapabilities(readFileSync(p, 'utf8'));
    } catch {
      // not installed there
    }
  }
  return null;
}
