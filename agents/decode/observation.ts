/**
 * The one record every decoder fills in. Decoders are zero-copy: instead of slicing, they point into
 * the frame's buffer (`buf` + offsets), and the hot path reuses one Observation for every frame, so a
 * consumer must copy what it keeps before the decoder's next call.
 */

/** What a decoder made of one frame (or of one report inside an HCI event). */
export const FrameStatus = {
  /** At least one observation was emitted. */
  Observed: 0,
  /** A well-formed frame that carries no presence signal (beacons, data, SCAN_REQ, commands...). */
  Ignored: 1,
  /** Truncated or inconsistent bytes: counted and skipped. */
  Malformed: 2,
} as const;
export type FrameStatus = (typeof FrameStatus)[keyof typeof FrameStatus];

export const Source = { Wifi: 1, Ble: 2 } as const;
export type Source = (typeof Source)[keyof typeof Source];

/**
 * Address classes of DESIGN.md. Randomized WiFi and the two BLE private kinds are ephemeral: they are
 * counted, but never get a Consumer-ID. `WifiAssociated` is a randomized address seen connected to one of
 * the store's own networks: a per-network address (Android 10+, iOS 14+), stable for that network, so it
 * gets a Consumer-ID like a global one.
 */
export const AddressClass = {
  WifiGlobal: 1,
  WifiRandomized: 2,
  BlePublic: 3,
  BleStatic: 4,
  BleRpa: 5,
  BleNrpa: 6,
  WifiAssociated: 7,
} as const;
export type AddressClass = (typeof AddressClass)[keyof typeof AddressClass];

export const ADDRESS_CLASS_NAMES: Record<AddressClass, string> = {
  [AddressClass.WifiGlobal]: 'global',
  [AddressClass.WifiRandomized]: 'randomized',
  [AddressClass.BlePublic]: 'public',
  [AddressClass.BleStatic]: 'static',
  [AddressClass.BleRpa]: 'rpa',
  [AddressClass.BleNrpa]: 'nrpa',
  [AddressClass.WifiAssociated]: 'associated',
};

/**
 * Which 802.11 frame a WiFi observation is. Only probe requests are decoded unless the pipeline watches the
 * store's networks; then frames a station sends to an access point (association, authentication, data,
 * null, a probe request addressed to one AP) and what access points announce (beacons, probe responses)
 * are decoded too, for the network watcher alone: they are never counted as probes.
 */
export const WifiFrame = {
  ProbeRequest: 0,
  /** Station to AP: `mac` is the station, `bssid` the AP. */
  ToAp: 1,
  /** Beacon or probe response: `mac` is the AP (its BSSID), the SSID element as for probes. */
  ApAnnounce: 2,
} as const;
export type WifiFrame = (typeof WifiFrame)[keyof typeof WifiFrame];

export function isEphemeral(cls: AddressClass): boolean {
  return cls === AddressClass.WifiRandomized || cls === AddressClass.BleRpa || cls === AddressClass.BleNrpa;
}

/** BLE advertising PDU kinds we report (legacy names; extended reports map onto them by properties). */
export const BlePdu = {
  AdvInd: 0,
  AdvDirectInd: 1,
  AdvNonconnInd: 2,
  ScanRsp: 4,
  AdvScanInd: 6,
  AdvExt: 7,
} as const;
export type BlePdu = (typeof BlePdu)[keyof typeof BlePdu];

export const BLE_PDU_NAMES: Record<number, string> = {
  0: 'ADV_IND',
  1: 'ADV_DIRECT_IND',
  2: 'ADV_NONCONN_IND',
  4: 'SCAN_RSP',
  6: 'ADV_SCAN_IND',
  7: 'ADV_EXT',
};

export interface Observation {
  source: Source;
  /** Capture time, milliseconds since the Unix epoch (fractional part keeps microseconds). */
  tsMs: number;
  /**
   * The transmitter's address as a 48-bit integer in written order (aa:bb:cc:dd:ee:ff = 0xaabbccddeeff).
   * BLE sends addresses least significant byte first; decoders reverse them so both sources agree.
   */
  mac: number;
  addressClass: AddressClass;
  /** dBm, or NaN when the capture does not say. */
  rssi: number;
  /** WiFi channel number or BLE channel index (37..39 for primary advertising); 0 when unknown. */
  channel: number;
  /** WiFi centre frequency in MHz, or BLE RF centre frequency; 0 when unknown. */
  freqMhz: number;

  /** The buffer the offsets below point into (the frame's bytes). */
  buf: Uint8Array;

  // --- WiFi probe request ---
  /** 802.11 sequence number (0..4095), -1 when not WiFi. */
  seq: number;
  /** WifiFrame value (ProbeRequest for every probe request and for BLE). */
  frame: WifiFrame;
  /** The AP's address of a ToAp frame (48-bit, written order), -1 otherwise. */
  bssid: number;
  /** SSID element: offset/length into buf; ssidOff = -1 when absent. Length 0 = wildcard SSID. */
  ssidOff: number;
  ssidLen: number;
  /** The tagged parameters (information elements) of the probe request body. */
  ieOff: number;
  ieLen: number;

  // --- BLE advertisement ---
  /** BlePdu value, -1 when not BLE. */
  pdu: number;
  /** AD structures (advertising data) offset/length into buf. */
  adOff: number;
  adLen: number;
  /** AD flags byte, -1 when absent. */
  adFlags: number;
  /** Local name (shortened or complete) offset/length; nameOff = -1 when absent. */
  nameOff: number;
  nameLen: number;
  /** Manufacturer data company id, -1 when absent. */
  companyId: number;
  /** TX power level AD (dBm), NaN when absent. */
  txPower: number;

  /** iBeacon: offset of the 16-byte proximity UUID, -1 when the frame carries no iBeacon. */
  ibeaconUuidOff: number;
  ibeaconMajor: number;
  ibeaconMinor: number;
  /** Measured power at 1 m (signed dBm). */
  ibeaconPower: number;

  /** Eddystone-UID: offset of the 10-byte namespace (the 6-byte instance follows), -1 when absent. */
  eddystoneNsOff: number;
  /** Calibrated TX power at 0 m (signed dBm). */
  eddystonePower: number;
}

export function newObservation(): Observation {
  const o = {} as Observation;
  resetObservation(o, EMPTY);
  return o;
}

const EMPTY = new Uint8Array(0);

/** Clears every field so nothing of the previous frame leaks into the next one. */
export function resetObservation(o: Observation, buf: Uint8Array): void {
  o.source = Source.Wifi;
  o.tsMs = 0;
  o.mac = 0;
  o.addressClass = AddressClass.WifiGlobal;
  o.rssi = NaN;
  o.channel = 0;
  o.freqMhz = 0;
  o.buf = buf;
  o.seq = -1;
  o.frame = WifiFrame.ProbeRequest;
  o.bssid = -1;
  o.ssidOff = -1;
  o.ssidLen = 0;
  o.ieOff = 0;
  o.ieLen = 0;
  o.pdu = -1;
  o.adOff = 0;
  o.adLen = 0;
  o.adFlags = -1;
  o.nameOff = -1;
  o.nameLen = 0;
  o.companyId = -1;
  o.txPower = NaN;
  o.ibeaconUuidOff = -1;
  o.ibeaconMajor = 0;
  o.ibeaconMinor = 0;
  o.ibeaconPower = 0;
  o.eddystoneNsOff = -1;
  o.eddystonePower = 0;
}

/** Receives each observation a decoder finds; the Observation is reused after the call returns. */
export type ObservationSink = (o: Observation) => void;

/** Reads a 6-byte address stored in transmission order (as in 802.11) into a 48-bit integer. */
export function macFromBytes(b: Uint8Array, off: number): number {
  return (b[off]! * 0x10000 + (b[off + 1]! << 8 | b[off + 2]!)) * 0x1000000 + (b[off + 3]! << 16 | b[off + 4]! << 8 | b[off + 5]!);
}

/** Reads a 6-byte address stored least significant byte first (as in BLE and HCI). */
export function macFromBytesReversed(b: Uint8Array, off: number): number {
  return (b[off + 5]! * 0x10000 + (b[off + 4]! << 8 | b[off + 3]!)) * 0x1000000 + (b[off + 2]! << 16 | b[off + 1]! << 8 | b[off]!);
}

/** The first (most significant) octet of a 48-bit address. */
export function macFirstOctet(mac: number): number {
  return Math.floor(mac / 0x10000000000) & 0xff;
}

/** Writes the 6 address bytes in written order, e.g. for hashing. */
export function macToBytes(mac: number, out: Uint8Array = new Uint8Array(6), off = 0): Uint8Array {
  const hi = Math.floor(mac / 0x1000000);
  const lo = mac % 0x1000000;
  out[off] = (hi >>> 16) & 0xff;
  out[off + 1] = (hi >>> 8) & 0xff;
  out[off + 2] = hi & 0xff;
  out[off + 3] = (lo >>> 16) & 0xff;
  out[off + 4] = (lo >>> 8) & 0xff;
  out[off + 5] = lo & 0xff;
  return out;
}

/** aa:bb:cc:dd:ee:ff, for a technician's local diagnostics only: never log or store it. */
export function macToString(mac: number): string {
  const b = macToBytes(mac);
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + b[i]!.toString(16).padStart(2, '0');
  return s;
}

/**
 * The frame decoders' common signature: `linktype`-specific bytes at buf[off, off+len), `origLen` the
 * length on the air (larger than len when the capture's snap length cut the frame).
 */
export type FrameDecoder = (
  buf: Uint8Array,
  off: number,
  len: number,
  origLen: number,
  tsMs: number,
  scratch: Observation,
  sink: ObservationSink,
) => FrameStatus;
