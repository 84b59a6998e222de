/**
 * Consumer-IDs (DESIGN.md identity scheme v1): the first 16 bytes of HMAC-SHA256(day key, input), hex.
 * Inputs: a 6-byte address in written order; "ibeacon" ‖ uuid ‖ major ‖ minor; "eddystone-uid" ‖
 * namespace ‖ instance.
 */
import { toHex } from './hex.js';
import { KeyedHmac } from './keyed-hmac.js';

const IBEACON = new TextEncoder().encode('ibeacon');
const EDDYSTONE_UID = new TextEncoder().encode('eddystone-uid');
const CID_BYTES = 16;

/** A day key prepared for many Consumer-IDs. */
export class ConsumerIdHasher {
  private readonly h: KeyedHmac;
  private readonly beaconTail = new Uint8Array(4);

  constructor(dayKey: Uint8Array) {
    this.h = new KeyedHmac(dayKey);
  }

  address(mac6: Uint8Array): string {
    return toHex(this.h.mac(mac6), CID_BYTES);
  }

  ibeacon(uuid16: Uint8Array, major: number, minor: number): string {
    const t = this.beaconTail;
    t[0] = (major >> 8) & 0xff;
    t[1] = major & 0xff;
    t[2] = (minor >> 8) & 0xff;
    t[3] = minor & 0xff;
    return toHex(this.h.mac(IBEACON, uuid16, t), CID_BYTES);
  }

  eddystoneUid(namespace10: Uint8Array, instance6: Uint8Array): string {
    return toHex(this.h.mac(EDDYSTONE_UID, namespace10, instance6), CID_BYTES);
  }
}

export function cidForAddress(dayKey: Uint8Array, mac6: Uint8Array): string {
  return new ConsumerIdHasher(dayKey).address(mac6);
}

export function cidForIBeacon(dayKey: Uint8Array, uuid16: Uint8Array, major: number, minor: number): string {
  return new ConsumerIdHasher(dayKey).ibeacon(uuid16, major, minor);
}

export function cidForEddystoneUid(dayKey: Uint8Array, namespace10: Uint8Array, instance6: Uint8Array): string {
  return new ConsumerIdHasher(dayKey).eddystoneUid(namespace10, instance6);
}
