/**
 * BLE advertising data (Core Specification Supplement, Part A): a list of [length, type, data]
 * structures. Fills the Observation with what presence analytics uses: flags, local name, TX power,
 * manufacturer data (with Apple's iBeacon) and 16-bit service data (with Eddystone-UID).
 */
import type { Observation } from './observation.js';

const AD_FLAGS = 0x01;
const AD_SHORT_NAME = 0x08;
const AD_COMPLETE_NAME = 0x09;
const AD_TX_POWER = 0x0a;
const AD_SERVICE_DATA_16 = 0x16;
const AD_MANUFACTURER = 0xff;

const APPLE = 0x004c;
const IBEACON_TYPE = 0x02;
const IBEACON_LEN = 0x15;
/** company(2) + type(1) + length(1) + uuid(16) + major(2) + minor(2) + power(1) */
const IBEACON_DATA = 25;
const EDDYSTONE_UUID = 0xfeaa;
const EDDYSTONE_UID_FRAME = 0x00;
/** uuid(2) + frame type(1) + tx power(1) + namespace(10) + instance(6); the 2 RFU bytes are optional. */
const EDDYSTONE_UID_MIN = 20;

/** False when a structure's length runs past the data (a 0 length ends the list: padding). */
export function parseAdStructures(buf: Uint8Array, off: number, len: number, o: Observation): boolean {
  o.adOff = off;
  o.adLen = len;
  const end = off + len;
  let p = off;
  while (p < end) {
    const l = buf[p]!;
    if (l === 0) break;
    if (p + 1 + l > end) return false;
    const type = buf[p + 1]!;
    const d = p + 2;
    const dlen = l - 1;
    switch (type) {
      case AD_FLAGS:
        if (dlen >= 1) o.adFlags = buf[d]!;
        break;
      case AD_SHORT_NAME:
      case AD_COMPLETE_NAME:
        if (o.nameOff < 0 || type === AD_COMPLETE_NAME) {
          o.nameOff = d;
          o.nameLen = dlen;
        }
        break;
      case AD_TX_POWER:
        if (dlen >= 1) o.txPower = (buf[d]! << 24) >> 24;
        break;
      case AD_MANUFACTURER:
        if (dlen >= 2) {
          o.companyId = buf[d]! | (buf[d + 1]! << 8);
          if (o.companyId === APPLE && dlen === IBEACON_DATA && buf[d + 2] === IBEACON_TYPE && buf[d + 3] === IBEACON_LEN) {
            o.ibeaconUuidOff = d + 4;
            o.ibeaconMajor = (buf[d + 20]! << 8) | buf[d + 21]!;
            o.ibeaconMinor = (buf[d + 22]! << 8) | buf[d + 23]!;
            o.ibeaconPower = (buf[d + 24]! << 24) >> 24;
          }
        }
        break;
      case AD_SERVICE_DATA_16:
        if (dlen >= EDDYSTONE_UID_MIN && (buf[d]! | (buf[d + 1]! << 8)) === EDDYSTONE_UUID && buf[d + 2] === EDDYSTONE_UID_FRAME) {
          o.eddystonePower = (buf[d + 3]! << 24) >> 24;
          o.eddystoneNsOff = d + 4;
        }
        break;
      default:
        break;
    }
    p += 1 + l;
  }
  return true;
}

/** True when every structure's length stays inside the data (what parseAdStructures checks, without parsing). */
export function adStructuresValid(buf: Uint8Array, off: number, len: number): boolean {
  const end = off + len;
  let p = off;
  while (p < end) {
    const l = buf[p]!;
    if (l === 0) return true;
    p += 1 + l;
  }
  return p === end;
}
