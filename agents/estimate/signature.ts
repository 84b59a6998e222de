/**
 * What survives address randomization: hashes of the parts of a probe request or an advertisement that
 * a device repeats under every address it uses, and never the per-frame fields (SSID, DS parameter set,
 * sequence number, FILS request parameters...). FNV-1a over the chosen bytes, 32 bits; computed once per
 * address by the estimator, never stored with the address, never leaves the process.
 *
 * Two WiFi hashes:
 * - `fine`: the capability signature: element IDs in their order plus the contents of the capability
 *   elements (supported/extended rates, HT/VHT/HE/EHT capabilities, extended capabilities, interworking,
 *   RM capabilities) and the OUI + type of each vendor-specific element.
 * - `coarse`: only what a phone cannot switch between scans: the rates (one sequence over supported and
 *   extended rates, without the "basic" flag) and the
 *   HT capabilities with the bits phones toggle at run time masked (SM power save, 40 MHz intolerant, the
 *   second spatial stream's MCS set), plus VHT capabilities. The labelled phones switch profiles between
 *   scans (an Oppo alternates HE on/off; an iPhone XR toggles "40 MHz intolerant"; iPhones change
 *   extended capabilities): one device must stay inside one coarse group.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnvByte(h: number, b: number): number {
  return Math.imul(h ^ b, FNV_PRIME) >>> 0;
}

function fnvBytes(h: number, buf: Uint8Array, off: number, len: number): number {
  for (let i = off, end = off + len; i < end; i++) h = Math.imul(h ^ buf[i]!, FNV_PRIME) >>> 0;
  return h;
}

// Element IDs (IEEE 802.11-2020, 9.4.2).
const EID_SSID = 0;
const EID_RATES = 1;
const EID_DS = 3;
const EID_HT_CAPS = 45;
const EID_EXT_RATES = 50;
const EID_RM_CAPS = 70;
const EID_INTERWORKING = 107;
const EID_EXT_CAPS = 127;
const EID_VHT_CAPS = 191;
const EID_VENDOR = 221;
const EID_EXTENSION = 255;
// Element ID extensions.
const EXT_HE_CAPS = 35;
const EXT_EHT_CAPS = 108;

/** Elements whose whole content is a device capability (stable across frames of one configuration). */
function contentIsCapability(id: number): boolean {
  return id === EID_RATES || id === EID_EXT_RATES || id === EID_HT_CAPS || id === EID_VHT_CAPS || id === EID_EXT_CAPS || id === EID_INTERWORKING || id === EID_RM_CAPS;
}

/** Result slots of wifiSignatures (reused: no allocation per call). */
export interface WifiSignatures {
  fine: number;
  coarse: number;
}

/**
 * Both WiFi signature hashes of a probe request's tagged elements at buf[off, off+len). Elements cut
 * short by the end of the data stop the walk (what was read still counts).
 */
export function wifiSignatures(buf: Uint8Array, off: number, len: number, out: WifiSignatures): WifiSignatures {
  let fine = FNV_OFFSET;
  let coarse = FNV_OFFSET;
  const end = off + len;
  let p = off;
  while (p + 2 <= end) {
    const id = buf[p]!;
    const l = buf[p + 1]!;
    const d = p + 2;
    if (d + l > end) break;
    p = d + l;
    if (id === EID_SSID || id === EID_DS) continue;
    fine = fnvByte(fine, id);
    if (contentIsCapability(id)) {
      fine = fnvBytes(fnvByte(fine, l), buf, d, l);
      if (id === EID_RATES || id === EID_EXT_RATES) {
        // One sequence over both elements: phones split the same rates differently between them.
        for (let i = d; i < d + l; i++) coarse = fnvByte(coarse, buf[i]! & 0x7f);
      } else if (id === EID_HT_CAPS && l >= 4) {
        coarse = fnvByte(coarse, id);
        coarse = fnvByte(coarse, buf[d]! & 0xf3); // SM power save bits 2-3 masked
        coarse = fnvByte(coarse, buf[d + 1]! & 0xbf); // 40 MHz intolerant (bit 14) masked
        coarse = fnvByte(coarse, buf[d + 2]!); // A-MPDU parameters
        coarse = fnvByte(coarse, buf[d + 3]!); // MCS 0-7 (one spatial stream)
      } else if (id === EID_VHT_CAPS) {
        coarse = fnvByte(coarse, id);
      }
    } else if (id === EID_VENDOR) {
      // OUI and vendor type only: the rest may carry per-frame data.
      const n = l < 4 ? l : 4;
      fine = fnvBytes(fnvByte(fine, n), buf, d, n);
    } else if (id === EID_EXTENSION && l >= 1) {
      const ext = buf[d]!;
      fine = fnvByte(fine, ext);
      if (ext === EXT_HE_CAPS || ext === EXT_EHT_CAPS) fine = fnvBytes(fnvByte(fine, l), buf, d + 1, l - 1);
    }
    // Any other element: its ID (and place in the order) only.
  }
  out.fine = fine >>> 0 || 1;
  out.coarse = coarse >>> 0 || 1;
  return out;
}

const AD_MANUFACTURER = 0xff;

/**
 * The payload shape of a BLE advertisement: PDU type, AD length, the sequence of AD types, company id,
 * the manufacturer-specific type byte that follows it (Apple's continuity message type), TX power and
 * flags. Never the AD contents, which rotate with the address on phones.
 */
export function bleSignature(pdu: number, buf: Uint8Array, adOff: number, adLen: number, companyId: number, txPower: number, adFlags: number): number {
  let h = FNV_OFFSET;
  h = fnvByte(h, pdu & 0xff);
  h = fnvByte(h, adLen & 0xff);
  h = fnvByte(h, companyId & 0xff);
  h = fnvByte(h, (companyId >> 8) & 0xff);
  h = fnvByte(h, Number.isNaN(txPower) ? 0x80 : txPower & 0xff);
  h = fnvByte(h, adFlags & 0xff);
  h = fnvByte(h, adFlags < 0 ? 1 : 0);
  const end = adOff + adLen;
  let p = adOff;
  while (p < end) {
    const l = buf[p]!;
    if (l === 0 || p + 1 + l > end) break;
    const type = buf[p + 1]!;
    h = fnvByte(h, type);
    if (type === AD_MANUFACTURER && l >= 4) h = fnvByte(h, buf[p + 4]!);
    p += 1 + l;
  }
  return h >>> 0 || 1;
}
