/**
 * Identify events from store systems (a captive-portal login, a loyalty card at the till): the device's
 * address with what the customer gave, hashed on arrival exactly as identity scheme v1 says — the
 * device's Consumer-ID of the store-day, SHA-256 e-mail and phone, the keyed loyalty id. What comes out
 * is a link for the outbox; nothing raw survives this function.
 */
import { z } from 'zod';
import { UserError } from '../../shared/errors.js';
import { parseMac } from '../../shared/identity/mac.js';
import { hashEmail, hashPhone, loyaltyKey, networkToken } from '../../shared/identity/link-keys.js';
import { macFirstOctet, macToBytes } from '../decode/observation.js';
import type { Pseudonymizer } from '../pseudonymize/pseudonymizer.js';

export const identifyRequestSchema = z
  .object({
    mac: z.string().max(32),
    email: z.string().max(254).optional(),
    phone: z.string().max(32).optional(),
    loyaltyId: z.string().max(128).optional(),
    consent: z.object({ marketing: z.boolean() }).strict(),
    /** When it happened (ms); now when absent. At most a day old: a later link belongs to another key epoch. */
    ts: z.number().int().optional(),
    /** The captive portal says the device is connected to the store's network (the address it sees is the per-network one). */
    connected: z.boolean().optional(),
  })
  .strict();

export type IdentifyRequest = z.infer<typeof identifyRequestSchema>;

export interface Link {
  ts: number;
  cid?: string;
  hem?: string;
  hph?: string;
  loyalty?: string;
  /** The connected device's network token (networkToken): the same in every store, on every day. */
  net?: string;
  /** The customer's decision; absent on a connection link, which names no person. */
  consent?: { marketing: boolean };
}

export type IdentifyOutcome =
  | { ok: true; epoch: string; link: Link; linkedDevice: boolean; connected: boolean }
  | { ok: false; status: 200 | 400 | 422; reason: string };

export interface IdentifyContext {
  pseudonymizer: Pseudonymizer;
  /** HKDF(secret, "omniloop/v1/link", tenant). */
  linkKey: Uint8Array;
  defaultCountryCode: string;
  now?: () => number;
  /** How old an event may be (default a day); a backfill of past events (the demo, an import) allows more. */
  maxAgeMs?: number;
  /** Whether the agent saw this randomized address connected to a store network around ts. */
  isConnected?: (mac: number, ts: number) => boolean;
}

const DAY_MS = 86_400_000;
/** C0 and C1 controls, soft hyphen, zero-width and bidi formatting characters, word joiners, BOM. */
const HIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]/;

/** Validates and hashes one identify request. Error reasons never repeat what was sent. */
export function identify(body: unknown, ctx: IdentifyContext): IdentifyOutcome {
  const parsed = identifyRequestSchema.safeParse(body);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    // An unknown field's name is not repeated either: it can be anything the sender typed.
    return { ok: false, status: 400, reason: i.code === 'unrecognized_keys' ? `${i.path.join('.') || 'body'}: unknown field (${i.keys.length})` : `${i.path.join('.') || 'body'}: ${i.message}` };
  }
  const r = parsed.data;
  // Control and invisible characters (NUL, zero-width spaces, bidi overrides) would be hashed into an
  // identifier no other system computes: refused, without repeating the value.
  for (const [name, v] of [['email', r.email], ['phone', r.phone], ['loyaltyId', r.loyaltyId]] as const) {
    if (v !== undefined && HIDDEN_CHARS.test(v)) return { ok: false, status: 422, reason: `${name} contains control or invisible characters` };
  }
  const now = (ctx.now ?? Date.now)();
  const ts = r.ts ?? now;
  const maxAge = ctx.maxAgeMs ?? DAY_MS;
  if (ts > now + 5 * 60_000 || ts < now - maxAge) return { ok: false, status: 422, reason: `ts must be within the last ${Math.round(maxAge / 3_600_000)} hours` };
  try {
    const mac = parseMac(r.mac);
    const first = macFirstOctet(mac);
    if (first & 0x01) return { ok: false, status: 422, reason: 'mac is a group (multicast) address, not a device' };
    const p = ctx.pseudonymizer;
    // An opted-out device is dropped here too: not linked, not stored, not counted.
    if (p.isOptedOut(mac)) return { ok: false, status: 200, reason: 'the device opted out; nothing was stored' };
    const link: Link = { ts, consent: { marketing: r.consent.marketing } };
    if (r.email !== undefined) link.hem = hashEmail(r.email);
    if (r.phone !== undefined) link.hph = hashPhone(r.phone, ctx.defaultCountryCode);
    if (r.loyaltyId !== undefined) link.loyalty = loyaltyKey(ctx.linkKey, r.loyaltyId);
    // A randomized (locally administered) address is ephemeral: it never becomes a node of the graph,
    // unless it is the per-network address of a device connected to the store's WiFi (seen associated by
    // the agent, or the portal says so): stable for that network, so it links like a global one.
    const randomized = (first & 0x02) !== 0;
    const connected = randomized && (r.connected === true || (ctx.isConnected?.(mac, ts) ?? false));
    const linkedDevice = !randomized || connected;
    if (linkedDevice) link.cid = p.cidForMac(mac, ts);
    if (connected) link.net = networkToken(ctx.linkKey, macToBytes(mac));
    const ids = [link.cid, link.hem, link.hph, link.loyalty].filter(Boolean).length;
    if (ids < 2) {
      return { ok: false, status: 422, reason: linkedDevice ? 'give at least one of email, phone, loyaltyId' : 'the address is randomized and not seen connected to the store network (not linkable): give at least two of email, phone, loyaltyId' };
    }
    return { ok: true, epoch: p.dayInterval(ts).day, link, linkedDevice, connected };
  } catch (err) {
    if (err instanceof UserError) return { ok: false, status: 422, reason: err.message };
    throw err;
  }
}
