/**
 * Capture file formats, told apart by their magic number (never by the file name). Each parser is pure
 * and incremental: it is handed whatever bytes the reader has and consumes whole records only.
 */
import { InputError } from '../../shared/errors.js';
import type { RecordSink } from './record.js';
import { PcapParser, isPcapMagic } from './pcap-format.js';
import { PcapngParser, isPcapngMagic } from './pcapng-format.js';
import { BtsnoopParser, isBtsnoopMagic } from './btsnoop-format.js';

export type CaptureFormat = 'pcap' | 'pcapng' | 'btsnoop';

export interface CaptureParser {
  readonly format: CaptureFormat;
  /**
   * Parses as many whole records (the file header included, on the first call) as buf[start, end) holds
   * and returns the offset of the first byte it did not consume.
   */
  parse(buf: Uint8Array, start: number, end: number, sink: RecordSink): number;
  /** Link types seen so far, in order of appearance. */
  readonly linktypes: readonly number[];
  /** After parse() stopped early: how many bytes the next record needs in one piece. */
  readonly needBytes: number;
  /** Set when the bytes stopped being a capture (absurd lengths): the reason. Parsing stops there. */
  readonly corrupt: string | null;
  /** Records delivered so far. */
  readonly records: number;
}

/** Enough bytes to recognize every format ("btsnoop\0" is the longest magic). */
export const MAGIC_BYTES = 8;

export function detectCaptureFormat(head: Uint8Array): CaptureFormat | null {
  if (head.length < 4) return null;
  if (isPcapMagic(head)) return 'pcap';
  if (isPcapngMagic(head)) return 'pcapng';
  if (isBtsnoopMagic(head)) return 'btsnoop';
  return null;
}

export function openCaptureParser(head: Uint8Array, fileLabel: string): CaptureParser {
  switch (detectCaptureFormat(head)) {
    case 'pcap':
      return new PcapParser();
    case 'pcapng':
      return new PcapngParser();
    case 'btsnoop':
      return new BtsnoopParser();
    default: {
      const magic = Buffer.from(head.subarray(0, 4)).toString('hex');
      throw new InputError(`${fileLabel} is not a capture file omniloop reads (magic 0x${magic}); supported: pcap (tcpdump, µs or ns, either byte order), pcapng and btsnoop (Android HCI snoop logs, btmon)`);
    }
  }
}
