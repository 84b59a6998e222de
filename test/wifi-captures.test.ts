/**
 * The WiFi decoders against real captures written by other people's tools, compared with tshark's
 * reading of the same files (test/fixtures/captures/expected-by-tshark.json).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../agents/capture/file-reader.js';
import { AddressClass, Source, macFirstOctet } from '../agents/decode/observation.js';
import { EdgePipeline } from '../agents/pipeline/edge-pipeline.js';
import { SummaryCollector } from '../agents/pipeline/capture-summary.js';
import { Pseudonymizer } from '../agents/pseudonymize/pseudonymizer.js';
import { CAPTURES } from './helpers/cli.js';

interface Expected {
  frames: number;
  probe_requests: number;
  distinct_sources: number;
  locally_administered_sources: number;
}
const expected: Record<string, Expected> = JSON.parse(readFileSync(join(CAPTURES, 'expected-by-tshark.json'), 'utf8'));

/**
 * Where a correct decoder must disagree with tshark, and why. tshark counts every frame whose frame
 * control says "probe request"; we count a probe request only when its header and elements are whole.
 */
const EXPLAINED: Record<string, Partial<Expected> & { why: string }> = {};

function decodeFile(path: string) {
  const pseudo = new Pseudonymizer({ secret: new Uint8Array(32), tenant: 'test', timezone: 'UTC' });
  const summary = new SummaryCollector();
  const sources = new Set<number>();
  const la = new Set<number>();
  const pipeline = new EdgePipeline(pseudo, (o) => {
    summary.add(o);
    if (o.source !== Source.Wifi) return;
    sources.add(o.mac);
    if (macFirstOctet(o.mac) & 0x02) la.add(o.mac);
    expect(o.addressClass).toBe(macFirstOctet(o.mac) & 0x02 ? AddressClass.WifiRandomized : AddressClass.WifiGlobal);
  });
  const read = readCaptureFile(path, pipeline.onRecord);
  return { read, counters: pipeline.counters, summary: summary.result(pipeline.counters, read.linktypes), sources, la };
}

const wifiFiles = readdirSync(join(CAPTURES, 'wifi'));

describe.each(wifiFiles)('%s', (file) => {
  const key = `wifi/${file}`;
  const want = expected[key]!;
  it('matches tshark (or differs only where explained)', () => {
    const { read, counters, summary, sources, la } = decodeFile(join(CAPTURES, key));
    const explained = EXPLAINED[key];
    expect(read.corrupt).toBeNull();
    expect(counters.frames).toBe(want.frames);
    expect(summary.wifi.probeRequests).toBe(explained?.probe_requests ?? want.probe_requests);
    expect(sources.size).toBe(explained?.distinct_sources ?? want.distinct_sources);
    expect(la.size).toBe(explained?.locally_administered_sources ?? want.locally_administered_sources);
    expect(summary.wifi.devices.global + summary.wifi.devices.randomized).toBe(sources.size);
    // Every frame is accounted for exactly once.
    expect(counters.observations + counters.malformed + counters.ignored + counters.unsupported).toBe(counters.frames);
  });
});

describe('signal and channel', () => {
  it('reads dBm signal and channel from the ESP32 radiotap headers', () => {
    const pseudo = new Pseudonymizer({ secret: new Uint8Array(32), tenant: 'test', timezone: 'UTC' });
    const first: [number, number, number][] = [];
    let rssiSum = 0;
    const channels = new Set<number>();
    const pipeline = new EdgePipeline(pseudo, (o) => {
      if (first.length < 3) first.push([o.rssi, o.channel, o.seq]);
      rssiSum += o.rssi;
      channels.add(o.channel);
    });
    readCaptureFile(join(CAPTURES, 'wifi/wifi_rt127_fryza_sc6-61_2022-11-22.pcap'), pipeline.onRecord);
    // tshark -T fields -e radiotap.dbm_antsignal -e wlan_radio.channel -e wlan.seq: the first three
    // frames, the sum of all signals, and the one channel the sniffer listened on.
    expect(first).toEqual([
      [-88, 2, 1597],
      [-89, 2, 1598],
      [-84, 2, 3686],
    ]);
    expect(rssiSum).toBe(-1840501);
    expect([...channels]).toEqual([2]);
  });
});

describe('PPI 802.11-Common', () => {
  it('reads the frequency and signal tshark reads from a real PPI capture', async () => {
    const { newPpiInfo, parsePpi } = await import('../agents/decode/ppi.js');
    const got: [number, number][] = [];
    const info = newPpiInfo();
    readCaptureFile(join(CAPTURES, 'wifi/wifi_ppi192_libpcap_http_PPI.pcap'), (_lt, buf, off, len) => {
      expect(parsePpi(buf, off, len, info)).toBe(true);
      got.push([info.freqMhz, info.signalDbm]);
    });
    // tshark -T fields -e ppi.80211-common.chan.freq -e ppi.80211-common.dbm.antsignal
    expect(got.slice(0, 2)).toEqual([
      [2422, -56],
      [2422, -65],
    ]);
  });
});
