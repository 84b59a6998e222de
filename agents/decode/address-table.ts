/**
 * A set of 48-bit addresses that numbers its members 0, 1, 2, … in the order they arrive: open
 * addressing with linear probing over two int32 halves. A Set or Map keyed by 48-bit numbers boxes
 * every key above 2^31 as a heap number, which costs a lookup, an allocation and garbage per address;
 * here an address costs two int32 slots and nothing on the heap. Grows by doubling; never shrinks
 * (clear() starts over).
 */
export class AddressTable {
  private hi: Int32Array;
  private lo: Int32Array;
  /** Member index + 1; 0: empty. */
  private val: Int32Array;
  private mask: number;
  private n = 0;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < 2 * initialCapacity) cap *= 2;
    this.hi = new Int32Array(cap);
    this.lo = new Int32Array(cap);
    this.val = new Int32Array(cap);
    this.mask = cap - 1;
  }

  /** Members so far. */
  get size(): number {
    return this.n;
  }

  /** The member index of mac, or -1. */
  indexOf(mac: number): number {
    const top = Math.floor(mac / 0x1000000);
    const lo = mac - top * 0x1000000;
    const m = this.mask;
    for (let i = addressBucket(top, lo) & m; ; i = (i + 1) & m) {
      const v = this.val[i]!;
      if (v === 0) return -1;
      if (this.lo[i] === lo && this.hi[i] === top) return v - 1;
    }
  }

  /** The member index of mac, adding it (as the next index) when it is new. */
  add(mac: number): number {
    const top = Math.floor(mac / 0x1000000);
    const lo = mac - top * 0x1000000;
    const m = this.mask;
    let i = addressBucket(top, lo) & m;
    for (;;) {
      const v = this.val[i]!;
      if (v === 0) break;
      if (this.lo[i] === lo && this.hi[i] === top) return v - 1;
      i = (i + 1) & m;
    }
    this.hi[i] = top;
    this.lo[i] = lo;
    this.val[i] = ++this.n;
    if (2 * this.n > m) this.grow();
    return this.n - 1;
  }

  clear(): void {
    this.val.fill(0);
    this.n = 0;
  }

  private grow(): void {
    const { hi, lo, val } = this;
    const cap = val.length * 2;
    this.hi = new Int32Array(cap);
    this.lo = new Int32Array(cap);
    this.val = new Int32Array(cap);
    const m = (this.mask = cap - 1);
    for (let j = 0; j < val.length; j++) {
      const v = val[j]!;
      if (v === 0) continue;
      let i = addressBucket(hi[j]!, lo[j]!) & m;
      while (this.val[i] !== 0) i = (i + 1) & m;
      this.hi[i] = hi[j]!;
      this.lo[i] = lo[j]!;
      this.val[i] = v;
    }
  }
}

/** The hash of an address split into its high and low 24 bits (the estimator's table uses it too). */
export function addressBucket(hi: number, lo: number): number {
  let h = Math.imul(hi ^ Math.imul(lo, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 15;
  return h;
}
