/**
 * Link keys for identifiable events (DESIGN.md): the loyalty id and a connected device's network token
 * are keyed with the tenant's link key (a bare hash of a short id could be reversed by trying them all,
 * and of an address by trying the 2^46 of them); e-mail and phone are plain SHA-256
 * of the normalizations that ad platforms' customer-list uploads use, so audiences match theirs.
 */
import { sha256 } from '@noble/hashes/sha2';
import { InputError } from '../errors.js';
import { toHex } from './hex.js';
import { KeyedHmac } from './keyed-hmac.js';

const enc = new TextEncoder();
const MAX_LOYALTY = 128;

export function normalizeLoyaltyId(id: string): string {
  const n = id.trim().toUpperCase();
  if (n === '') throw new InputError('loyalty id is empty');
  if (n.length > MAX_LOYALTY) throw new InputError(`loyalty id is longer than ${MAX_LOYALTY} characters`);
  return n;
}

export function loyaltyKey(linkKey: Uint8Array, id: string): string {
  return toHex(new KeyedHmac(linkKey).mac(enc.encode('loyalty:' + normalizeLoyaltyId(id))));
}

const WIFI_NETWORK = enc.encode('wifi-network:');

/**
 * A connected device's network token: HMAC(link key, "wifi-network:" ‖ the 6 address bytes), hex. Only
 * for an address seen connected to a store network (a per-network address): the same in every store and
 * on every day, so HQ can join the device's daily Consumer-IDs; like the loyalty key, only holders of
 * the tenant's link key can compute it for a given address.
 */
export function networkToken(linkKey: Uint8Array, mac6: Uint8Array): string {
  if (mac6.length !== 6) throw new InputError('an address is 6 bytes');
  return toHex(new KeyedHmac(linkKey).mac(WIFI_NETWORK, mac6));
}

export function normalizeEmail(email: string): string {
  const n = email.trim().toLowerCase();
  const at = n.indexOf('@');
  const valid = at > 0 && at === n.lastIndexOf('@') && !/\s/.test(n) && /^[^.].*\.[^.]+$/.test(n.slice(at + 1)) && n.length <= 254;
  // The address itself is not repeated in the message: error messages end up in logs.
  if (!valid) throw new InputError(`not an e-mail address (${n.length} characters)`);
  return n;
}

export function hashEmail(email: string): string {
  return toHex(sha256(enc.encode(normalizeEmail(email))));
}

/**
 * E.164 digits without "+": "+49 30 1234567", "0049 30 1234567" and the national "030 1234567" (with
 * default country code 49) all become 49301234567.
 */
export function normalizePhone(phone: string, defaultCountryCode: string): string {
  const t = phone.trim();
  if (!/^\+?[0-9 ()./-]+$/.test(t)) throw new InputError(`not a phone number (${t.length} characters)`);
  let digits = t.replace(/[^0-9]/g, '');
  if (t.startsWith('+')) {
    // already international
  } else if (digits.startsWith('00')) {
    digits = digits.slice(2);
  } else {
    if (!/^[1-9][0-9]{0,2}$/.test(defaultCountryCode)) throw new InputError(`default country code must be 1-3 digits, not ${JSON.stringify(defaultCountryCode)}`);
    digits = defaultCountryCode + digits.replace(/^0/, ''); // national number: drop the trunk prefix
  }
  if (digits.length < 8 || digits.length > 15 || digits.startsWith('0')) throw new InputError(`not a phone number (${digits.length} digits)`);
  return digits;
}

export function hashPhone(phone: string, defaultCountryCode: string): string {
  return toHex(sha256(enc.encode(normalizePhone(phone, defaultCountryCode))));
}
