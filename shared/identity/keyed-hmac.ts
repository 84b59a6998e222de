/**
 * HMAC-SHA256 under one key for many short inputs. The keyed inner and outer states (after the key-pad
 * blocks) are computed once; a message of at most 55 bytes then fits in one padded block, so its MAC is
 * exactly two SHA-256 compressions: inner block, outer block. Those run through @noble/hashes' own
 * compression function (a subclass of its SHA256 reaching its state and `process`), without the
 * streaming machinery's clones, views and buffers, which cost three times the compressions themselves
 * on the edge's hot path (one HMAC per new address of the day). Longer messages take noble's HMAC.
 */
import { hmac } from '@noble/hashes/hmac';
import { SHA256, sha256 } from '@noble/hashes/sha2';

const BLOCK = 64;
/** A message this long still leaves room for the 0x80 byte and the 8-byte length in its block. */
const ONE_BLOCK_MAX = BLOCK - 9;

type Hmac = ReturnType<typeof hmac.create>;

/** noble's SHA-256 compression with its state in and out as eight words. */
class Sha256Compressor extends SHA256 {
  /** state ← compress(state, block). */
  compress(state: Int32Array, block: DataView): void {
    this.set(state[0]!, state[1]!, state[2]!, state[3]!, state[4]!, state[5]!, state[6]!, state[7]!);
    this.process(block, 0);
    state[0] = this.A;
    state[1] = this.B;
    state[2] = this.C;
    state[3] = this.D;
    state[4] = this.E;
    state[5] = this.F;
    state[6] = this.G;
    state[7] = this.H;
  }

  /** The state after compressing one full block from the initial value. */
  stateAfter(block: Uint8Array): Int32Array {
    const s = new Int32Array(8);
    this.process(new DataView(block.buffer, block.byteOffset, BLOCK), 0);
    s.set([this.A, this.B, this.C, this.D, this.E, this.F, this.G, this.H]);
    return s;
  }
}

export class KeyedHmac {
  private readonly inner0: Int32Array;
  private readonly outer0: Int32Array;
  private readonly sha = new Sha256Compressor();
  private readonly state = new Int32Array(8);
  private readonly block = new Uint8Array(BLOCK);
  private readonly view = new DataView(this.block.buffer);
  /** For messages longer than one block. */
  private readonly base: Hmac;
  private readonly work: Hmac;

  constructor(key: Uint8Array) {
    // RFC 2104: a key longer than the block is hashed first; then zero-padded to the block.
    const k = new Uint8Array(BLOCK);
    k.set(key.length > BLOCK ? sha256(key) : key);
    const pad = new Uint8Array(BLOCK);
    for (let i = 0; i < BLOCK; i++) pad[i] = k[i]! ^ 0x36;
    this.inner0 = new Sha256Compressor().stateAfter(pad);
    for (let i = 0; i < BLOCK; i++) pad[i] = k[i]! ^ 0x5c;
    this.outer0 = new Sha256Compressor().stateAfter(pad);
    pad.fill(0);
    k.fill(0);
    this.base = hmac.create(sha256, key);
    this.work = hmac.create(sha256, key);
  }

  /** The 32-byte MAC of `parts` concatenated. The returned array is fresh. */
  mac(...parts: Uint8Array[]): Uint8Array {
    let len = 0;
    for (const p of parts) len += p.length;
    if (len > ONE_BLOCK_MAX) {
      const h = this.base._cloneInto(this.work);
      for (const p of parts) h.update(p);
      return h.digest();
    }
    const b = this.block;
    const v = this.view;
    const s = this.state;
    // Inner: key-pad block (precomputed) then message ‖ 0x80 ‖ zeros ‖ bit length of both blocks.
    let pos = 0;
    for (const p of parts) {
      b.set(p, pos);
      pos += p.length;
    }
    b[pos] = 0x80;
    b.fill(0, pos + 1, BLOCK - 4);
    v.setUint32(BLOCK - 4, (BLOCK + len) * 8, false);
    s.set(this.inner0);
    this.sha.compress(s, v);
    // Outer: key-pad block (precomputed) then the 32-byte inner digest, padded the same way.
    for (let i = 0; i < 8; i++) v.setInt32(4 * i, s[i]!, false);
    b[32] = 0x80;
    b.fill(0, 33, BLOCK - 4);
    v.setUint32(BLOCK - 4, (BLOCK + 32) * 8, false);
    s.set(this.outer0);
    this.sha.compress(s, v);
    const out = new Uint8Array(32);
    const ov = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) ov.setInt32(4 * i, s[i]!, false);
    b.fill(0); // the block held the message (an address): nothing of it stays behind
    return out;
  }
}
