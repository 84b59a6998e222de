/**
 * Opt-out tokens: HMAC-SHA256(opt-out key, address bytes), hex. HQ holds the list of tokens (never
 * addresses); agents drop every frame whose token is on it.
 */
import { InputError } from '../errors.js';
import { macBytes, parseMac } from './mac.js';
import { toHex } from './hex.js';
import { KeyedHmac } from './keyed-hmac.js';

export class OptoutTokenizer {
  private readonly h: KeyedHmac;
  constructor(optoutKey: Uint8Array) {
    this.h = new KeyedHmac(optoutKey);
  }
  token(mac6: Uint8Array): string {
    return toHex(this.h.mac(mac6));
  }
}

export function optoutToken(optoutKey: Uint8Array, mac6: Uint8Array): string {
  return new OptoutTokenizer(optoutKey).token(mac6);
}

/** The token of an address as a person types it (aa:bb:cc:dd:ee:ff and the other forms parseMac takes). */
export function optoutTokenOfMac(optoutKey: Uint8Array, macText: string): string {
  return optoutToken(optoutKey, macBytes(parseMac(macText)));
}

const TOKEN = /^[0-9a-f]{64}$/;

/** One 64-hex token per line; blank lines and # comments allowed. */
export function parseOptoutList(text: string, label: string): Set<string> {
  const tokens = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/#.*/, '').trim().toLowerCase();
    if (line === '') continue;
    if (!TOKEN.test(line)) throw new InputError(`${label} line ${i + 1}: an opt-out token is 64 hex characters (made by \`omniloop optout add\`)`);
    tokens.add(line);
  }
  return tokens;
}
