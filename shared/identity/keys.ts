/**
 * Identity scheme v1 key derivation (DESIGN.md): HKDF-SHA256(ikm = tenant secret, salt, info), 32 bytes.
 * The day key makes Consumer-IDs unlinkable from one store-day to the next; the opt-out and link keys
 * are per tenant and never change.
 */
import { hkdf } from '@noble/hashes/hkdf';
import { sha256 } from '@noble/hashes/sha2';

const enc = new TextEncoder();

export function deriveDayKey(secret: Uint8Array, tenant: string, date: string): Uint8Array {
  return hkdf(sha256, secret, enc.encode('omniloop/v1/day'), enc.encode(`${tenant}|${date}`), 32);
}

export function deriveOptoutKey(secret: Uint8Array, tenant: string): Uint8Array {
  return hkdf(sha256, secret, enc.encode('omniloop/v1/optout'), enc.encode(tenant), 32);
}

export function deriveLinkKey(secret: Uint8Array, tenant: string): Uint8Array {
  return hkdf(sha256, secret, enc.encode('omniloop/v1/link'), enc.encode(tenant), 32);
}
