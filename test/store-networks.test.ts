/**
 * Connected customers (issue 13): the store's own networks watched from monitor mode. A randomized
 * address seen connected to a store AP is `associated` and gets a Consumer-ID; the same address only
 * probing elsewhere stays ephemeral. On a real capture (aircrack-ng's, network "WML") and on generated
 * frames.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../agents/capture/file-reader.js';
import { AddressClass, FrameStatus, WifiFrame, newObservation, type Observation } from '../agents/decode/observation.js';
import { EdgePipeline } from '../agents/pipeline/edge-pipeline.js';
import { SummaryCollector } from '../agents/pipeline/capture-summary.js';
import { StoreNetworkWatcher } from '../agents/pipeline/store-networks.js';
import { Pseudonymizer } from '../agents/pseudonymize/pseudonymizer.js';
import { decoderFor } from '../agents/decode/frame-decoders.js';
import { assocRequest, beaconFrame, concat, dataFrame, probeRequest, probeResponse, qosNullFrame, radiotapHeader } from '../scripts/lib/frames.js';
import { ROOT, runCli } from './helpers/cli.js';

const WIFI = join(ROOT, 'test/fixtures/captures/wifi');
const AP = 0x0c8ddb000001;
const NEIGHBOUR_AP = 0x0c8ddb000099;
const PHONE = 0x3a1b2c3d4e5f; // locally administered: a per-network address
const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);
const rt = radiotapHeader({ flags: 0, freqMhz: 2437, signalDbm: -55 });

function pipelineWith(networks: StoreNetworkWatcher | null) {
  const pseudo = new Pseudonymizer({ secret: new Uint8Array(32), tenant: 't', timezone: 'UTC' });
  const summary = new SummaryCollector();
  const seen: { o: Observation; cid: string | null }[] = [];
  const p = new EdgePipeline(
    pseudo,
    (o, cid) => {
      summary.add(o);
      seen.push({ o: { ...o }, cid });
    },
    networks,
  );
  const feed = (frame: Uint8Array, ts: number) => {
    const f = concat(rt, frame);
    p.onRecord(127, f, 0, f.length, f.length, ts);
  };
  return { p, summary, seen, feed };
}

describe('store networks from monitor mode', () => {
  it('a real capture: stations talking to the "WML" access point, two of them randomized, as tshark counts them', () => {
    const classes = new Map<number, number>();
    const s = decodeCounts('wifi_dot11_105_aircrack_pmkid-not-recognized.cap', 'WML', (o, cid) => {
      if (o.addressClass === AddressClass.WifiAssociated) expect(cid).toMatch(/^[0-9a-f]{32}$/);
      if (o.frame === WifiFrame.ToAp) classes.set(o.mac, o.addressClass);
    });
    // tshark: `(wlan.fc.type==2 && wlan.fc.ds==1 || wlan.fc.type_subtype in {0 2 11} || wlan.fc.type_subtype==4)
    // && wlan.ra==8c:de:f9:d0:b4:61` gives 1,187 frames from 9 transmitters, 7 global and 2 locally
    // administered; 128 of them are probe requests (counted as probes here), 1,059 frames to the AP.
    expect(s.wifi.connectedFrames).toBe(1059);
    expect(s.wifi.probeRequests).toBe(128);
    expect(s.wifi.devices.associated).toBe(2);
    expect(classes.size).toBe(9);
    expect([...classes.values()].filter((c) => c === AddressClass.WifiAssociated).length).toBe(2);
    // Without the network nothing changes: the same frames are ignored, as before.
    const plain = decodeCounts('wifi_dot11_105_aircrack_pmkid-not-recognized.cap');
    expect(plain.wifi).toEqual({ probeRequests: 128, connectedFrames: 0, devices: { global: 1, randomized: 1, associated: 0, estimated: 2 } });
  });

  it('a second real capture ("Neheb"): one global station associating, authenticating and sending null and data frames, as tshark counts them', () => {
    const kinds = new Map<number, number>();
    const s = decodeCounts('wifi_dot11_105_aircrack_n-02.cap', 'Neheb', (o) => {
      if (o.frame === WifiFrame.ToAp) kinds.set(o.mac, (kinds.get(o.mac) ?? 0) + 1);
    });
    // tshark: association 1, reassociation 1, authentication 2, QoS null 16, QoS data 2 from
    // 2c:f0:a2:dd:bc:d0 to b0:b9:8a:56:8d:ea (the BSSID of "Neheb", from its 10 probe responses).
    expect([...kinds]).toEqual([[0x2cf0a2ddbcd0, 22]]);
    expect(s.wifi).toMatchObject({ connectedFrames: 22, devices: { associated: 0 } });
  });

  it('omniloop decode --network: the class in --json, wifi.devices.associated in --summary', () => {
    const f = join(WIFI, 'wifi_dot11_105_aircrack_pmkid-not-recognized.cap');
    const sum = runCli(['decode', f, '--summary', '--json', '--network', 'WML']);
    expect(sum.code, sum.stderr).toBe(0);
    expect(JSON.parse(sum.stdout).wifi.devices).toMatchObject({ associated: 2, global: 7 });
    const lines = runCli(['decode', f, '--json', '--network', 'WML']).stdout.trim().split('\n').map((l) => JSON.parse(l));
    const assoc = lines.filter((l) => l.addressClass === 'associated');
    expect(assoc.length).toBeGreaterThan(100);
    expect(assoc.every((l) => /^[0-9a-f]{32}$/.test(l.cid))).toBe(true);
    expect(new Set(assoc.map((l) => l.cid)).size).toBe(2);
    expect(lines.some((l) => l.frame === 'to-ap')).toBe(true);
    // Never the address itself.
    expect(sum.stdout + lines.map((l) => JSON.stringify(l)).join('')).not.toMatch(/52:d2:f5|36:ca:0b/i);
  });

  it('learns the store AP from its beacons; a per-network address is associated, its probes too for the hold time', () => {
    const w = new StoreNetworkWatcher([{ ssid: 'Acme Guest' }], { holdMs: 3_600_000 });
    const { feed, seen, summary, p } = pipelineWith(w);
    // Before the AP is known, frames to it are not the store's.
    feed(qosNullFrame(PHONE, AP), T0);
    expect(seen).toHaveLength(0);
    feed(beaconFrame(AP, 'Acme Guest'), T0 + 100);
    feed(beaconFrame(NEIGHBOUR_AP, 'Cafe next door'), T0 + 200);
    feed(assocRequest(PHONE, AP, 'Acme Guest'), T0 + 1_000);
    feed(dataFrame(PHONE, AP), T0 + 2_000);
    // The same phone's frames to the neighbour's AP are not the store's business.
    feed(dataFrame(PHONE, NEIGHBOUR_AP), T0 + 2_500);
    // Its probe requests under the per-network address are associated while the association is recent...
    feed(probeRequest({ sa: PHONE, ssid: '' }), T0 + 30 * 60_000);
    // ...and ephemeral again after the hold time.
    feed(probeRequest({ sa: PHONE, ssid: '' }), T0 + 2 * 3_600_000);
    // Another randomized address that only probes stays ephemeral.
    feed(probeRequest({ sa: PHONE + 1, ssid: '' }), T0 + 2 * 3_600_000 + 1);
    const classes = seen.map((x) => [x.o.frame, x.o.addressClass, x.cid !== null]);
    expect(classes).toEqual([
      [WifiFrame.ToAp, AddressClass.WifiAssociated, true],
      [WifiFrame.ToAp, AddressClass.WifiAssociated, true],
      [WifiFrame.ProbeRequest, AddressClass.WifiAssociated, true],
      [WifiFrame.ProbeRequest, AddressClass.WifiRandomized, false],
      [WifiFrame.ProbeRequest, AddressClass.WifiRandomized, false],
    ]);
    // One Consumer-ID for the day, whichever frame carried the address.
    expect(new Set(seen.slice(0, 3).map((x) => x.cid)).size).toBe(1);
    expect(w.isAssociated(PHONE, T0 + 30 * 60_000)).toBe(true);
    const s = summary.result(p.counters, [127]);
    expect(s.wifi).toMatchObject({ probeRequests: 3, connectedFrames: 2, devices: { associated: 1, randomized: 2 } });
  });

  it('listed BSSIDs need no beacon; a probe addressed to a store AP for a store SSID is a connection; a probe response teaches the AP', () => {
    const w = new StoreNetworkWatcher([{ ssid: 'Acme Guest', bssids: ['0c:8d:db:00:00:01'] }]);
    const { feed, seen } = pipelineWith(w);
    feed(probeRequest({ sa: PHONE, ssid: 'Acme Guest', da: AP }), T0);
    feed(probeRequest({ sa: PHONE + 2, ssid: 'Other', da: AP }), T0 + 1);
    feed(probeResponse(0x0c8ddb000002, PHONE, 'Acme Guest'), T0 + 2);
    feed(qosNullFrame(PHONE + 3, 0x0c8ddb000002), T0 + 3);
    expect(seen.map((x) => x.o.addressClass)).toEqual([AddressClass.WifiAssociated, AddressClass.WifiRandomized, AddressClass.WifiAssociated]);
    expect(w.counts()).toEqual({ bssids: 2, stations: 2 });
  });

  it('spoofed beacons cannot grow the BSSID table, nor stations the station table', () => {
    const w = new StoreNetworkWatcher([{ ssid: 'Acme Guest' }], { maxBssids: 8, maxStations: 100 });
    const { feed } = pipelineWith(w);
    for (let i = 0; i < 1000; i++) feed(beaconFrame(0x0c8ddb100000 + i, 'Acme Guest'), T0 + i);
    expect(w.counts().bssids).toBe(8);
    for (let i = 0; i < 1000; i++) feed(qosNullFrame(PHONE + 16 * i, 0x0c8ddb100000), T0 + 2000 + i);
    expect(w.counts().stations).toBe(100);
    // The latest stay.
    expect(w.isAssociated(PHONE + 16 * 999, T0 + 3000)).toBe(true);
    expect(w.isAssociated(PHONE, T0 + 3000)).toBe(false);
  });

  it('refuses an empty or over-long SSID and a bad BSSID with a clear error', () => {
    expect(() => new StoreNetworkWatcher([{ ssid: '' }])).toThrow(/1 to 32 bytes/);
    expect(() => new StoreNetworkWatcher([{ ssid: 'x'.repeat(33) }])).toThrow(/1 to 32 bytes/);
    expect(() => new StoreNetworkWatcher([{ ssid: 'ok', bssids: ['nope'] }])).toThrow(/address/i);
  });

  it('connection frames decode only when asked for, and a cut announcement is malformed', () => {
    const o = newObservation();
    const frame = concat(rt, dataFrame(PHONE, AP));
    expect(decoderFor(127)!(frame, 0, frame.length, frame.length, T0, o, () => {})).toBe(FrameStatus.Ignored);
    expect(decoderFor(127, true)!(frame, 0, frame.length, frame.length, T0, o, () => {})).toBe(FrameStatus.Observed);
    const beacon = concat(rt, beaconFrame(AP, 'Acme Guest'));
    const cut = beacon.subarray(0, beacon.length - 14);
    expect(decoderFor(127, true)!(cut, 0, cut.length, cut.length, T0, o, () => {})).toBe(FrameStatus.Malformed);
    // A multicast transmitter is no station.
    const mc = concat(rt, dataFrame(0x010203040506, AP));
    expect(decoderFor(127, true)!(mc, 0, mc.length, mc.length, T0, o, () => {})).toBe(FrameStatus.Ignored);
  });
});

/** A real capture through the edge pipeline (with one store network, when named): its summary. */
function decodeCounts(file: string, ssid?: string, each?: (o: Observation, cid: string | null) => void) {
  const pseudo = new Pseudonymizer({ secret: new Uint8Array(32), tenant: 't', timezone: 'UTC' });
  const summary = new SummaryCollector();
  const p = new EdgePipeline(
    pseudo,
    (o, cid) => {
      summary.add(o);
      each?.(o, cid);
    },
    ssid ? new StoreNetworkWatcher([{ ssid }]) : null,
  );
  const read = readCaptureFile(join(WIFI, file), p.onRecord);
  return summary.result(p.counters, read.linktypes);
}
