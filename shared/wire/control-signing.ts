/**
 * Signed downlink (MQTT contract v1, §5): HQ signs every control message with its tenant's Ed25519 key;
 * agents hold only the public key and apply nothing else. The broker carries the message, it is not
 * trusted with its content: a client that may publish on a control topic (a stolen store credential, a
 * broker without ACLs) can replay or withhold messages, but not make one.
 *
 * Envelope: `{"schema":"omniloop.signed/1","key":"<key id>","body":"<the message JSON, as text>","sig":"<base64>"}`.
 * The signature covers a domain label, the topic and the body, so a store's segments push cannot be
 * replayed on another store's topic, nor an opt-out list as something else.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2';
import { z } from 'zod';
import { toHex } from '../identity/hex.js';

export const SIGNED_SCHEMA = 'omniloop.signed/1';
const DOMAIN = 'omniloop/v1/control-signature\n';
/** DER prefix of an Ed25519 SubjectPublicKeyInfo: the raw 32-byte key follows it. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const envelopeSchema = z
  .object({
    schema: z.literal(SIGNED_SCHEMA),
    key: z.string().regex(/^[0-9a-f]{16}$/),
    body: z.string(),
    sig: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'an Ed25519 signature is 64 bytes in base64'),
  })
  .strict();

export type Opened = { ok: true; body: string; keyId: string } | { ok: false; reason: string };

/** An Ed25519 public key as agents configure it: the raw 32 bytes in base64 (44 characters). */
export function parseControlPublicKey(text: string): KeyObject {
  const raw = Buffer.from(text.trim(), 'base64');
  if (raw.length !== 32 || raw.toString('base64') !== text.trim()) throw new Error('a control public key is 32 bytes in base64 (44 characters), as `omniloop key control` prints it');
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function publicKeyText(key: KeyObject): string {
  const der = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'der', type: 'spki' });
  return der.subarray(SPKI_ED25519_PREFIX.length).toString('base64');
}

/** The first 8 bytes of SHA-256 of the raw public key, hex: names the key in every envelope (rotation). */
export function controlKeyId(key: KeyObject): string {
  return toHex(sha256(Buffer.from(publicKeyText(key), 'base64')), 8);
}

export function generateControlKeyPair(): { privatePem: string; publicKey: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), publicKey: publicKeyText(privateKey) };
}

export function parseControlPrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error('not a private key in PEM (PKCS#8), as `omniloop key control` writes it');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a control key is Ed25519, not ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

function signedBytes(topic: string, body: string): Buffer {
  return Buffer.from(DOMAIN + topic + '\n' + body, 'utf8');
}

/** HQ's side: one tenant's private key. */
export class ControlSigner {
  readonly keyId: string;

  constructor(private readonly key: KeyObject) {
    if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') throw new Error('a control signer needs an Ed25519 private key');
    this.keyId = controlKeyId(key);
  }

  /** The envelope to publish on `topic` for the message text `body`. */
  seal(topic: string, body: string): string {
    const sig = sign(null, signedBytes(topic, body), this.key).toString('base64');
    return JSON.stringify({ schema: SIGNED_SCHEMA, key: this.keyId, body, sig });
  }
}

/** An agent's side: the public keys it trusts (more than one while HQ rotates its key). */
export class ControlVerifier {
  private readonly keys = new Map<string, KeyObject>();

  constructor(publicKeys: readonly KeyObject[]) {
    for (const k of publicKeys) this.keys.set(controlKeyId(k), k);
  }

  get size(): number {
    return this.keys.size;
  }

  /** The body, if the payload is an envelope signed for this topic by a trusted key. */
  open(topic: string, payload: Buffer | string): Opened {
    let json: unknown;
    try {
      json = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
    } catch {
      return { ok: false, reason: 'not JSON' };
    }
    const e = envelopeSchema.safeParse(json);
    if (!e.success) {
      const schema = (json as { schema?: unknown } | null)?.schema;
      return { ok: false, reason: typeof schema === 'string' && schema !== SIGNED_SCHEMA ? 'unsigned' : 'not a signed envelope' };
    }
    const key = this.keys.get(e.data.key);
    if (!key) return { ok: false, reason: 'signed by a key this agent does not trust' };
    const good = verify(null, signedBytes(topic, e.data.body), key, Buffer.from(e.data.sig, 'base64'));
    if (!good) return { ok: false, reason: 'bad signature' };
    return { ok: true, body: e.data.body, keyId: e.data.key };
  }
}
