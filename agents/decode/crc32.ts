/** IEEE 802.3 CRC-32 (the 802.11 FCS), table-driven. */
const TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c >>> 0;
}

export function crc32(buf: Uint8Array, off: number, len: number): number {
  let c = 0xffffffff;
  for (let i = off, end = off + len; i < end; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** True when the 4 bytes after buf[off, off+len) are its FCS (little-endian). */
export function fcsMatches(buf: Uint8Array, off: number, len: number): boolean {
  const p = off + len;
  return crc32(buf, off, len) === ((buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)) >>> 0);
}
