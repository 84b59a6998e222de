/**
 * HMAC-SHA256 under one key for many short inputs: the keyed inner/outer state is prepared once and
 * cloned per message, which saves the two key-pad compressions of every call.
 */
import { hmac } from '@noble/hashes/hmac';
import { sha256 } from '@noble/hashes/sha2';

type Hmac = ReturnType<typeof hmac.create>;

export class KeyedHmac {
  private readonly base: Hmac;
  private readonly work: Hmac;

  constructor(key: Uint8Array) {
    this.base = hmac.create(sha256, key);
    this.work = hmac.create(sha256, key);
  }

  /** The 32-byte MAC of `parts` concatenated. The returned array is fresh. */
  mac(...parts: Uint8Array[]): Uint8Array {
    const h = this.base._cloneInto(this.work);
    for (const p of parts) h.update(p);
    return h.digest();
  }
}
