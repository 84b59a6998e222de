/**
 * What a capture source (a file parser or a live libpcap session) hands to the decoders: one record at
 * a time, as a view into a buffer that is only valid during the call.
 */
export type RecordSink = (
  linktype: number,
  buf: Uint8Array,
  off: number,
  caplen: number,
  origLen: number,
  tsMs: number,
) => void;

/** Link types the decoders understand (LINKTYPE_* numbers of tcpdump.org). */
export const LinkType = {
  Ieee80211: 105,
  Ieee80211Radiotap: 127,
  Ppi: 192,
  Ieee80211Prism: 119,
  Ieee80211Avs: 163,
  BluetoothHciH4: 187,
  BluetoothHciH4WithPhdr: 201,
  BluetoothLeLl: 251,
  BluetoothLinuxMonitor: 254,
  BluetoothLeLlWithPhdr: 256,
  NordicBle: 272,
} as const;

export const LINKTYPE_NAMES: Record<number, string> = {
  105: 'IEEE802_11',
  127: 'IEEE802_11_RADIOTAP',
  192: 'PPI',
  119: 'IEEE802_11_PRISM',
  163: 'IEEE802_11_AVS',
  187: 'BLUETOOTH_HCI_H4',
  201: 'BLUETOOTH_HCI_H4_WITH_PHDR',
  251: 'BLUETOOTH_LE_LL',
  254: 'BLUETOOTH_LINUX_MONITOR',
  256: 'BLUETOOTH_LE_LL_WITH_PHDR',
  272: 'NORDIC_BLE',
};

export function supportedLinkTypesText(): string {
  return Object.entries(LINKTYPE_NAMES)
    .map(([n, name]) => `${n} (${name})`)
    .join(', ');
}
