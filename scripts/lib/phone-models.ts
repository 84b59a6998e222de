/**
 * The phones (and wearables) of the demo's population: a small table of models as they behave today,
 * for scripts/gen-store-traffic.ts. Made up, but shaped on what phones really send (see the labelled
 * captures in test/fixtures/captures/probes-labelled):
 *
 * - iOS 14+ and Android 10+ probe with randomized, rotating addresses: an iPhone on iOS 16/17 takes a
 *   new address for almost every burst, an Android phone one per scan (or every few minutes), and the
 *   sequence number restarts at a random value with each new address (some older phones keep counting).
 *   Only old phones probe with their global address: a few percent (TrafficOptions.globalShare).
 * - Phones of one model and OS send the same information elements, in the same order: supported and
 *   extended rates, HT/VHT/HE capabilities, extended capabilities, interworking, vendor elements by OUI
 *   and type (Apple 00:17:f2, Microsoft 00:50:f2 — WPS is type 4 —, Broadcom 00:10:18 and 00:90:4c,
 *   Qualcomm 8c:fd:f0, Wi-Fi Alliance 50:6f:9a...). Randomized probes carry only the wildcard SSID.
 * - A burst is a few probe requests on each of the channels 1, 6 and 11 (the other channels are visited
 *   in between, unheard), every 20 s to a couple of minutes while the screen is on, rarer when idle.
 * - Bluetooth LE: phones and smartwatches advertise with resolvable private addresses (top bits 01)
 *   rotating every 5-15 minutes, with a payload shape (company id, AD length, TX power) that stays
 *   the same for the device; fitness bands keep a public or static address.
 */
import { dsParams, extIe, ie, vendorIe } from './frames.js';

const S = 1000;
const MIN = 60 * S;

/** How a phone changes its WiFi address. */
export interface WifiRotation {
  /** Chance that a burst starts with a new address (1: a new address per scan). */
  perBurst: number;
  /** An address is dropped at the latest after this long (drawn per address), whatever the bursts. */
  maxAgeMs: [number, number];
  /** The sequence number with a new address: restarts at a random value, or keeps counting. */
  seq: 'restart' | 'continue';
}

/** When and how a phone probes. */
export interface BurstShape {
  /** Probe requests per channel (1, 6, 11) in one burst, inclusive range. */
  perChannel: [number, number];
  /** Between the probes on one channel. */
  probeGapMs: [number, number];
  /** From one of the channels 1/6/11 to the next (the phone scans the channels in between too). */
  channelGapMs: [number, number];
  /** Between bursts while the screen is on... */
  screenOnMs: [number, number];
  /** ...and while the phone is idle in a pocket or a bag. */
  idleMs: [number, number];
}

/** A BLE advertiser's payload shape: the device keeps it, the contents change with every address. */
export interface BleProfile {
  /** Manufacturer-specific data's company id (Bluetooth SIG assigned numbers). */
  company: number;
  /** The first byte after the company id (Apple: the Continuity message type). */
  mfgType: number;
  /** Bytes of manufacturer data after the company id (type byte included): one is drawn per device. */
  mfgLen: number[];
  /** TX Power Level AD (dBm), or null for none: one is drawn per device. */
  txPower: (number | null)[];
  /** AD flags byte. */
  flags: number;
  /** 0 ADV_IND, 2 ADV_NONCONN_IND, 6 ADV_SCAN_IND. */
  pdu: number;
  /** A resolvable private address lives this long (drawn per address). */
  rotateMs: [number, number];
}

export interface PhoneModel {
  /** Short stable id, e.g. 'iphone14-ios17'. */
  id: string;
  name: string;
  os: string;
  /** Share of the phones in its group (randomizing or global), the group's shares sum to 1. */
  share: number;
  /** Probes with its global (burned-in) address: old phones only. */
  globalAddress: boolean;
  /** The elements after the SSID, for a probe sent on `channel`. */
  elements: (channel: number) => Uint8Array[];
  rotation: WifiRotation;
  burst: BurstShape;
  /** Chance that a phone of this model advertises over BLE (null: never). */
  bleShare: number;
  ble: BleProfile | null;
}

// ------------------------------------------------------------------ element contents

const RATES_BASIC = ie(1, [0x82, 0x84, 0x8b, 0x96]);
const RATES_11B = ie(1, [0x02, 0x04, 0x0b, 0x16]);
const EXT_RATES = ie(50, [0x0c, 0x12, 0x18, 0x24, 0x30, 0x48, 0x60, 0x6c]);
/** Some Android builds put eight rates in the first element and four in the extended one. */
const RATES_8 = ie(1, [0x02, 0x04, 0x0b, 0x16, 0x0c, 0x12, 0x18, 0x24]);
const EXT_RATES_4 = ie(50, [0x30, 0x48, 0x60, 0x6c]);

/** HT Capabilities: capability info (2), A-MPDU parameters, MCS set (16), extended (2), TxBF (4), ASEL. */
function htCaps(info: number, ampdu: number, streams: 1 | 2): Uint8Array {
  const mcs = streams === 2 ? [0xff, 0xff] : [0xff, 0x00];
  return ie(45, [info & 0xff, info >> 8, ampdu, ...mcs, ...new Array(14).fill(0), 0, 0, 0, 0, 0, 0, 0]);
}

const extCaps = (...bytes: number[]) => ie(127, bytes);
const vhtCaps = (...bytes: number[]) => ie(191, bytes);
/** HE Capabilities (extension 35): MAC (6), PHY (11), MCS/NSS (4), PPE thresholds. */
const heCaps = (...bytes: number[]) => extIe(35, bytes);
/** HE 6 GHz Band Capabilities (extension 59). */
const he6GhzCaps = (a: number, b: number) => extIe(59, [a, b]);
/** EHT Capabilities (extension 108). */
const ehtCaps = (...bytes: number[]) => extIe(108, bytes);
/** FILS Request Parameters (extension 2). */
const filsRequest = (v: number) => extIe(2, [0x00, v]);
/** Interworking: access network type 15 (wildcard), wildcard HESSID. */
const INTERWORKING = ie(107, [0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const rmCaps = (...bytes: number[]) => ie(70, bytes);

const OUI_APPLE = 0x0017f2;
const OUI_MICROSOFT = 0x0050f2;
const OUI_BROADCOM = 0x001018;
const OUI_EPIGRAM = 0x00904c; // Broadcom's VHT-in-2.4-GHz element
const OUI_QUALCOMM = 0x8cfdf0;
const OUI_ATHEROS = 0x00037f;
const OUI_HUAWEI = 0x00e0fc;
const OUI_WFA = 0x506f9a;

const appleIe = (v: number) => vendorIe(OUI_APPLE, 0x0a, [0x00, 0x01, v, 0x00, 0x00, 0x00, 0x00]);
/** Microsoft type 8 as Samsung phones send it. */
const msType8 = (v: number) => vendorIe(OUI_MICROSOFT, 0x08, [0x00, v, 0x00]);
const broadcomIe = (v: number) => vendorIe(OUI_BROADCOM, 0x02, [0x00, 0x00, v, 0x00, 0x00]);
const epigramVht = (v: number) => vendorIe(OUI_EPIGRAM, 0x04, [0x08, 0xbf, 0x0c, v, 0x78, 0x91, 0x0f, 0xfa, 0xff, 0x00, 0x00, 0xfa, 0xff, 0x00, 0x20]);
const qualcommIe = (v: number) => vendorIe(OUI_QUALCOMM, 0x01, [0x01, 0x02, 0x01, v]);
const atherosIe = vendorIe(OUI_ATHEROS, 0x01, [0x01, 0x00, 0x00, 0xff, 0x7f]);
const huaweiIe = vendorIe(OUI_HUAWEI, 0x80, [0x00, 0x00, 0x00, 0x01, 0x00]);
/** Wi-Fi Alliance MBO-OCE: cellular data capability, non-preferred channels none. */
const mboOce = (cell: number) => vendorIe(OUI_WFA, 0x16, [0x03, 0x01, cell, 0x65, 0x01, 0x01]);

/**
 * Microsoft WPS (type 4) in a probe request: version, request type, config methods, primary device
 * type (telephone), RF band, WFA vendor extension. No UUID-E and no device name: those would tell
 * one phone from another.
 */
function wpsIe(configMethods: number): Uint8Array {
  const attr = (type: number, v: number[]) => [type >> 8, type & 0xff, v.length >> 8, v.length & 0xff, ...v];
  return vendorIe(OUI_MICROSOFT, 0x04, [
    ...attr(0x104a, [0x10]),
    ...attr(0x103a, [0x00]),
    ...attr(0x1008, [configMethods >> 8, configMethods & 0xff]),
    ...attr(0x1054, [0x00, 0x0a, 0x00, 0x50, 0xf2, 0x04, 0x00, 0x05]),
    ...attr(0x103c, [0x01]),
    ...attr(0x1049, [0x00, 0x37, 0x2a, 0x00, 0x01, 0x20]),
  ]);
}

// iOS 16/17's HE capabilities (an iPhone 11/12 on iOS 16.4 sends the first one), and variations.
const HE_IOS = [0x01, 0x08, 0x08, 0x18, 0x00, 0x80, 0x20, 0x30, 0x02, 0x00, 0x0d, 0x00, 0x9f, 0x08, 0x00, 0x00, 0x00, 0xfd, 0xff, 0xfd, 0xff, 0x39, 0x1c, 0xc7, 0x71, 0x1c, 0x07];
const withBytes = (base: number[], at: number, ...v: number[]) => {
  const c = base.slice();
  c.splice(at, v.length, ...v);
  return c;
};
const HE_SAMSUNG = [0x01, 0x08, 0x08, 0x18, 0x00, 0x80, 0x20, 0x30, 0x02, 0x80, 0x0d, 0x01, 0x9e, 0x00, 0x0c, 0x00, 0x00, 0xf5, 0xff, 0xf5, 0xff, 0x39, 0x1c, 0xc7, 0x71, 0x1c, 0x07];
const HE_PIXEL = [0x0d, 0x01, 0x08, 0x1a, 0x40, 0x00, 0x04, 0x70, 0x0c, 0x89, 0x7f, 0x03, 0x80, 0x04, 0x00, 0x00, 0x00, 0xaa, 0xaa, 0xaa, 0xaa, 0x7b, 0x1c, 0xc7, 0x71, 0x1c, 0xc7, 0x71];
const HE_QCOM = [0x01, 0x08, 0x08, 0x18, 0x00, 0x80, 0x20, 0x30, 0x02, 0x00, 0x0d, 0x00, 0x9f, 0x00, 0x00, 0x00, 0x00, 0xfa, 0xff, 0xfa, 0xff, 0x19, 0x1c, 0xc7, 0x71];

// ------------------------------------------------------------------ behaviour

/** iOS 16/17: a new address for almost every burst, the sequence number restarts with it. */
const IOS_ROTATION = (perBurst: number, maxMin: [number, number]): WifiRotation => ({ perBurst, maxAgeMs: [maxMin[0] * MIN, maxMin[1] * MIN], seq: 'restart' });
/** Android 10+ on most phones: a new address per scan. */
const PER_SCAN: WifiRotation = { perBurst: 1, maxAgeMs: [10 * MIN, 10 * MIN], seq: 'restart' };
/** A global address never changes (and its sequence number keeps counting). */
const NEVER: WifiRotation = { perBurst: 0, maxAgeMs: [Infinity, Infinity], seq: 'continue' };

const IOS_BURST: BurstShape = { perChannel: [1, 2], probeGapMs: [8, 22], channelGapMs: [40, 110], screenOnMs: [20 * S, 75 * S], idleMs: [90 * S, 300 * S] };
const SAMSUNG_BURST: BurstShape = { perChannel: [1, 2], probeGapMs: [5, 15], channelGapMs: [30, 90], screenOnMs: [20 * S, 60 * S], idleMs: [120 * S, 300 * S] };
const PIXEL_BURST: BurstShape = { perChannel: [1, 1], probeGapMs: [5, 15], channelGapMs: [30, 80], screenOnMs: [20 * S, 60 * S], idleMs: [120 * S, 330 * S] };
const XIAOMI_BURST: BurstShape = { perChannel: [1, 2], probeGapMs: [10, 25], channelGapMs: [50, 110], screenOnMs: [25 * S, 80 * S], idleMs: [120 * S, 300 * S] };
/** Old phones: short bursts, and (needed by HQ's 10-minute gap) never more than 5 minutes apart. */
const LEGACY_BURST: BurstShape = { perChannel: [1, 2], probeGapMs: [10, 30], channelGapMs: [60, 120], screenOnMs: [30 * S, 90 * S], idleMs: [90 * S, 270 * S] };

const APPLE_BLE: BleProfile = { company: 0x004c, mfgType: 0x10, mfgLen: [7, 8], txPower: [12, null], flags: 0x1a, pdu: 0, rotateMs: [8 * MIN, 15 * MIN] };
const SAMSUNG_BLE: BleProfile = { company: 0x0075, mfgType: 0x42, mfgLen: [18, 24], txPower: [null], flags: 0x1a, pdu: 2, rotateMs: [5 * MIN, 15 * MIN] };
const GOOGLE_BLE: BleProfile = { company: 0x00e0, mfgType: 0x01, mfgLen: [10, 12], txPower: [-7, null], flags: 0x06, pdu: 2, rotateMs: [7 * MIN, 15 * MIN] };
const XIAOMI_BLE: BleProfile = { company: 0x038f, mfgType: 0x16, mfgLen: [12, 14], txPower: [null], flags: 0x1a, pdu: 0, rotateMs: [10 * MIN, 15 * MIN] };

// ------------------------------------------------------------------ the table

/** Phones that randomize (the shares sum to 1), then the old ones with a global address (likewise). */
export const PHONE_MODELS: readonly PhoneModel[] = [
  {
    id: 'iphone12-ios16',
    name: 'iPhone 12',
    os: 'iOS 16',
    share: 0.08,
    globalAddress: false,
    elements: (ch) => [RATES_BASIC, EXT_RATES, dsParams(ch), htCaps(0x402d, 0x1b, 1), extCaps(0x00, 0x00, 0x08, 0x04, 0x00, 0x00, 0x00, 0x40), heCaps(...HE_IOS), appleIe(0x04)],
    rotation: IOS_ROTATION(0.9, [3, 6]),
    burst: IOS_BURST,
    bleShare: 0.95,
    ble: APPLE_BLE,
  },
  {
    id: 'iphone13-ios16',
    name: 'iPhone 13',
    os: 'iOS 16',
    share: 0.12,
    globalAddress: false,
    elements: (ch) => [RATES_BASIC, EXT_RATES, dsParams(ch), htCaps(0x402d, 0x1b, 1), extCaps(0x00, 0x00, 0x08, 0x04, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x20), heCaps(...HE_IOS)],
    rotation: IOS_ROTATION(0.9, [3, 6]),
    burst: IOS_BURST,
    bleShare: 0.95,
    ble: APPLE_BLE,
  },
  {
    id: 'iphone14-ios17',
    name: 'iPhone 14',
    os: 'iOS 17',
    share: 0.12,
    globalAddress: false,
    elements: (ch) => [RATES_BASIC, EXT_RATES, dsParams(ch), htCaps(0x406f, 0x1b, 2), extCaps(0x00, 0x00, 0x08, 0x84, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x20), heCaps(...withBytes(HE_IOS, 12, 0xbf)), appleIe(0x06)],
    rotation: IOS_ROTATION(0.8, [3, 6]),
    burst: IOS_BURST,
    bleShare: 0.95,
    ble: APPLE_BLE,
  },
  {
    id: 'iphone15-ios17',
    name: 'iPhone 15',
    os: 'iOS 17',
    share: 0.11,
    globalAddress: false,
    elements: (ch) => [RATES_BASIC, EXT_RATES, dsParams(ch), htCaps(0x41ef, 0x1b, 2), extCaps(0x04, 0x00, 0x08, 0x84, 0x00, 0x00, 0x00, 0x40, 0x00, 0x40, 0x20), heCaps(...withBytes(HE_IOS, 12, 0xbf, 0x18)), he6GhzCaps(0xbd, 0x04)],
    rotation: IOS_ROTATION(0.8, [3, 6]),
    burst: IOS_BURST,
    bleShare: 0.95,
    ble: APPLE_BLE,
  },
  {
    id: 'galaxy-s21-android13',
    name: 'Samsung Galaxy S21',
    os: 'Android 13',
    share: 0.07,
    globalAddress: false,
    elements: (ch) => [RATES_BASIC, EXT_RATES, dsParams(ch), htCaps(0x002d, 0x1b, 2), extCaps(0x04, 0x00, 0x48, 0x80, 0x01, 0x40, 0x00, 0x40, 0x00, 0x21), filsRequest(0x14), heCaps(...HE_SAMSUNG), epigramVht(0x76), msType8(0x12), broadcomIe(0x10), mboOce(0x02)],
    rotation: PER_SCAN,
    burst: SAMSUNG_BURST,
    bleShare: 0.6,
    ble: SAMSUNG_BLE,
  },
  {
    id: 'galaxy-s23-android14',
    name: 'Samsung Galaxy S23',
    os: 'Android 14',
    share: 0.08,
    globalAddress: false,
    elements: (ch) => [RATES_BASIC, EXT_RATES, dsParams(ch), rmCaps(0x73, 0x00, 0x00, 0x00, 0x00), htCaps(0x01ef, 0x1b, 2), extCaps(0x04, 0x00, 0x4a, 0x82, 0x01, 0x40, 0x00, 0x40, 0x80, 0x21), filsRequest(0x14), heCaps(...withBytes(HE_SAMSUNG, 1, 0x0c)), he6GhzCaps(0xb8, 0x30), msType8(0x12), broadcomIe(0x10), mboOce(0x02)],
    rotation: PER_SCAN,
    burst: SAMSUNG_BURST,
    bleShare: 0.6,
    ble: SAMSUNG_BLE,
  },
  {
    id: 'galaxy-a52-android13',
    name: 'Samsung Galaxy A52',
    os: 'Android 13',
    share: 0.07,
    globalAddress: false,
    elements: (ch) => [RATES_BASIC, EXT_RATES, dsParams(ch), htCaps(0x002d, 0x17, 1), extCaps(0x04, 0x00, 0x08, 0x80, 0x01, 0x40, 0x00, 0x40), INTERWORKING, vhtCaps(0x32, 0x00, 0x80, 0x03, 0xfe, 0xff, 0x00, 0x00, 0xfe, 0xff, 0x00, 0x00), wpsIe(0x3148), qualcommIe(0x00), mboOce(0x01)],
    rotation: PER_SCAN,
    burst: SAMSUNG_BURST,
    bleShare: 0.5,
    ble: SAMSUNG_BLE,
  },
  {
    id: 'galaxy-a54-android14',
    name: 'Samsung Galaxy A54',
    os: 'Android 14',
    share: 0.09,
    globalAddress: false,
    elements: (ch) => [RATES_BASIC, EXT_RATES, dsParams(ch), htCaps(0x012d, 0x17, 2), extCaps(0x04, 0x00, 0x48, 0x80, 0x01, 0x40, 0x00, 0x40, 0x00, 0x01), INTERWORKING, vhtCaps(0xb2, 0x71, 0x91, 0x33, 0xfa, 0xff, 0x0c, 0x03, 0xfa, 0xff, 0x0c, 0x03), heCaps(...withBytes(HE_SAMSUNG, 9, 0x00)), msType8(0x12), mboOce(0x02)],
    rotation: PER_SCAN,
    burst: SAMSUNG_BURST,
    bleShare: 0.5,
    ble: SAMSUNG_BLE,
  },
  {
    id: 'pixel7-android14',
    name: 'Google Pixel 7',
    os: 'Android 14',
    share: 0.04,
    globalAddress: false,
    elements: (ch) => [RATES_8, EXT_RATES_4, dsParams(ch), htCaps(0x016f, 0x17, 2), extCaps(0x04, 0x00, 0x0a, 0x82, 0x01, 0x40, 0x40, 0x40, 0x00, 0x01, 0x20), INTERWORKING, vhtCaps(0x92, 0xf1, 0x91, 0x33, 0xfa, 0xff, 0x62, 0x03, 0xfa, 0xff, 0x62, 0x03), heCaps(...HE_PIXEL), broadcomIe(0x00), mboOce(0x01)],
    rotation: PER_SCAN,
    burst: PIXEL_BURST,
    bleShare: 0.5,
    ble: GOOGLE_BLE,
  },
  {
    id: 'pixel8-android14',
    name: 'Google Pixel 8',
    os: 'Android 14',
    share: 0.04,
    globalAddress: false,
    elements: (ch) => [RATES_8, EXT_RATES_4, dsParams(ch), rmCaps(0x72, 0x00, 0x00, 0x00, 0x00), htCaps(0x09ef, 0x1b, 2), extCaps(0x04, 0x00, 0x0a, 0x82, 0x01, 0x40, 0x40, 0x40, 0x80, 0x01, 0x20), INTERWORKING, vhtCaps(0x92, 0xf1, 0x91, 0x33, 0xfa, 0xff, 0x62, 0x03, 0xfa, 0xff, 0x62, 0x03), heCaps(...HE_PIXEL), he6GhzCaps(0xbd, 0x06), ehtCaps(0x00, 0x00, 0xe2, 0xff, 0xdb, 0x00, 0x18, 0x36, 0xd8, 0x1e, 0x00, 0x44, 0x44, 0x44), broadcomIe(0x00), mboOce(0x01)],
    rotation: PER_SCAN,
    burst: PIXEL_BURST,
    bleShare: 0.5,
    ble: GOOGLE_BLE,
  },
  {
    id: 'redmi-note12-android13',
    name: 'Xiaomi Redmi Note 12',
    os: 'Android 13',
    share: 0.18,
    globalAddress: false,
    elements: (ch) => [RATES_11B, EXT_RATES, dsParams(ch), htCaps(0x012d, 0x17, 1), extCaps(0x04, 0x00, 0x0a, 0x02, 0x01, 0x40, 0x00, 0x40, 0x80, 0x01), vhtCaps(0x32, 0x00, 0x80, 0x03, 0xfe, 0xff, 0x00, 0x00, 0xfe, 0xff, 0x00, 0x00), heCaps(...HE_QCOM), wpsIe(0x3148), qualcommIe(0x01), mboOce(0x01)],
    // An older MIUI build: a new address every few minutes, and the sequence number keeps counting.
    rotation: { perBurst: 0, maxAgeMs: [2 * MIN, 5 * MIN], seq: 'continue' },
    burst: XIAOMI_BURST,
    bleShare: 0.35,
    ble: XIAOMI_BLE,
  },
  // ---- old phones with a global address (TrafficOptions.globalShare of all phones)
  {
    id: 'galaxy-j5-android7',
    name: 'Samsung Galaxy J5',
    os: 'Android 7.1',
    share: 0.6,
    globalAddress: true,
    elements: (ch) => [RATES_11B, EXT_RATES, dsParams(ch), htCaps(0x012c, 0x03, 1), extCaps(0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x40), INTERWORKING, wpsIe(0x3148), atherosIe],
    rotation: NEVER,
    burst: LEGACY_BURST,
    bleShare: 0,
    ble: null,
  },
  {
    id: 'p10lite-android8',
    name: 'Huawei P10 lite',
    os: 'Android 8.0',
    share: 0.4,
    globalAddress: true,
    elements: (ch) => [RATES_11B, EXT_RATES, dsParams(ch), htCaps(0x016e, 0x1b, 1), extCaps(0x04, 0x00, 0x08, 0x80, 0x00, 0x00, 0x00, 0x40), wpsIe(0x0188), huaweiIe],
    rotation: NEVER,
    burst: LEGACY_BURST,
    bleShare: 0,
    ble: null,
  },
];

/** A smartwatch or a fitness band on a customer's wrist. */
export interface WearableModel {
  id: string;
  name: string;
  /** rpa: resolvable private addresses rotating like a phone's; public or static: one stable address. */
  address: 'rpa' | 'public' | 'static';
  ble: BleProfile;
}

const STABLE: [number, number] = [Infinity, Infinity];

export const WEARABLES: readonly WearableModel[] = [
  { id: 'apple-watch', name: 'Apple Watch', address: 'rpa', ble: { company: 0x004c, mfgType: 0x10, mfgLen: [7], txPower: [null], flags: 0x1a, pdu: 0, rotateMs: [8 * MIN, 15 * MIN] } },
  { id: 'galaxy-watch', name: 'Samsung Galaxy Watch', address: 'rpa', ble: { company: 0x0075, mfgType: 0x01, mfgLen: [16], txPower: [null], flags: 0x1a, pdu: 0, rotateMs: [5 * MIN, 15 * MIN] } },
  // Fitness bands keep one address, as the demo's watches always did.
  { id: 'garmin-band', name: 'Garmin fitness band', address: 'public', ble: { company: 0x0087, mfgType: 0x00, mfgLen: [5], txPower: [null], flags: 0x06, pdu: 0, rotateMs: STABLE } },
  { id: 'huawei-band', name: 'Huawei Band', address: 'static', ble: { company: 0x027d, mfgType: 0x00, mfgLen: [5], txPower: [null], flags: 0x06, pdu: 2, rotateMs: STABLE } },
  { id: 'mi-band', name: 'Xiaomi Mi Band', address: 'static', ble: { company: 0x0157, mfgType: 0x00, mfgLen: [5], txPower: [null], flags: 0x06, pdu: 0, rotateMs: STABLE } },
];

/** Indices of the randomizing and the global-address models. */
export const RANDOMIZING_MODELS = PHONE_MODELS.map((_, i) => i).filter((i) => !PHONE_MODELS[i]!.globalAddress);
export const GLOBAL_MODELS = PHONE_MODELS.map((_, i) => i).filter((i) => PHONE_MODELS[i]!.globalAddress);

export function modelIndex(id: string): number {
  const i = PHONE_MODELS.findIndex((m) => m.id === id);
  if (i < 0) throw new Error(`no phone model ${id}`);
  return i;
}
