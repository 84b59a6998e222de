/**
 * Decoders never throw on bad bytes: a million random and mutated frames through every decoder, and
 * mutated capture files through the file parsers (which may only ever raise a clear InputError).
 */
import { describe, expect, it } from 'vitest';
import { readCaptureBuffer } from '../agents/capture/file-reader.js';
import { decoderFor } from '../agents/decode/frame-decoders.js';
import { FrameStatus, newObservation, type Observation } from '../agents/decode/observation.js';
import { InputError } from '../shared/errors.js';
import {
  adEddystoneUid,
  adFlags,
  avsHeader,
  btsnoopFile,
  nordicBle,
  prismHeader,
  adIBeacon,
  bleAdvPdu,
  bleExtAdvPdu,
  bleLlPacket,
  blePhdr,
  btMonitor,
  concat,
  h4,
  h4WithPhdr,
  hciLeAdvReportEvent,
  hciLeExtAdvReportEvent,
  ppiHeader,
  probeRequest,
  radiotapHeader,
  withFcs,
} from '../scripts/lib/frames.js';
import { mulberry32 } from '../scripts/lib/prng.js';
import { PcapWriter, PcapngWriter } from '../scripts/lib/capture-writer.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SA = 0xf01898010203;
const ib = adIBeacon({ uuid: 'f7826da64fa24e988024bc5b71e0893e', major: 1, minor: 2 });
const rt = radiotapHeader({ tsft: 1n, flags: 0x10, freqMhz: 2412, signalDbm: -50, vendor: { oui: 1, subns: 0, data: new Uint8Array(5) }, perAntennaSignal: { antenna: 0, signalDbm: -51 } });

const SEEDS: [number, Uint8Array][] = [
  [127, concat(rt, withFcs(probeRequest({ sa: SA, ssid: 'Cafe', dsChannel: 6, htc: true })))],
  [127, concat(radiotapHeader({ flags: 0, signalDbm: -40 }), probeRequest({ sa: SA }))],
  [105, probeRequest({ sa: SA, ssid: 'x', dsChannel: 1 })],
  [192, concat(ppiHeader({ freqMhz: 2437, signalDbm: -60 }), probeRequest({ sa: SA }))],
  [256, concat(blePhdr({ rfChannel: 0, signalDbm: -60 }), bleLlPacket(bleAdvPdu({ pduType: 2, advA: SA, adData: concat(adFlags(), ib) })))],
  [256, concat(blePhdr({ rfChannel: 39 }), bleLlPacket(bleExtAdvPdu({ advA: SA, adi: 1, txPower: 3, adData: adEddystoneUid({ namespace: '00'.repeat(10), instance: '11'.repeat(6) }) })))],
  [251, bleLlPacket(bleAdvPdu({ pduType: 0, txAdd: 1, advA: SA, adData: adFlags() }))],
  [187, h4(4, hciLeAdvReportEvent([{ eventType: 0, addrType: 1, addr: SA, data: ib, rssi: -3 }, { eventType: 4, addrType: 0, addr: SA, rssi: -9 }]))],
  [201, h4WithPhdr(1, 4, hciLeExtAdvReportEvent([{ eventType: 0x13, addrType: 0, addr: SA, data: adFlags() }, { eventType: 0, addrType: 1, addr: SA, data: ib }]))],
  [254, btMonitor(0, 3, hciLeAdvReportEvent([{ eventType: 3, addrType: 2, addr: SA, data: ib }]))],
  [272, nordicBle({ ll: bleLlPacket(bleAdvPdu({ pduType: 0, txAdd: 1, advA: SA, adData: concat(adFlags(), ib) })), version: 3 })],
  [272, nordicBle({ ll: bleLlPacket(bleAdvPdu({ pduType: 4, advA: SA })), version: 1 })],
  [119, concat(prismHeader({ channel: 6, rssiDbm: -50, frameLen: 0 }), withFcs(probeRequest({ sa: SA, ssid: 'x' })))],
  [163, concat(avsHeader({ channel: 1, signalDbm: -50 }), probeRequest({ sa: SA }))],
];
const LINKTYPES = [105, 119, 127, 163, 192, 187, 201, 251, 254, 256, 272];

function mutate(rnd: () => number, seed: Uint8Array, out: Uint8Array): number {
  const r = rnd();
  let len = seed.length;
  out.set(seed);
  if (r < 0.3) {
    len = Math.floor(rnd() * (seed.length + 1)); // truncate anywhere
  } else if (r < 0.4) {
    const extra = Math.floor(rnd() * 40);
    for (let i = 0; i < extra; i++) out[len + i] = (rnd() * 256) | 0;
    len += extra;
  }
  const flips = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < flips && len > 0; i++) {
    const at = Math.floor(rnd() * len);
    out[at] = rnd() < 0.5 ? (rnd() * 256) | 0 : out[at]! ^ (1 << ((rnd() * 8) | 0));
  }
  return len;
}

describe('decoder fuzzing', () => {
  it('1,000,000 random and mutated frames: no exception, every status valid, every observation sane', () => {
    const rnd = mulberry32(20261123);
    const o = newObservation();
    const buf = new Uint8Array(512);
    const counts = [0, 0, 0];
    let emitted = 0;
    const sink = (x: Observation) => {
      emitted++;
      // Whatever the bytes, offsets stay inside the frame and the address fits 48 bits.
      if (!(x.mac >= 0 && x.mac < 2 ** 48)) throw new Error(`bad mac ${x.mac}`);
      if (x.ssidOff >= 0 && x.ssidOff + x.ssidLen > buf.length) throw new Error('ssid out of range');
      if (x.ibeaconUuidOff >= 0 && x.ibeaconUuidOff + 16 > buf.length) throw new Error('ibeacon out of range');
    };
    for (let i = 0; i < 1_000_000; i++) {
      let lt: number;
      let len: number;
      if (i % 5 === 0) {
        lt = LINKTYPES[i % LINKTYPES.length]!;
        len = Math.floor(rnd() * 120);
        for (let k = 0; k < len; k++) buf[k] = (rnd() * 256) | 0;
      } else {
        const [slt, seed] = SEEDS[Math.floor(rnd() * SEEDS.length)]!;
        lt = slt;
        len = mutate(rnd, seed, buf);
      }
      const orig = rnd() < 0.1 ? len + 10 : len;
      const status = decoderFor(lt)!(buf, 0, len, orig, i, o, sink);
      counts[status]!++;
    }
    expect(counts[0]! + counts[1]! + counts[2]!).toBe(1_000_000);
    // The mutations must exercise every outcome, or the fuzzer tests nothing.
    expect(counts[FrameStatus.Observed]).toBeGreaterThan(50_000);
    expect(counts[FrameStatus.Malformed]).toBeGreaterThan(50_000);
    expect(counts[FrameStatus.Ignored]).toBeGreaterThan(10_000);
    expect(emitted).toBeGreaterThanOrEqual(counts[FrameStatus.Observed]!);
  });

  it('every seed frame decodes cleanly before mutation', () => {
    for (const [lt, seed] of SEEDS) {
      expect(decoderFor(lt)!(seed, 0, seed.length, seed.length, 0, newObservation(), () => {}), `linktype ${lt}`).toBe(FrameStatus.Observed);
    }
  });
});

describe('capture file fuzzing', () => {
  it('mutated pcap and pcapng files raise nothing but InputError', () => {
    const dir = mkdtempSync(join(tmpdir(), 'omniloop-fuzz-'));
    const w = new PcapWriter(join(dir, 'a.pcap'), 127, { nanoseconds: true, bigEndian: true });
    const n = new PcapngWriter(join(dir, 'b.pcapng'), [{ linktype: 127 }, { linktype: 256, tsresol: 9 }]);
    for (let i = 0; i < 20; i++) {
      w.add(1e12 + i, SEEDS[0]![1]);
      n.add(i % 2, 1e12 + i, SEEDS[i % 2 ? 4 : 0]![1]);
    }
    w.close();
    n.close();
    const snoop = btsnoopFile(2001, [{ tsMs: 1e12, flags: 3, data: hciLeAdvReportEvent([{ eventType: 0, addrType: 0, addr: SA, data: ib }]) }, { tsMs: 1e12 + 1, flags: 2, data: new Uint8Array([1, 2, 3]) }]);
    const files = [readFileSync(join(dir, 'a.pcap')), readFileSync(join(dir, 'b.pcapng')), Buffer.from(snoop)];
    const rnd = mulberry32(7);
    let clean = 0;
    for (let i = 0; i < 4000; i++) {
      const base = files[i % 3]!;
      const out = new Uint8Array(base.length + 64);
      const len = mutate(rnd, base, out);
      try {
        const r = readCaptureBuffer(out.subarray(0, len), (lt, buf, off, caplen, orig, ts) => {
          decoderFor(lt)?.(buf, off, caplen, orig, ts, newObservation(), () => {});
        });
        if (!r.corrupt && !r.truncated) clean++;
      } catch (err) {
        expect(err).toBeInstanceOf(InputError);
      }
    }
    expect(clean).toBeGreaterThan(100);
  });
});
