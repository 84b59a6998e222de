/** BLE address classes (Core spec Vol 6 Part B 1.3) from TxAdd or the HCI address type. */
import { AddressClass, macFirstOctet } from './observation.js';

/**
 * A random address by its two most significant bits: 11 static, 01 resolvable private, 00
 * non-resolvable private. 10 is reserved by the spec; such an address cannot be a stable identity,
 * so it is treated like the non-resolvable kind: counted, never given an ID.
 */
export function classifyRandom(mac: number): AddressClass {
  switch (macFirstOctet(mac) >> 6) {
    case 3:
      return AddressClass.BleStatic;
    case 1:
      return AddressClass.BleRpa;
    default:
      return AddressClass.BleNrpa;
  }
}

/** TxAdd/RxAdd: 0 public, 1 random. */
export function classifyTxAdd(txAdd: number, mac: number): AddressClass {
  return txAdd ? classifyRandom(mac) : AddressClass.BlePublic;
}

/**
 * HCI address types: 0 public, 1 random, 2 public identity and 3 random (static) identity — the last two
 * are what the controller resolved an RPA to, so they are the device's stable address. Returns 0 for
 * types without an address (0xFF anonymous) or unknown ones.
 */
export function classifyHciAddressType(type: number, mac: number): AddressClass | 0 {
  switch (type) {
    case 0x00:
    case 0x02:
      return AddressClass.BlePublic;
    case 0x01:
      return classifyRandom(mac);
    case 0x03:
      return AddressClass.BleStatic;
    default:
      return 0;
  }
}
