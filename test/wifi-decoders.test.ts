/** Radiotap, 802.11 and PPI decoding on hand-built frames: every field and every way to be malformed. */
import { describe, expect, it } from 'vitest';
import { AddressClass, FrameStatus, Source } from '../agents/decode/observation.js';
import { newRadiotapInfo, parseRadiotap } from '../agents/decode/radiotap.js';
import { wifiChannelFromFreq } from '../agents/decode/wifi-channel.js';
import { beaconFrame, concat, dataFrame, ie, ppiHeader, probeRequest, radiotapHeader, withFcs } from '../scripts/lib/frames.js';
import { bytesAt, decodeOne } from './helpers/decode.js';

const SA = 0xf01898010203;
const RANDOM_SA = 0xdaa119000001;
const rt = (o = {}) => radiotapHeader({ flags: 0, freqMhz: 2437, signalDbm: -61, antenna: 1, ...o });

describe('probe requests behind radiotap (127)', () => {
  it('reads address, class, sequence, SSID, elements, signal and channel', () => {
    const { status, obs } = decodeOne(127, concat(rt(), probeRequest({ sa: SA, seq: 1234, ssid: 'Cafe' })));
    expect(status).toBe(FrameStatus.Observed);
    expect(obs).toHaveLength(1);
    const o = obs[0]!;
    expect(o.source).toBe(Source.Wifi);
    expect(o.mac).toBe(SA);
    expect(o.addressClass).toBe(AddressClass.WifiGlobal);
    expect(o.seq).toBe(1234);
    expect(bytesAt(o, o.ssidOff, o.ssidLen)).toBe(Buffer.from('Cafe').toString('hex'));
    expect(o.ieLen).toBe(2 + 4 + 2 + 8);
    expect(o.rssi).toBe(-61);
    expect(o.freqMhz).toBe(2437);
    expect(o.channel).toBe(6);
  });

  it('marks locally administered addresses as randomized and a wildcard SSID as length 0', () => {
    const o = decodeOne(127, concat(rt(), probeRequest({ sa: RANDOM_SA, ssid: '' }))).obs[0]!;
    expect(o.addressClass).toBe(AddressClass.WifiRandomized);
    expect(o.ssidLen).toBe(0);
    expect(o.ssidOff).toBeGreaterThan(0);
  });

  it('walks extended present bitmaps and vendor namespaces with alignment', () => {
    const hdr = radiotapHeader({
      tsft: 0x0102030405060708n,
      flags: 0,
      freqMhz: 5180,
      signalDbm: -47,
      vendor: { oui: 0x001122, subns: 1, data: new Uint8Array([9, 9, 9]) },
      perAntennaSignal: { antenna: 1, signalDbm: -50 },
    });
    const info = newRadiotapInfo();
    expect(parseRadiotap(hdr, 0, hdr.length, info)).toBe(true);
    expect(info).toEqual({ length: hdr.length, flags: 0, freqMhz: 5180, signalDbm: -47 });
    const o = decodeOne(127, concat(hdr, probeRequest({ sa: SA }))).obs[0]!;
    expect([o.mac, o.rssi, o.channel]).toEqual([SA, -47, 36]);
  });

  it('reads every frame right when layouts repeat and alternate (the parser remembers the last layout)', () => {
    const info = newRadiotapInfo();
    const parse = (h: Uint8Array) => (parseRadiotap(h, 0, h.length, info) ? { ...info } : null);
    const a = (sig: number, freq: number, flags = 0) => radiotapHeader({ flags, freqMhz: freq, signalDbm: sig, antenna: 1 });
    const b = (sig: number) => radiotapHeader({ tsft: 1n, freqMhz: 2412, signalDbm: sig });
    const v = (sig: number, skip: number) =>
      radiotapHeader({ flags: 0, freqMhz: 2462, signalDbm: sig, vendor: { oui: 0x001122, subns: 1, data: new Uint8Array(skip) }, perAntennaSignal: { antenna: 1, signalDbm: -90 } });
    // The same layout twice with other values, another layout, the first again, vendor namespaces
    // whose skip lengths differ (never remembered), then a broken header of a remembered layout.
    expect(parse(a(-40, 2437))).toEqual({ length: a(0, 0).length, flags: 0, freqMhz: 2437, signalDbm: -40 });
    expect(parse(a(-71, 2412, 0x10))).toMatchObject({ flags: 0x10, freqMhz: 2412, signalDbm: -71 });
    expect(parse(b(-55))).toMatchObject({ flags: 0, freqMhz: 2412, signalDbm: -55 });
    expect(parse(a(-33, 2462))).toMatchObject({ flags: 0, freqMhz: 2462, signalDbm: -33 });
    expect(parse(v(-47, 3))).toMatchObject({ freqMhz: 2462, signalDbm: -47 });
    expect(parse(v(-48, 5))).toMatchObject({ freqMhz: 2462, signalDbm: -48 });
    const cut = a(-20, 2437);
    cut[2] = 10; // the length no longer holds the fields of that layout
    expect(parseRadiotap(cut, 0, cut.length, info)).toBe(false);
    expect(parse(a(-21, 2437))).toMatchObject({ freqMhz: 2437, signalDbm: -21 });
  });

  it('strips the FCS when the flags say it is there, and rejects frames flagged with a bad FCS', () => {
    const frame = withFcs(probeRequest({ sa: SA, ssid: 'x' }));
    const ok = decodeOne(127, concat(rt({ flags: 0x10 }), frame));
    expect(ok.status).toBe(FrameStatus.Observed);
    expect(ok.obs[0]!.ieLen).toBe(3 + 10);
    // Without the flag the 4 FCS bytes look like a broken element.
    expect(decodeOne(127, concat(rt({ flags: 0 }), frame)).status).toBe(FrameStatus.Malformed);
    expect(decodeOne(127, concat(rt({ flags: 0x10 | 0x40 }), frame)).status).toBe(FrameStatus.Malformed);
  });

  it('skips the HT Control field of +HTC frames', () => {
    const o = decodeOne(127, concat(rt(), probeRequest({ sa: SA, seq: 7, ssid: 'ht', htc: true }))).obs[0]!;
    expect(o.seq).toBe(7);
    expect(bytesAt(o, o.ssidOff, o.ssidLen)).toBe('6874');
  });

  it('ignores other frame types without reading them', () => {
    expect(decodeOne(127, concat(rt(), beaconFrame(0x001122334455, 'AP'))).status).toBe(FrameStatus.Ignored);
    expect(decodeOne(127, concat(rt(), dataFrame(SA, 0x001122334455))).status).toBe(FrameStatus.Ignored);
    expect(decodeOne(127, concat(rt(), new Uint8Array([0xd4, 0x00]))).status).toBe(FrameStatus.Ignored); // ACK
  });

  it.each([
    ['a radiotap header shorter than 8 bytes', new Uint8Array([0, 0, 6, 0, 0, 0])],
    ['radiotap version 1', concat(new Uint8Array([1]), rt().subarray(1), probeRequest({ sa: SA }))],
    ['a radiotap length past the frame', (() => { const f = concat(rt(), probeRequest({ sa: SA })); f[2] = 0xf0; return f; })()],
    ['a field past the radiotap length', (() => { const h = rt(); h[2] = 9; return concat(h, probeRequest({ sa: SA })); })()],
    ['a probe request cut inside its header', concat(rt(), probeRequest({ sa: SA }).subarray(0, 23))],
    ['an element running past the frame', concat(rt(), probeRequest({ sa: SA, extraIes: [new Uint8Array([221, 40, 1, 2])] }))],
    ['a stray byte after the last element', concat(rt(), probeRequest({ sa: SA }), new Uint8Array([7]))],
    ['an SSID longer than 32 bytes', concat(rt(), probeRequest({ sa: SA, ssid: 'x'.repeat(33) }))],
    ['an empty frame', new Uint8Array(0)],
  ])('counts %s as malformed', (_what, frame) => {
    expect(decodeOne(127, frame).status).toBe(FrameStatus.Malformed);
  });

  it('accepts an element list cut by the capture snap length', () => {
    const full = concat(rt(), probeRequest({ sa: SA, ssid: 'Cafe', extraIes: [ie(221, new Uint8Array(60))] }));
    const cut = full.subarray(0, full.length - 30);
    expect(decodeOne(127, cut, cut.length).status).toBe(FrameStatus.Malformed);
    const r = decodeOne(127, cut, full.length);
    expect(r.status).toBe(FrameStatus.Observed);
    expect(r.obs[0]!.mac).toBe(SA);
  });
});

describe('plain 802.11 (105) and PPI (192)', () => {
  it('takes the channel from the DS Parameter Set when there is no radio header', () => {
    const o = decodeOne(105, probeRequest({ sa: SA, dsChannel: 11 })).obs[0]!;
    expect([o.mac, o.channel, Number.isNaN(o.rssi)]).toEqual([SA, 11, true]);
  });

  it('reads signal and channel from the 802.11-Common field', () => {
    const o = decodeOne(192, concat(ppiHeader({ freqMhz: 2462, signalDbm: -70 }), probeRequest({ sa: SA }))).obs[0]!;
    expect([o.mac, o.rssi, o.channel]).toEqual([SA, -70, 11]);
  });

  it('handles the FCS flags, other inner link types and broken headers', () => {
    const frame = withFcs(probeRequest({ sa: SA }));
    expect(decodeOne(192, concat(ppiHeader({ fcs: true }), frame)).status).toBe(FrameStatus.Observed);
    expect(decodeOne(192, concat(ppiHeader({ fcs: true, fcsInvalid: true }), frame)).status).toBe(FrameStatus.Malformed);
    expect(decodeOne(192, concat(ppiHeader({ dlt: 1 }), new Uint8Array(20))).status).toBe(FrameStatus.Ignored);
    const bad = concat(ppiHeader({}), probeRequest({ sa: SA }));
    bad[2] = 0xff;
    expect(decodeOne(192, bad).status).toBe(FrameStatus.Malformed);
  });
});

describe('channel numbers', () => {
  it.each([
    [2412, 1],
    [2472, 13],
    [2484, 14],
    [5180, 36],
    [5825, 165],
    [5955, 1],
    [6115, 33],
    [900, 0],
  ])('%i MHz is channel %i', (f, c) => expect(wifiChannelFromFreq(f)).toBe(c));
});
