/** Identity scheme v1: every reference value in test/fixtures/vectors/identity-v1.json, and the edges around it. */
import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { macToBytes } from '../agents/decode/observation.js';
import { cidForAddress, cidForEddystoneUid, cidForIBeacon } from '../shared/identity/consumer-id.js';
import { deriveDayKey, deriveLinkKey, deriveOptoutKey } from '../shared/identity/keys.js';
import { hashEmail, hashPhone, loyaltyKey, normalizeEmail, normalizeLoyaltyId, normalizePhone } from '../shared/identity/link-keys.js';
import { parseMac } from '../shared/identity/mac.js';
import { optoutToken, optoutTokenOfMac, parseOptoutList } from '../shared/identity/optout.js';
import { generateSecret, readSecretFile, validateTenant, writeSecretFile } from '../shared/identity/secret.js';
import { StoreDayClock, isValidTimeZone } from '../shared/identity/store-day.js';
import { InputError } from '../shared/errors.js';
import { VECTORS } from './helpers/cli.js';

const v = JSON.parse(readFileSync(join(VECTORS, 'identity-v1.json'), 'utf8'));
const secret = Buffer.from(v.secret_hex, 'hex');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

describe('reference vectors', () => {
  it('day keys', () => {
    for (const d of v.day_keys) expect(hex(deriveDayKey(secret, v.tenant, d.date))).toBe(d.day_key_hex);
  });

  it('address Consumer-IDs (any case of input)', () => {
    for (const m of v.mac_consumer_ids) {
      const key = deriveDayKey(secret, v.tenant, m.date);
      expect(cidForAddress(key, macToBytes(parseMac(m.mac)))).toBe(m.cid);
    }
  });

  it('iBeacon and Eddystone-UID Consumer-IDs', () => {
    for (const b of v.ibeacon_consumer_ids) {
      expect(cidForIBeacon(deriveDayKey(secret, v.tenant, b.date), bytes(b.uuid), b.major, b.minor)).toBe(b.cid);
    }
    for (const e of v.eddystone_consumer_ids) {
      expect(cidForEddystoneUid(deriveDayKey(secret, v.tenant, e.date), bytes(e.namespace), bytes(e.instance))).toBe(e.cid);
    }
  });

  it('opt-out tokens', () => {
    const key = deriveOptoutKey(secret, v.tenant);
    for (const t of v.optout_tokens) expect(optoutToken(key, macToBytes(parseMac(t.mac)))).toBe(t.token);
    for (const t of v.optout_tokens) expect(optoutTokenOfMac(key, t.mac)).toBe(t.token);
  });

  it('loyalty keys, hashed e-mails and phones', () => {
    const link = deriveLinkKey(secret, v.tenant);
    for (const l of v.loyalty_ids) {
      expect(normalizeLoyaltyId(l.loyalty_id)).toBe(l.normalized);
      expect(loyaltyKey(link, l.loyalty_id)).toBe(l.key);
    }
    for (const e of v.hashed_emails) {
      expect(normalizeEmail(e.email)).toBe(e.normalized);
      expect(hashEmail(e.email)).toBe(e.sha256);
    }
    for (const p of v.hashed_phones) {
      expect(normalizePhone(p.phone, p.default_country_code)).toBe(p.normalized);
      expect(hashPhone(p.phone, p.default_country_code)).toBe(p.sha256);
    }
  });

  it('store days', () => {
    for (const s of v.store_days) {
      expect(new StoreDayClock(s.timezone, s.rollover_hour).dayOf(Date.parse(s.ts))).toBe(s.date);
    }
  });
});

describe('input validation', () => {
  it('parses the usual address notations and rejects the rest without echoing them', () => {
    const want = 0xf01898010203;
    for (const t of ['f0:18:98:01:02:03', 'F0-18-98-01-02-03', 'f018.9801.0203', 'F01898010203', '  f0:18:98:01:02:03\n']) expect(parseMac(t)).toBe(want);
    for (const t of ['', 'f0:18:98:01:02', 'f0:18:98:01:02:03:04', 'f0:18-98:01:02:03', 'g0:18:98:01:02:03', 'f0 18 98 01 02 03']) {
      expect(() => parseMac(t)).toThrow(InputError);
      try {
        parseMac(t);
      } catch (e) {
        if (t.trim()) expect((e as Error).message).not.toContain(t.trim());
      }
    }
  });

  it('rejects e-mails, phones and loyalty ids that are not', () => {
    for (const e of ['', 'jane', 'jane@', '@example.com', 'a@b@example.com', 'jane@example', 'jane doe@example.com']) expect(() => normalizeEmail(e)).toThrow(InputError);
    for (const p of ['', 'call me', '+49', '12', '+49 30 1234567 1234567 89', '0049-abc']) expect(() => normalizePhone(p, '49')).toThrow(InputError);
    expect(() => normalizeLoyaltyId('   ')).toThrow(InputError);
    expect(normalizePhone('(650) 555-0100', '1')).toBe('16505550100');
  });

  it('opt-out lists: comments and blank lines, a clear error naming the bad line', () => {
    const t = v.optout_tokens[0].token;
    expect(parseOptoutList(`# list\n\n${t.toUpperCase()}  # jane\n`, 'x')).toEqual(new Set([t]));
    expect(() => parseOptoutList(`${t}\nnope\n`, 'list.txt')).toThrow(/list\.txt line 2/);
  });

  it('tenants and time zones', () => {
    expect(validateTenant('acme-eu_1')).toBe('acme-eu_1');
    for (const t of ['', 'Acme', 'a/b', 'a+', '-a', 'a'.repeat(65)]) expect(() => validateTenant(t)).toThrow(InputError);
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(() => new StoreDayClock('Mars/Olympus')).toThrow(InputError);
    expect(() => new StoreDayClock('UTC', 24)).toThrow(InputError);
  });

  it('UTC is plain arithmetic (no Intl start-up), with the same days and boundaries as Intl gives', () => {
    for (const rollover of [0, 4]) {
      const plain = new StoreDayClock('UTC', rollover);
      const intl = new StoreDayClock('Etc/UTC', rollover);
      for (let t = Date.parse('2026-01-01T00:00:00Z'); t < Date.parse('2027-01-01T00:00:00Z'); t += 1_337_000) expect(plain.interval(t)).toEqual(intl.interval(t));
    }
  });
});

describe('secret files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'omniloop-secret-'));

  it('writes mode 0600, reads back, refuses to overwrite', () => {
    const s = generateSecret();
    expect(s).toHaveLength(32);
    const path = join(dir, 'k');
    writeSecretFile(path, s);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readSecretFile(path)).toEqual({ secret: s, warnings: [] });
    expect(() => writeSecretFile(path, generateSecret())).toThrow(/refusing to overwrite/);
    expect(readSecretFile(path).secret).toEqual(s);
  });

  it('warns about a loose mode and rejects bad contents', () => {
    const path = join(dir, 'loose');
    writeFileSync(path, Buffer.alloc(32, 1).toString('base64'));
    chmodSync(path, 0o644);
    expect(readSecretFile(path).warnings[0]).toMatch(/chmod 600/);
    for (const bad of ['', 'not base64 !!', Buffer.alloc(16).toString('base64'), Buffer.alloc(33).toString('base64')]) {
      writeFileSync(path, bad);
      expect(() => readSecretFile(path)).toThrow(InputError);
    }
    expect(() => readSecretFile(join(dir, 'missing'))).toThrow(/does not exist/);
  });
});

describe('store-day clock', () => {
  const cases: [string, number][] = [
    ['Europe/Berlin', 0],
    ['Europe/Berlin', 4],
    ['America/New_York', 0],
    ['America/New_York', 2], // rollover inside the spring-forward gap
    ['Australia/Lord_Howe', 0], // half-hour DST
    ['Pacific/Apia', 0], // skipped 2011-12-30 entirely
  ];

  it.each(cases)('agrees with Intl at every instant around DST changes (%s, rollover %i)', (tz, rollover) => {
    const clock = new StoreDayClock(tz, rollover);
    const probe = new StoreDayClock(tz, rollover);
    const starts = ['2026-03-27T00:00:00Z', '2026-10-23T00:00:00Z', '2026-03-06T00:00:00Z', '2026-10-30T00:00:00Z', '2011-12-28T00:00:00Z'];
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (const s of starts) {
      const t0 = Date.parse(s);
      for (let i = 0; i < 300; i++) {
        const t = t0 + Math.floor(rnd() * 4 * 86_400_000);
        expect(clock.dayOf(t)).toBe(probe.slowDayOf(t));
        const iv = clock.interval(t);
        expect(probe.slowDayOf(iv.startMs)).toBe(iv.day);
        expect(probe.slowDayOf(iv.startMs - 1)).not.toBe(iv.day);
        expect(probe.slowDayOf(iv.endMs - 1)).toBe(iv.day);
        expect(probe.slowDayOf(iv.endMs)).not.toBe(iv.day);
      }
    }
  });

  it('has 23- and 25-hour days where DST changes', () => {
    const c = new StoreDayClock('Europe/Berlin');
    const spring = c.interval(Date.parse('2026-03-29T12:00:00Z'));
    expect(spring.day).toBe('2026-03-29');
    expect(spring.endMs - spring.startMs).toBe(23 * 3_600_000);
    const autumn = c.interval(Date.parse('2026-10-25T12:00:00Z'));
    expect(autumn.endMs - autumn.startMs).toBe(25 * 3_600_000);
  });
});
