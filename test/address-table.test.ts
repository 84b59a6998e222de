/** The int32 open-addressing table that numbers distinct 48-bit addresses (summary, pseudonymizer). */
import { describe, expect, it } from 'vitest';
import { AddressTable } from '../agents/decode/address-table.js';
import { mulberry32 } from '../scripts/lib/prng.js';

describe('AddressTable', () => {
  it('numbers addresses in arrival order, finds them again across growth, and agrees with a Set', () => {
    const t = new AddressTable(4);
    const rnd = mulberry32(5);
    const ref = new Map<number, number>();
    // Addresses over the whole 48-bit range, the top ones included, and many repeats.
    const pool = Array.from({ length: 20_000 }, (_, i) => (i < 3 ? [0, 0xffffffffffff, 0x1000000][i]! : Math.floor(rnd() * 0x1000000000000)));
    for (let k = 0; k < 100_000; k++) {
      const mac = pool[Math.floor(rnd() * pool.length)]!;
      const want = ref.get(mac) ?? ref.size;
      if (!ref.has(mac)) ref.set(mac, want);
      expect(t.add(mac)).toBe(want);
    }
    expect(t.size).toBe(ref.size);
    for (const [mac, i] of ref) expect(t.indexOf(mac)).toBe(i);
    expect(t.indexOf(0x123456789abc + 1) === -1 || ref.has(0x123456789abc + 1)).toBe(true);
    t.clear();
    expect(t.size).toBe(0);
    expect(t.indexOf(pool[0]!)).toBe(-1);
    expect(t.add(pool[1]!)).toBe(0);
  });
});
