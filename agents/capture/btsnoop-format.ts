/**
 * btsnoop (RFC 1761 style, big-endian): what Android's Bluetooth HCI snoop log and `btmon -w` write. A
 * 16-byte header ("btsnoop\0", version 1, datalink) then records with a 24-byte header and timestamps
 * in microseconds since year 0. The records are handed on as the pcap link type that carries the same
 * bytes: H4 (1002) as 187; H1 (1001) and the Linux monitor (2001) keep the packet type or opcode in the
 * record flags, so the parser writes it into the record header bytes just before the packet (already
 * consumed, so this costs no copy) and hands on 187 or 254.
 */
import type { CaptureParser } from './capture-format.js';
import { MAX_RECORD } from './pcap-format.js';
import { LinkType, type RecordSink } from './record.js';

const MAGIC = [0x62, 0x74, 0x73, 0x6e, 0x6f, 0x6f, 0x70, 0x00]; // "btsnoop\0"
const FILE_HEADER = 16;
const RECORD_HEADER = 24;
const DL_H1 = 1001;
const DL_H4 = 1002;
const DL_MONITOR = 2001;
// Microseconds from 0000-01-01 to 1970-01-01, split in 32-bit halves so the subtraction stays exact.
const EPOCH_HI = 0x00dcddb3;
const EPOCH_LO = 0x0f2f8000;
const TWO_32 = 4294967296;

export function isBtsnoopMagic(b: Uint8Array): boolean {
  return b.length >= 8 && MAGIC.every((v, i) => b[i] === v);
}

export class BtsnoopParser implements CaptureParser {
  readonly format = 'btsnoop' as const;
  linktypes: number[] = [];
  needBytes = 0;
  corrupt: string | null = null;
  records = 0;
  private datalink = 0;
  private headerDone = false;

  parse(buf: Uint8Array, start: number, end: number, sink: RecordSink): number {
    let p = start;
    if (!this.headerDone) {
      if (end - p < FILE_HEADER) {
        this.needBytes = FILE_HEADER;
        return p;
      }
      const version = u32(buf, p + 8);
      this.datalink = u32(buf, p + 12);
      if (version !== 1) {
        this.corrupt = `unsupported btsnoop version ${version}`;
        return p;
      }
      if (this.datalink !== DL_H1 && this.datalink !== DL_H4 && this.datalink !== DL_MONITOR) {
        this.corrupt = `btsnoop datalink ${this.datalink} is not supported (1001 HCI H1, 1002 HCI H4, 2001 Linux monitor)`;
        return p;
      }
      this.linktypes = [this.datalink === DL_MONITOR ? LinkType.BluetoothLinuxMonitor : LinkType.BluetoothHciH4];
      this.headerDone = true;
      p += FILE_HEADER;
    }
    const dl = this.datalink;
    while (true) {
      if (end - p < RECORD_HEADER) {
        this.needBytes = RECORD_HEADER;
        return p;
      }
      const orig = u32(buf, p);
      const incl = u32(buf, p + 4);
      if (incl > MAX_RECORD) {
        this.corrupt = `record ${this.records + 1} claims ${incl} bytes`;
        return p;
      }
      if (end - p < RECORD_HEADER + incl) {
        this.needBytes = RECORD_HEADER + incl;
        return p;
      }
      const flags = u32(buf, p + 8);
      const tsMs = ((u32(buf, p + 16) - EPOCH_HI) * TWO_32 + (u32(buf, p + 20) - EPOCH_LO)) / 1000;
      const data = p + RECORD_HEADER;
      this.records++;
      if (dl === DL_H4) {
        sink(LinkType.BluetoothHciH4, buf, data, incl, Math.max(incl, orig), tsMs);
      } else if (dl === DL_MONITOR) {
        // Linux monitor header: adapter index and opcode, big-endian, as in LINKTYPE 254.
        buf[data - 4] = (flags >>> 24) & 0xff;
        buf[data - 3] = (flags >>> 16) & 0xff;
        buf[data - 2] = (flags >>> 8) & 0xff;
        buf[data - 1] = flags & 0xff;
        sink(LinkType.BluetoothLinuxMonitor, buf, data - 4, incl + 4, Math.max(incl, orig) + 4, tsMs);
      } else {
        // H1: flags bit 1 = command/event (else ACL data), bit 0 = received (else sent).
        buf[data - 1] = flags & 2 ? (flags & 1 ? 0x04 : 0x01) : 0x02;
        sink(LinkType.BluetoothHciH4, buf, data - 1, incl + 1, Math.max(incl, orig) + 1, tsMs);
      }
      p += RECORD_HEADER + incl;
    }
  }
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}
