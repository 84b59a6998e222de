/**
 * Synthetic store traffic with exact ground truth: the input of `npm run bench`, of decoder tests, and
 * of the demo. Phones probe in bursts over channels 1/6/11 (most with randomized addresses); BLE devices
 * of every address class advertise, some as iBeacons or Eddystone-UIDs; access-point beacons, data
 * frames, SCAN_REQs and a small share of malformed frames are mixed in. Streams to disk: frames are
 * patched templates, so a million of them take seconds and little memory.
 *
 *   node dist/scripts/gen-capture.js --out F.pcap --frames 1000000 --devices 100000 --kind wifi
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';
import { LinkType } from '../agents/capture/record.js';
import { macToBytes } from '../agents/decode/observation.js';
import { PcapWriter, PcapngWriter } from './lib/capture-writer.js';
import {
  adEddystoneUid,
  adFlags,
  adIBeacon,
  adName,
  beaconFrame,
  bleAdvPdu,
  bleLlPacket,
  blePhdr,
  concat,
  dataFrame,
  probeRequest,
  radiotapHeader,
} from './lib/frames.js';
import { mulberry32 } from './lib/prng.js';

export interface GenerateOptions {
  out: string;
  frames: number;
  devices: number;
  kind: 'wifi' | 'ble' | 'mixed';
  seed?: number;
  startMs?: number;
  hours?: number;
  /** Share of WiFi devices with randomized (locally administered) addresses; default 0.85. */
  randomizedShare?: number;
  /** Share of frames that are deliberately malformed; default 0.002. */
  malformedShare?: number;
  /** Share of frames that carry no presence signal (beacons, data, SCAN_REQ); default 0.05. */
  ignoredShare?: number;
  /** Every device equally busy (default: a few busy devices and a long tail). */
  uniform?: boolean;
  /**
   * Seed of the device population (default: `seed`). Captures with the same population seed and
   * different seeds are the same customers seen in different stores.
   */
  populationSeed?: number;
}

export interface Truth {
  frames: number;
  malformed: number;
  ignored: number;
  wifi: { probeRequests: number; devices: { global: number; randomized: number } };
  ble: { advertisements: number; devices: { public: number; static: number; rpa: number; nrpa: number }; ibeacons: number; eddystones: number };
}

// Radiotap template: flags, channel, dBm signal, antenna (16 bytes), then the probe request.
const RT_FREQ = 10;
const RT_SIGNAL = 14;
const RT_LEN = 16;
const PR_SA = RT_LEN + 10;
const PR_SEQ = RT_LEN + 22;
const CHANNELS = [1, 6, 11];
const BLE_RF = [0, 12, 39]; // advertising channels 37, 38, 39

type BleClass = 'public' | 'static' | 'rpa' | 'nrpa';

export function generateCapture(opts: GenerateOptions): Truth {
  const rnd = mulberry32(opts.seed ?? 1);
  const pop = mulberry32(opts.populationSeed ?? opts.seed ?? 1);
  const start = opts.startMs ?? Date.parse('2026-11-23T08:00:00Z');
  const span = (opts.hours ?? 12) * 3_600_000;
  const malformedShare = opts.malformedShare ?? 0.002;
  const ignoredShare = opts.ignoredShare ?? 0.05;
  const wifiShare = opts.kind === 'wifi' ? 1 : opts.kind === 'ble' ? 0 : 0.6;
  const nWifi = Math.round(opts.devices * wifiShare);
  const nBle = opts.devices - nWifi;

  const truth: Truth = {
    frames: 0,
    malformed: 0,
    ignored: 0,
    wifi: { probeRequests: 0, devices: { global: 0, randomized: 0 } },
    ble: { advertisements: 0, devices: { public: 0, static: 0, rpa: 0, nrpa: 0 }, ibeacons: 0, eddystones: 0 },
  };

  // ---- device populations
  const wifiMacs = new Float64Array(nWifi);
  const wifiSeen = new Uint8Array(nWifi);
  const wifiRandom = new Uint8Array(nWifi);
  for (let i = 0; i < nWifi; i++) {
    const randomized = pop() < (opts.randomizedShare ?? 0.85);
    wifiRandom[i] = randomized ? 1 : 0;
    // Global: a vendor OUI (unicast, globally administered) + a device part. Randomized: LA bit set.
    const first = randomized ? (Math.floor(pop() * 64) << 2) | 0x02 : (Math.floor(pop() * 64) << 2) & 0xfc;
    wifiMacs[i] = first * 2 ** 40 + Math.floor(pop() * 2 ** 32) * 256 + i % 256;
  }
  const bleTemplates: Uint8Array[] = [];
  const bleClass: BleClass[] = [];
  const bleSeen = new Uint8Array(nBle);
  const bleBeacon = new Uint8Array(nBle); // 1 iBeacon, 2 Eddystone
  for (let i = 0; i < nBle; i++) {
    const r = pop();
    const cls: BleClass = r < 0.1 ? 'public' : r < 0.3 ? 'static' : r < 0.8 ? 'rpa' : 'nrpa';
    const top = { public: Math.floor(pop() * 64) << 2, static: 0xc0, rpa: 0x40, nrpa: 0x00 }[cls];
    const mac = (top | Math.floor(pop() * 64)) * 2 ** 40 + Math.floor(pop() * 2 ** 32) * 256 + (i % 256);
    const b = pop();
    let ad: Uint8Array;
    let pduType = 0;
    if ((cls === 'public' || cls === 'static') && b < 0.15) {
      bleBeacon[i] = 1;
      pduType = 2;
      ad = concat(adFlags(0x04), adIBeacon({ uuid: 'f7826da64fa24e988024bc5b71e0893e', major: 100 + (i % 50), minor: i, power: -59 }));
    } else if ((cls === 'public' || cls === 'static') && b < 0.25) {
      bleBeacon[i] = 2;
      pduType = 2;
      ad = concat(adFlags(0x04), adEddystoneUid({ namespace: 'edd1ebeac04e5defa017', instance: (0x0badc0000000 + i).toString(16).padStart(12, '0') }));
    } else {
      pduType = b < 0.6 ? 0 : b < 0.8 ? 4 : 6;
      ad = pduType === 4 ? adName(`dev${i % 1000}`) : concat(adFlags(), adStructureManufacturer(i));
    }
    bleClass.push(cls);
    const pdu = bleAdvPdu({ pduType, txAdd: cls === 'public' ? 0 : 1, advA: mac, adData: ad });
    bleTemplates.push(concat(blePhdr({ rfChannel: 0, signalDbm: -60 }), bleLlPacket(pdu)));
  }

  // ---- writer
  const wifiOnly = opts.kind === 'wifi';
  const bleOnly = opts.kind === 'ble';
  const pcap = wifiOnly || bleOnly ? new PcapWriter(opts.out, wifiOnly ? LinkType.Ieee80211Radiotap : LinkType.BluetoothLeLlWithPhdr) : null;
  const ng = pcap ? null : new PcapngWriter(opts.out, [{ linktype: LinkType.Ieee80211Radiotap }, { linktype: LinkType.BluetoothLeLlWithPhdr, tsresol: 9 }]);
  const write = (wifi: boolean, ts: number, f: Uint8Array, orig?: number) => {
    if (pcap) pcap.add(ts, f, orig);
    else ng!.add(wifi ? 0 : 1, ts, f, orig);
    truth.frames++;
  };

  const rt = radiotapHeader({ flags: 0, freqMhz: 2412, signalDbm: -60, antenna: 0 });
  if (rt.length !== RT_LEN) throw new Error('radiotap template changed size');
  const wildcard = concat(rt, probeRequest({ sa: 0, seq: 0, ssid: '', dsChannel: 1 }));
  const directed = concat(rt, probeRequest({ sa: 0, seq: 0, ssid: 'Store-Guest', dsChannel: 1 }));
  const apBeacon = concat(rt, beaconFrame(0x001122334455, 'Store-Guest'));
  const data = concat(rt, dataFrame(0x0011223344aa, 0x001122334455));
  const seqs = new Uint16Array(nWifi);

  const pick = opts.uniform ? (r: () => number, n: number) => Math.floor(r() * n) : pickSkewed;
  const meanGap = span / Math.max(1, opts.frames);
  let ts = start;
  while (truth.frames < opts.frames) {
    const wifi = rnd() < wifiShare;
    ts += meanGap * (wifi ? 4 : 1) * (0.5 + rnd());
    const special = rnd();
    if (special < malformedShare) {
      writeMalformed(wifi, ts, rnd, directed, bleTemplates[0], write);
      truth.malformed++;
      continue;
    }
    if (special < malformedShare + ignoredShare) {
      if (wifi || nBle === 0) write(true, ts, rnd() < 0.7 ? apBeacon : data);
      else write(false, ts, scanReq());
      truth.ignored++;
      continue;
    }
    if (wifi && nWifi > 0) {
      // A phone's burst: the same address on each channel with increasing sequence numbers.
      const d = pick(rnd, nWifi);
      const tpl = rnd() < 0.3 ? directed : wildcard;
      const burst = Math.min(2 + Math.floor(rnd() * 6), opts.frames - truth.frames);
      const sa = wifiMacs[d]!;
      macToBytes(sa, tpl, PR_SA);
      const rssi = -40 - Math.floor(rnd() * 50);
      for (let k = 0; k < burst; k++) {
        const seq = (seqs[d] = (seqs[d]! + 1) & 0xfff);
        tpl[PR_SEQ] = (seq << 4) & 0xff;
        tpl[PR_SEQ + 1] = seq >> 4;
        const freq = 2407 + 5 * CHANNELS[k % 3]!;
        tpl[RT_FREQ] = freq & 0xff;
        tpl[RT_FREQ + 1] = freq >> 8;
        tpl[RT_SIGNAL] = (rssi + Math.floor(rnd() * 5)) & 0xff;
        write(true, ts + k * 2.5, tpl);
        truth.wifi.probeRequests++;
      }
      ts += burst * 2.5;
      if (!wifiSeen[d]) {
        wifiSeen[d] = 1;
        if (wifiRandom[d]) truth.wifi.devices.randomized++;
        else truth.wifi.devices.global++;
      }
    } else if (nBle > 0) {
      const d = pick(rnd, nBle);
      const tpl = bleTemplates[d]!;
      tpl[0] = BLE_RF[Math.floor(rnd() * 3)]!;
      tpl[1] = (-45 - Math.floor(rnd() * 50)) & 0xff;
      write(false, ts, tpl);
      truth.ble.advertisements++;
      if (!bleSeen[d]) {
        bleSeen[d] = 1;
        truth.ble.devices[bleClass[d]!]++;
        if (bleBeacon[d] === 1) truth.ble.ibeacons++;
        if (bleBeacon[d] === 2) truth.ble.eddystones++;
      }
    }
  }
  (pcap ?? ng!).close();
  return truth;
}

/** Most traffic comes from a few busy devices, with a long tail: a squared uniform skews toward low ids. */
function pickSkewed(rnd: () => number, n: number): number {
  const u = rnd();
  return Math.min(n - 1, Math.floor(u * u * n));
}


function adStructureManufacturer(i: number): Uint8Array {
  return new Uint8Array([5, 0xff, 0x75, 0x00, i & 0xff, (i >> 8) & 0xff]); // Samsung-style payload
}

function scanReq(): Uint8Array {
  const pdu = new Uint8Array([0x03 | 0x40 | 0x80, 12, 1, 2, 3, 4, 5, 0x46, 6, 5, 4, 3, 2, 0xc1]);
  return concat(blePhdr({ rfChannel: 12, signalDbm: -70 }), bleLlPacket(pdu));
}

/** Broken in the ways real captures are: a cut header, a radiotap length past the end, an element overrun, a bad CRC. */
function writeMalformed(wifi: boolean, ts: number, rnd: () => number, probe: Uint8Array, ble: Uint8Array | undefined, write: (wifi: boolean, ts: number, f: Uint8Array) => void): void {
  const kind = Math.floor(rnd() * 3);
  if (wifi || !ble) {
    if (kind === 0) write(true, ts, probe.slice(0, RT_LEN + 20));
    else if (kind === 1) {
      const f = probe.slice();
      f[2] = 0xff; // radiotap length beyond the frame
      write(true, ts, f);
    } else {
      const f = probe.slice();
      f[RT_LEN + 25] = 200; // SSID element length runs past the frame
      write(true, ts, f);
    }
  } else {
    const f = ble.slice();
    f[f.length - 1] ^= 0x55; // CRC no longer matches
    write(false, ts, f);
  }
}

function parseArgs(argv: string[]): GenerateOptions {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const out = get('out');
  if (!out) throw new Error('usage: gen-capture --out FILE [--frames N] [--devices N] [--kind wifi|ble|mixed] [--seed S] [--randomized-share R] [--uniform]');
  const kind = (get('kind') ?? 'wifi') as GenerateOptions['kind'];
  if (!['wifi', 'ble', 'mixed'].includes(kind)) throw new Error('--kind must be wifi, ble or mixed');
  return {
    out,
    frames: Number(get('frames') ?? 100_000),
    devices: Number(get('devices') ?? 10_000),
    kind,
    seed: Number(get('seed') ?? 1),
    randomizedShare: get('randomized-share') !== undefined ? Number(get('randomized-share')) : undefined,
    uniform: argv.includes('--uniform'),
  };
}

if (process.argv[1] && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    const truth = generateCapture(opts);
    writeFileSync(`${opts.out}.truth.json`, JSON.stringify(truth, null, 1) + '\n');
    process.stdout.write(JSON.stringify(truth) + '\n');
  } catch (err) {
    process.stderr.write(`gen-capture: ${(err as Error).message}\n`);
    process.exitCode = 2;
  }
}
