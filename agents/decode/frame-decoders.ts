/** Which decoder reads which link type. */
import { LinkType, LINKTYPE_NAMES, supportedLinkTypesText } from '../capture/record.js';
import { decodeBleLl, decodeBleLlPhdr } from './ble-ll.js';
import { decodeBtMonitor, decodeHciH4, decodeHciH4Phdr } from './hci.js';
import type { FrameDecoder } from './observation.js';
import { connectionDecoders, decodeAvs, decodePlainDot11, decodePpi, decodePrism, decodeRadiotap } from './wifi-decoders.js';
import { decodeNordicBle } from './nordic-ble.js';
import { InputError } from '../../shared/errors.js';

const DECODERS = new Map<number, FrameDecoder>([
  [LinkType.Ieee80211Radiotap, decodeRadiotap],
  [LinkType.Ieee80211, decodePlainDot11],
  [LinkType.Ppi, decodePpi],
  [LinkType.Ieee80211Prism, decodePrism],
  [LinkType.Ieee80211Avs, decodeAvs],
  [LinkType.BluetoothLeLl, decodeBleLl],
  [LinkType.BluetoothLeLlWithPhdr, decodeBleLlPhdr],
  [LinkType.NordicBle, decodeNordicBle],
  [LinkType.BluetoothHciH4WithPhdr, decodeHciH4Phdr],
  [LinkType.BluetoothHciH4, decodeHciH4],
  [LinkType.BluetoothLinuxMonitor, decodeBtMonitor],
]);

/** With the store's networks watched, the WiFi link types decode connection frames too. */
const CONNECTION_DECODERS = new Map<number, FrameDecoder>([
  ...DECODERS,
  [LinkType.Ieee80211Radiotap, connectionDecoders.radiotap],
  [LinkType.Ieee80211, connectionDecoders.plain],
  [LinkType.Ppi, connectionDecoders.ppi],
  [LinkType.Ieee80211Prism, connectionDecoders.prism],
  [LinkType.Ieee80211Avs, connectionDecoders.avs],
]);

export function decoderFor(linktype: number, connections = false): FrameDecoder | undefined {
  return (connections ? CONNECTION_DECODERS : DECODERS).get(linktype);
}

export function isSupportedLinkType(linktype: number): boolean {
  return DECODERS.has(linktype);
}

export function linkTypeLabel(linktype: number): string {
  return LINKTYPE_NAMES[linktype] ? `${linktype} (${LINKTYPE_NAMES[linktype]})` : String(linktype);
}

/** The clear error for a capture whose link types we cannot read. */
export function unsupportedLinkTypeError(what: string, linktypes: readonly number[]): InputError {
  const names = linktypes.map(linkTypeLabel).join(', ') || 'none';
  return new InputError(`${what} has link type ${names}, which omniloop does not decode; supported: ${supportedLinkTypesText()}`);
}
