/**
 * LINKTYPE_NORDIC_BLE (272): what the nRF Sniffer for Bluetooth LE writes. A board id, a UART header
 * (protocol version 1: header and payload lengths of a byte each; version 2 and later: a 2-byte payload
 * length), packet counter and packet id, then the event header — its length, flags (bit 0: CRC ok),
 * channel index, RSSI (sent as a positive number), event counter, timestamp — and the link-layer packet.
 */
import { CRC_INVALID, CRC_VALID, decodeLlPacket } from './ble-ll.js';
import { FrameStatus, type FrameDecoder } from './observation.js';

const UART_END = 7; // board id(1) + lengths/version(3) + packet counter(2) + packet id(1)
const EVENT_HEADER_MIN = 10;
const ID_EVENT_PACKET_ADVERTISING = 0x02; // protocol version 3
const ID_EVENT_PACKET = 0x06; // any channel before version 3; data channels from version 3

export const decodeNordicBle: FrameDecoder = (buf, off, len, _orig, tsMs, o, sink) => {
  if (len < UART_END + 1) return FrameStatus.Malformed;
  if (buf[off + 1] === 0xbe && buf[off + 2] === 0xef) return FrameStatus.Ignored; // pre-1.0 firmware format
  const version = buf[off + 3]!;
  let total: number;
  if (version === 1) total = 1 + buf[off + 1]! + buf[off + 2]!;
  else if (version >= 2) total = UART_END + (buf[off + 1]! | (buf[off + 2]! << 8));
  else return FrameStatus.Malformed;
  if (total !== len) return FrameStatus.Malformed;
  const id = buf[off + 6]!;
  if (id !== ID_EVENT_PACKET_ADVERTISING && id !== ID_EVENT_PACKET) return FrameStatus.Ignored; // commands, pings, follow events
  const e = off + UART_END;
  const ehl = buf[e]!;
  if (ehl < EVENT_HEADER_MIN || UART_END + ehl > len) return FrameStatus.Malformed;
  const flags = buf[e + 1]!;
  const channel = buf[e + 2]!;
  if (channel > 39) return FrameStatus.Malformed;
  const rssi = -buf[e + 3]!;
  const ll = e + ehl;
  return decodeLlPacket(buf, ll, off + len - ll, flags & 1 ? CRC_VALID : CRC_INVALID, rssi, channel, tsMs, o, sink);
};
