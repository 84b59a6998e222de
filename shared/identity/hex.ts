/** Lowercase hex, table-driven: Consumer-IDs are made on the hot path. */
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array, len = bytes.length): string {
  let s = '';
  for (let i = 0; i < len; i++) s += HEX[bytes[i]!];
  return s;
}
