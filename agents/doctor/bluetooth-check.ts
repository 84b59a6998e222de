/**
 * The Bluetooth adapter BLE capture reads from: `bluetoothN` is libpcap's name for /sys/class/bluetooth/hciN,
 * `bluetooth-monitor` sees every adapter. Pure: judged from the interface list.
 */
import type { InterfaceInfo } from '../capture/interfaces.js';
import { fail, ok, warn, type CheckResult } from './check.js';

const ADAPTER_FIX = 'plug in a USB Bluetooth adapter or enable the onboard one (Raspberry Pi: remove dtoverlay=disable-bt from /boot/firmware/config.txt and reboot; sudo rfkill unblock bluetooth), then check `bluetoothctl list`';

export function judgeBluetooth(list: readonly InterfaceInfo[], wanted: string): CheckResult {
  const adapters = list.filter((i) => i.kind === 'ble' && i.phy !== null).map((i) => i.phy!);
  const details = { interface: wanted, adapters };
  if (adapters.length === 0) return fail('bluetooth', `no Bluetooth adapter in /sys/class/bluetooth (capture.ble.interface is ${wanted})`, ADAPTER_FIX, details);
  if (wanted === 'bluetooth-monitor') return ok('bluetooth', `bluetooth-monitor sees ${adapters.join(', ')}`, details);
  const m = /^bluetooth(\d+)$/.exec(wanted);
  if (!m) return warn('bluetooth', `cannot tell from /sys/class/bluetooth whether ${wanted} exists (adapters: ${adapters.join(', ')})`, 'use bluetooth0 (hci0) or bluetooth-monitor as capture.ble.interface; see `omniloop interfaces`', details);
  const hci = `hci${m[1]}`;
  if (!adapters.includes(hci)) return fail('bluetooth', `no ${hci} for ${wanted} (adapters: ${adapters.join(', ')})`, `set capture.ble.interface: bluetooth${adapters[0]!.slice(3)} (or bluetooth-monitor)`, details);
  return ok('bluetooth', `${wanted} is ${hci}`, details);
}
