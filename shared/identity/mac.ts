/** Addresses typed by people: aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff or aabbccddeeff. */
import { InputError } from '../errors.js';

const FORMS = [
  /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/,
  /^([0-9a-f]{4})\.([0-9a-f]{4})\.([0-9a-f]{4})$/,
  /^([0-9a-f]{12})$/,
];

/** A 48-bit integer in written order. The text is never echoed in the error: it may be a real address. */
export function parseMac(text: string): number {
  const t = text.trim().toLowerCase();
  for (const form of FORMS) {
    if (form.test(t)) return parseInt(t.replace(/[:.-]/g, ''), 16);
  }
  throw new InputError(`not a MAC address (${t.length} characters); expected aa:bb:cc:dd:ee:ff`);
}

/** The 6 address bytes in written order (transmission order for WiFi), as identity scheme v1 hashes them. */
export function macBytes(mac: number): Uint8Array {
  const out = new Uint8Array(6);
  let v = mac;
  for (let i = 5; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}
