/**
 * What a technician needs to pick an interface: network interfaces with their ARP hardware type
 * (803 = 802.11 + radiotap, i.e. monitor mode), whether the radio can do monitor mode at all, and the
 * Bluetooth adapters libpcap can capture from. Parsing is pure; reading /sys and `iw` is the edge.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

export interface InterfaceInfo {
  name: string;
  kind: 'wifi' | 'ble' | 'other';
  /** ARP hardware type from /sys/class/net/X/type (1 ethernet, 801 802.11, 803 radiotap monitor). */
  arpType: number | null;
  inMonitorMode: boolean;
  /** Whether the radio's driver lists monitor among its interface modes (null: unknown). */
  monitorCapable: boolean | null;
  phy: string | null;
  note: string;
}

const ARP_IEEE80211_RADIOTAP = 803;
const ARP_IEEE80211_PRISM = 802;

/** The "Supported interface modes" list of `iw phy PHY info`. */
export function parseIwSupportedModes(text: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /Supported interface modes:/.test(l));
  if (start < 0) return [];
  const indent = /^\s*/.exec(lines[start]!)![0].length;
  const modes: string[] = [];
  for (const l of lines.slice(start + 1)) {
    const m = /^(\s*)\* (.+)$/.exec(l);
    if (!m || m[1]!.length <= indent) break;
    modes.push(m[2]!.trim());
  }
  return modes;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

function iwPhyInfo(phy: string): Promise<string | null> {
  return new Promise((resolve) => execFile('iw', ['phy', phy, 'info'], { timeout: 2000 }, (err, out) => resolve(err ? null : out)));
}

export async function listCaptureInterfaces(sysRoot = '/sys/class'): Promise<InterfaceInfo[]> {
  const out: InterfaceInfo[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(`${sysRoot}/net`).sort();
  } catch {
    names = [];
  }
  for (const name of names) {
    const arp = Number(readText(`${sysRoot}/net/${name}/type`) ?? NaN);
    let phy: string | null = null;
    try {
      phy = basename(readlinkSync(`${sysRoot}/net/${name}/phy80211`));
    } catch {
      phy = null;
    }
    const inMonitor = arp === ARP_IEEE80211_RADIOTAP || arp === ARP_IEEE80211_PRISM;
    if (!phy && !inMonitor) {
      out.push({ name, kind: 'other', arpType: Number.isNaN(arp) ? null : arp, inMonitorMode: false, monitorCapable: false, phy: null, note: 'not a WiFi radio' });
      continue;
    }
    const info = phy ? await iwPhyInfo(phy) : null;
    const capable = info === null ? null : parseIwSupportedModes(info).includes('monitor');
    const note = inMonitor ? 'monitor mode: ready to capture' : capable === false ? 'driver does not support monitor mode' : `managed mode: sudo iw dev ${name} interface add mon0 type monitor && sudo ip link set mon0 up`;
    out.push({ name, kind: 'wifi', arpType: arp, inMonitorMode: inMonitor, monitorCapable: capable, phy, note });
  }
  let hcis: string[] = [];
  try {
    hcis = readdirSync(`${sysRoot}/bluetooth`).filter((n) => /^hci\d+$/.test(n)).sort();
  } catch {
    hcis = [];
  }
  for (const hci of hcis) {
    out.push({ name: `bluetooth${hci.slice(3)}`, kind: 'ble', arpType: null, inMonitorMode: false, monitorCapable: null, phy: hci, note: `HCI capture of ${hci} (advertising reports while the adapter scans)` });
  }
  if (hcis.length > 0) out.push({ name: 'bluetooth-monitor', kind: 'ble', arpType: null, inMonitorMode: false, monitorCapable: null, phy: null, note: 'every adapter, as btmon sees it' });
  return out;
}
