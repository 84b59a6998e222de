/**
 * Capture interfaces: what the machine has (through capture/interfaces.ts, as `omniloop interfaces`
 * shows it), and whether the configured WiFi interface exists, is in monitor mode and is up. The
 * judgements are pure functions of the interface list, so they are tested without radios.
 */
import { readFileSync } from 'node:fs';
import type { InterfaceInfo } from '../capture/interfaces.js';
import type { AgentConfig } from '../config/agent-config.js';
import { fail, ok, warn, type CheckResult } from './check.js';

const IFF_UP = 0x1;

/** Whether a network interface is administratively up (/sys/class/net/X/flags), null if unknown. */
export function probeInterfaceUp(name: string, sysRoot = '/sys/class'): boolean | null {
  try {
    return (Number(readFileSync(`${sysRoot}/net/${name}/flags`, 'utf8').trim()) & IFF_UP) === IFF_UP;
  } catch {
    return null;
  }
}

function describe(i: InterfaceInfo): string {
  if (i.kind === 'ble') return i.name;
  if (i.inMonitorMode) return `${i.name} (monitor)`;
  return `${i.name} (${i.monitorCapable === false ? 'no monitor mode' : i.monitorCapable ? 'monitor-capable' : 'monitor mode unknown'})`;
}

/** What is there to capture from. */
export function summarizeInterfaces(list: readonly InterfaceInfo[]): CheckResult {
  const wifi = list.filter((i) => i.kind === 'wifi');
  const ble = list.filter((i) => i.kind === 'ble');
  const details = {
    wifi: wifi.map((i) => ({ name: i.name, monitor: i.inMonitorMode, monitorCapable: i.monitorCapable, phy: i.phy })),
    bluetooth: ble.map((i) => i.name),
    other: list.filter((i) => i.kind === 'other').map((i) => i.name),
  };
  const text = `WiFi: ${wifi.map(describe).join(', ') || 'none'}; Bluetooth: ${ble.map(describe).join(', ') || 'none'}`;
  if (wifi.length === 0 && ble.length === 0) {
    return warn('interfaces', `no WiFi radio and no Bluetooth adapter (${details.other.join(', ') || 'no interfaces'})`, 'plug in a USB WiFi adapter whose driver supports monitor mode and/or a Bluetooth adapter; check `lsusb` and `iw list`', details);
  }
  return ok('interfaces', text, details);
}

/** The config must name something to capture from, or `agent run` refuses to start. */
export function judgeCaptureConfigured(capture: AgentConfig['capture']): CheckResult | null {
  if (capture.wifi || capture.ble) return null;
  return fail('capture', 'the config names no capture interface: `omniloop agent run` refuses to start', 'add capture.wifi.interface (a monitor-mode interface such as mon0) and/or capture.ble.interface (bluetooth0) to the config; see `omniloop interfaces`');
}

/** How to get a monitor interface on this machine, from what it has. */
function monitorAdvice(list: readonly InterfaceInfo[], wanted: string): string {
  const inMonitor = list.find((i) => i.kind === 'wifi' && i.inMonitorMode);
  if (inMonitor) return `set capture.wifi.interface: ${inMonitor.name} (already in monitor mode), or add ${wanted}: see \`omniloop interfaces\``;
  const radio = list.find((i) => i.kind === 'wifi' && i.monitorCapable !== false);
  if (radio) return `sudo iw dev ${radio.name} interface add ${wanted} type monitor && sudo ip link set ${wanted} up`;
  return 'plug in a WiFi adapter whose driver supports monitor mode (`iw list` shows "monitor" under Supported interface modes), then see `omniloop interfaces`';
}

/** The commands that make `wanted` on the configured radio (a WiFi interface such as wlan1, or a phy). */
export function monitorCommands(radio: string, wanted: string): string {
  const on = /^phy\d+$/.test(radio) ? `phy ${radio}` : `dev ${radio}`;
  return `sudo iw ${on} interface add ${wanted} type monitor && sudo ip link set ${wanted} up`;
}

/**
 * The configured capture interface is missing (a reboot, a re-plugged USB adapter). With
 * capture.wifi.radio the service makes it before every start (scripts/monitor-interface.sh, its
 * ExecStartPre), so a restart is the fix; without one, the technician makes it, and the fix says how to
 * have the service do it from then on.
 */
function missingInterface(list: readonly InterfaceInfo[], wanted: string, radio: string | undefined): CheckResult {
  const restart = 'sudo systemctl restart omniloop-agent';
  if (radio) {
    const details = { interface: wanted, radio };
    // A phy with no interface left is not in the list: only a named radio is known to be missing.
    if (!/^phy\d+$/.test(radio) && !list.some((x) => x.name === radio)) {
      return fail(
        'wifi-interface',
        `no interface ${wanted}, and no radio ${radio} (capture.wifi.radio) to make it on`,
        `plug in the WiFi adapter (check \`lsusb\` and \`iw dev\`; fix capture.wifi.radio if it has another name), then ${restart} (it makes ${wanted} on ${radio} before every start)`,
        details,
      );
    }
    return fail('wifi-interface', `no interface ${wanted} (capture.wifi.radio: ${radio})`, `${restart} (it makes ${wanted} on ${radio} before every start), or by hand: ${monitorCommands(radio, wanted)}`, details);
  }
  const candidate = list.find((x) => x.kind === 'wifi' && !x.inMonitorMode && x.monitorCapable !== false)?.name;
  return fail(
    'wifi-interface',
    `no interface ${wanted}`,
    `${monitorAdvice(list, wanted)}; to have the service make it before every start (after a reboot or a re-plugged adapter too), set capture.wifi.radio: ${candidate ?? '<radio, e.g. wlan1>'} in the config, then ${restart}`,
    { interface: wanted, radio: null },
  );
}

export function judgeWifiInterface(list: readonly InterfaceInfo[], wanted: string, up: boolean | null, radio?: string): CheckResult {
  const i = list.find((x) => x.name === wanted);
  if (!i) return missingInterface(list, wanted, radio);
  const details = { interface: wanted, arpType: i.arpType, monitor: i.inMonitorMode, monitorCapable: i.monitorCapable, phy: i.phy, up };
  if (i.kind !== 'wifi') return fail('wifi-interface', `${wanted} is not a WiFi radio`, monitorAdvice(list, 'mon0'), details);
  if (!i.inMonitorMode) {
    if (i.monitorCapable === false) return fail('wifi-interface', `${wanted}'s driver does not support monitor mode`, 'use a WiFi adapter whose driver supports monitor mode (`iw list` shows "monitor" under Supported interface modes)', details);
    return fail(
      'wifi-interface',
      `${wanted} is not in monitor mode (ARP type ${i.arpType ?? 'unknown'})`,
      `add a monitor interface: sudo iw dev ${wanted} interface add mon0 type monitor && sudo ip link set mon0 up (then capture.wifi.interface: mon0), or switch it: sudo ip link set ${wanted} down && sudo iw dev ${wanted} set type monitor && sudo ip link set ${wanted} up`,
      details,
    );
  }
  if (up === false) return fail('wifi-interface', `${wanted} is in monitor mode but down`, `sudo ip link set ${wanted} up`, details);
  return ok('wifi-interface', `${wanted} is in monitor mode${up ? ' and up' : ''}${i.phy ? ` (${i.phy})` : ''}`, details);
}
