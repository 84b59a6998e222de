/**
 * How an observation is shown to a technician or a script. Never the raw address: the Consumer-ID
 * stands for it. SSIDs and device names can name a person ("Jane's iPhone"), so they are shown only
 * when asked for, on the local terminal.
 */
import { ADDRESS_CLASS_NAMES, BLE_PDU_NAMES, Source, WifiFrame, type Observation } from '../decode/observation.js';
import type { Pseudonymizer } from '../pseudonymize/pseudonymizer.js';

export interface ObservationJson {
  ts: string;
  source: 'wifi' | 'ble';
  cid: string | null;
  addressClass: string;
  rssi: number | null;
  channel: number | null;
  freqMhz: number | null;
  seq?: number;
  /** A station's frame to a store AP (decode --network): association, authentication, data. */
  frame?: 'to-ap';
  directed?: boolean;
  ssid?: string;
  pdu?: string;
  name?: string;
  companyId?: number;
  txPower?: number;
  ibeacon?: { uuid: string; major: number; minor: number; measuredPower: number; cid: string };
  eddystone?: { namespace: string; instance: string; txPower: number; cid: string };
}

export function observationToJson(o: Observation, cid: string | null, p: Pseudonymizer, showNames: boolean): ObservationJson {
  const j: ObservationJson = {
    ts: new Date(o.tsMs).toISOString(),
    source: o.source === Source.Wifi ? 'wifi' : 'ble',
    cid,
    addressClass: ADDRESS_CLASS_NAMES[o.addressClass],
    rssi: Number.isNaN(o.rssi) ? null : o.rssi,
    channel: o.channel || null,
    freqMhz: o.freqMhz || null,
  };
  if (o.source === Source.Wifi) {
    j.seq = o.seq;
    if (o.frame === WifiFrame.ToAp) j.frame = 'to-ap';
    j.directed = o.ssidLen > 0;
    if (showNames && o.ssidOff >= 0) j.ssid = text(o.buf, o.ssidOff, o.ssidLen);
    return j;
  }
  j.pdu = BLE_PDU_NAMES[o.pdu] ?? String(o.pdu);
  if (showNames && o.nameOff >= 0) j.name = text(o.buf, o.nameOff, o.nameLen);
  if (o.companyId >= 0) j.companyId = o.companyId;
  if (!Number.isNaN(o.txPower)) j.txPower = o.txPower;
  if (o.ibeaconUuidOff >= 0) {
    j.ibeacon = {
      uuid: hex(o.buf, o.ibeaconUuidOff, 16),
      major: o.ibeaconMajor,
      minor: o.ibeaconMinor,
      measuredPower: o.ibeaconPower,
      cid: p.cidForIBeacon(o.buf, o.ibeaconUuidOff, o.ibeaconMajor, o.ibeaconMinor, o.tsMs),
    };
  }
  if (o.eddystoneNsOff >= 0) {
    j.eddystone = {
      namespace: hex(o.buf, o.eddystoneNsOff, 10),
      instance: hex(o.buf, o.eddystoneNsOff + 10, 6),
      txPower: o.eddystonePower,
      cid: p.cidForEddystone(o.buf, o.eddystoneNsOff, o.tsMs),
    };
  }
  return j;
}

/** One aligned line for the terminal. */
export function observationToText(j: ObservationJson): string {
  const rssi = j.rssi === null ? '   ?' : String(j.rssi).padStart(4);
  const ch = j.channel === null ? '  ?' : String(j.channel).padStart(3);
  const id = j.cid ?? '(ephemeral)'.padEnd(32);
  let info = '';
  if (j.source === 'wifi') info = `seq ${String(j.seq).padStart(4)} ${j.directed ? 'directed' : 'wildcard'}${j.ssid !== undefined ? ` ssid=${JSON.stringify(j.ssid)}` : ''}`;
  else {
    info = j.pdu ?? '';
    if (j.ibeacon) info += ` iBeacon ${j.ibeacon.uuid} ${j.ibeacon.major}/${j.ibeacon.minor}`;
    if (j.eddystone) info += ` Eddystone-UID ${j.eddystone.namespace}/${j.eddystone.instance}`;
    if (j.name !== undefined) info += ` name=${JSON.stringify(j.name)}`;
  }
  return `${j.ts}  ${j.source.padEnd(4)}  ${j.addressClass.padEnd(10)}  ${id}  ${rssi} dBm  ch ${ch}  ${info}`;
}

function hex(buf: Uint8Array, off: number, len: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + off, len).toString('hex');
}

/** Names and SSIDs are arbitrary bytes: decode as UTF-8, replacing what is not. */
function text(buf: Uint8Array, off: number, len: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + off, len).toString('utf8');
}
