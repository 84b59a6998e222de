/**
 * Lowercase hex of the first `len` bytes. Buffer's native encoder returns one flat string: building
 * it by concatenation would leave a rope of 16 pieces behind every cached Consumer-ID (~450 bytes each).
 */
export function toHex(bytes: Uint8Array, len = bytes.length): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, len).toString('hex');
}
