/**
 * Mosquitto 2's password file hashes (`$7$`: PBKDF2-HMAC-SHA512, as `mosquitto_passwd` writes them):
 * `$7$<iterations>$<base64 salt>$<base64 64-byte hash>`. Made here so that provisioning needs no
 * Mosquitto tools on the machine that runs it.
 */
import { pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The passwords are 192 random bits, so no dictionary or brute force reaches them and stretching buys
 * nothing; the broker pays this on every connect (mosquitto_passwd itself uses 101).
 */
export const PBKDF2_ITERATIONS = 1000;
const SALT_BYTES = 12;
const HASH_BYTES = 64;

/** A new broker password: 24 random bytes, base64url (32 characters, no ':' or newline). */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

export function hashPassword(password: string, salt: Buffer = randomBytes(SALT_BYTES), iterations = PBKDF2_ITERATIONS): string {
  const hash = pbkdf2Sync(password, salt, iterations, HASH_BYTES, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Whether `encoded` (a `$7$` hash) was made from `password`; false for any other format. */
export function verifyPassword(password: string, encoded: string): boolean {
  const m = /^\$7\$(\d{1,7})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/.exec(encoded);
  if (!m) return false;
  const iterations = Number(m[1]);
  const expected = Buffer.from(m[3]!, 'base64');
  if (iterations < 1 || expected.length !== HASH_BYTES) return false;
  const actual = pbkdf2Sync(password, Buffer.from(m[2]!, 'base64'), iterations, HASH_BYTES, 'sha512');
  return timingSafeEqual(actual, expected);
}
