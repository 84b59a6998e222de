/**
 * A set of 48-bit addresses that numbers its members 0, 1, 2, … in the order they arrive: open
 * addressing with linear probing over two int32 halves. A Set or Map keyed by 48-bit numbers boxes
 * every key above 2^31 as a heap number, which costs a lookup, an allocation and garbage per address;
 * here an address costs two int32 slots and nothing on the heap. Grows by doubling; never shrinks
 * (clear() starts over).
 */
export class AddressTable {
  /** Per slot, side by side (one cache line per probe): key high 24 bits, key low 24 bits, member index + 1 (0: empty), unused. */
  private slots: Int32Array;
  private mask: number;
  private n = 0;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < 2 * initialCapacity) cap *= 2;
    this.slots = new Int32Array(4 * cap);
    this.mask = cap - 1;
  }

  /** Members so far. */
  get size(): number {
    return this.n;
  }

  /** The member index of mac, or -1. */
  indexOf(mac: number): number {
    const top = (mac / 0x1000000) | 0; // < 2^24: truncation is floor
    const lo = mac - top * 0x1000000;
    const m = this.mask;
    const t = this.slots;
    for (let i = bucket(top, lo) & m; ; i = (i + 1) & m) {
      const v = t[4 * i + 2]!;
      if (v === 0) return -1;
      if (t[4 * i + 1] === lo && t[4 * i] === top) return v - 1;
    }
  }

  /** The member index of mac, adding it (as the next index) when it is new. */
  add(mac: number): number {
    const top = (mac / 0x1000000) | 0; // < 2^24: truncation is floor
    const lo = mac - top * 0x1000000;
    const m = this.mask;
    const t = this.slots;
    let i = bucket(top, lo) & m;
    for (;;) {
      const v = t[4 * i + 2]!;
      if (v === 0) break;
      if (t[4 * i + 1] === lo && t[4 * i] === top) return v - 1;
      i = (i + 1) & m;
    }
    t[4 * i] = top;
    t[4 * i + 1] = lo;
    t[4 * i + 2] = ++this.n;
    if (2 * this.n > m) this.grow();
    return this.n - 1;
  }

  clear(): void {
    this.slots.fill(0);
    this.n = 0;
  }

  private grow(): void {
    const old = this.slots;
    const cap = (this.mask + 1) * 2;
    const t = (this.slots = new Int32Array(4 * cap));
    const m = (this.mask = cap - 1);
    for (let j = 0; j < old.length; j += 4) {
      const v = old[j + 2]!;
      if (v === 0) continue;
      let i = bucket(old[j]!, old[j + 1]!) & m;
      while (t[4 * i + 2] !== 0) i = (i + 1) & m;
      t[4 * i] = old[j]!;
      t[4 * i + 1] = old[j + 1]!;
      t[4 * i + 2] = v;
    }
  }
}

function bucket(hi: number, lo: number): number {
  let h = Math.imul(hi ^ Math.imul(lo, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 15;
  return h;
}
