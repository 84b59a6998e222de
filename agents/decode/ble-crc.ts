/**
 * BLE link-layer CRC-24 (Core spec Vol 6 Part B 3.1.1): polynomial x^24+x^10+x^9+x^6+x^4+x^3+x+1, bits
 * shifted in least significant first. In that bit order the register is the reflected one, so a
 * reflected table (polynomial 0xDA6000, init reversed) does it a byte at a time, and the result equals
 * the three CRC bytes as they sit in the packet, read little-endian.
 */
const TABLE = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let r = i;
  for (let b = 0; b < 8; b++) r = r & 1 ? (r >>> 1) ^ 0xda6000 : r >>> 1;
  TABLE[i] = r;
}

/** The CRC init of advertising-channel packets. */
export const ADV_CRC_INIT = 0x555555;

function reverse24(v: number): number {
  let r = 0;
  for (let i = 0; i < 24; i++) if (v & (1 << i)) r |= 1 << (23 - i);
  return r;
}

const ADV_INIT_REFLECTED = reverse24(ADV_CRC_INIT);

/** CRC of buf[off, off+len) as it appears in the packet (little-endian 24-bit). */
export function bleCrc(buf: Uint8Array, off: number, len: number, init = ADV_CRC_INIT): number {
  let r = init === ADV_CRC_INIT ? ADV_INIT_REFLECTED : reverse24(init);
  for (let i = off, end = off + len; i < end; i++) r = (r >>> 8) ^ TABLE[(r ^ buf[i]!) & 0xff]!;
  return r;
}

/** True when the 3 bytes at crcOff are the CRC of the PDU at buf[pduOff, pduOff+pduLen). */
export function bleCrcOk(buf: Uint8Array, pduOff: number, pduLen: number, crcOff: number, init = ADV_CRC_INIT): boolean {
  return bleCrc(buf, pduOff, pduLen, init) === (buf[crcOff]! | (buf[crcOff + 1]! << 8) | (buf[crcOff + 2]! << 16));
}
