import { hmac } from '@noble/hashes/hmac';
import { sha256 } from '@noble/hashes/sha2';
import { describe, expect, it } from 'vitest';
import { KeyedHmac } from '../shared/identity/keyed-hmac.js';
import { mulberry32 } from '../scripts/lib/prng.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function bytes(rnd: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

describe('KeyedHmac (two compressions for one-block messages)', () => {
  it('equals HMAC-SHA256 for every message length around the one-block limit and keys of every kind', () => {
    const rnd = mulberry32(11);
    for (const keyLen of [0, 1, 16, 32, 63, 64, 65, 100]) {
      const key = bytes(rnd, keyLen);
      const h = new KeyedHmac(key);
      for (let len = 0; len <= 130; len++) {
        const msg = bytes(rnd, len);
        expect(hex(h.mac(msg)), `key ${keyLen} msg ${len}`).toBe(hex(hmac(sha256, key, msg)));
      }
    }
  });

  it('concatenates parts, and a MAC does not depend on the one before (no state carried over)', () => {
    const rnd = mulberry32(12);
    const key = bytes(rnd, 32);
    const h = new KeyedHmac(key);
    const a = bytes(rnd, 7);
    const b = bytes(rnd, 16);
    const c = bytes(rnd, 4);
    const whole = new Uint8Array([...a, ...b, ...c]);
    const first = hex(h.mac(a, b, c));
    h.mac(bytes(rnd, 50));
    expect(hex(h.mac(a, b, c))).toBe(first);
    expect(first).toBe(hex(hmac(sha256, key, whole)));
  });

  it('returns a fresh array each time', () => {
    const h = new KeyedHmac(new Uint8Array(32).fill(1));
    const x = h.mac(new Uint8Array(6));
    const y = h.mac(new Uint8Array(6).fill(2));
    expect(x).not.toBe(y);
    expect(hex(x)).toBe(hex(hmac(sha256, new Uint8Array(32).fill(1), new Uint8Array(6))));
  });
});
