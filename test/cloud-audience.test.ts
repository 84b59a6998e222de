/**
 * Audience export through the CLI, on both databases: the platforms' file formats exactly, only profiles
 * whose current marketing consent is granted, the minimum list size (refused with nothing written), no
 * overwriting without --force, files readable by their owner only, an erased person gone from the next
 * export — and never a raw identifier, a Consumer-ID or a loyalty key in the file.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ingestMessage } from '../cloud/ingest/ingest.js';
import type { CloudStore } from '../cloud/store/cloud-store.js';
import { DEFAULT_GRAPH_RULES } from '../cloud/identity/graph.js';
import { tenantGraph } from '../cloud/identity/tenant-graph.js';
import { hashEmail, hashPhone } from '../shared/identity/link-keys.js';
import { buildAudience, audienceCsv, PLATFORMS } from '../cloud/audience/audience.js';
import { consentIndex } from '../cloud/identity/consent.js';
import { runCliAsync } from './helpers/cli.js';
import { backends } from './helpers/backends.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-audience-'));
const { list: BACKENDS, dropAll } = backends(dir, 'aud');
afterAll(dropAll);

const D0 = '2026-11-23';
const T0 = Date.parse(`${D0}T09:00:00Z`);
const N = 120;
const cidOf = (i: number) => createHash('md5').update(`person-${i}`).digest('hex');
const email = (i: number, n = 0) => `Person.${i}${n ? `.alt${n}` : ''}@Example.com`;
const phone = (i: number) => `+49 30 ${1_000_000 + i}`;
const loyaltyOf = (i: number) => createHash('sha256').update(`loyalty-${i}`).digest('hex');

/**
 * People 0..119, each seen on D0 (10..39 lingered 35 minutes). Their link events:
 *   0..104    e-mail (and a phone for every third), consent granted
 *   105..109  granted, then withdrawn later                → no consent
 *   110..112  refused, then granted later                  → consent
 *   113..115  loyalty card only, granted                   → nothing a platform can match
 *   116..117  phone only, granted                          → Meta yes, Google no (phone hashes differ)
 *   118       two e-mails and a phone, granted             → two rows
 *   119       never linked                                 → in no profile, never exported
 */
type Link = { ts: number; cid: string; hem?: string; hph?: string; loyalty?: string; consent: { marketing: boolean } };
function linksOf(i: number): Link[] {
  const base = { cid: cidOf(i) };
  const t = T0 + 3_600_000 + i * 1000;
  if (i <= 104) return [{ ...base, ts: t, hem: hashEmail(email(i)), ...(i % 3 === 0 ? { hph: hashPhone(phone(i), '49') } : {}), consent: { marketing: true } }];
  if (i <= 109)
    return [
      { ...base, ts: t, hem: hashEmail(email(i)), consent: { marketing: true } },
      { ...base, ts: t + 86_000, hem: hashEmail(email(i)), consent: { marketing: false } },
    ];
  if (i <= 112)
    return [
      { ...base, ts: t, hem: hashEmail(email(i)), consent: { marketing: false } },
      { ...base, ts: t + 86_000, hem: hashEmail(email(i)), consent: { marketing: true } },
    ];
  if (i <= 115) return [{ ...base, ts: t, loyalty: loyaltyOf(i), consent: { marketing: true } }];
  if (i <= 117) return [{ ...base, ts: t, hph: hashPhone(phone(i), '49'), consent: { marketing: true } }];
  if (i === 118)
    return [
      { ...base, ts: t, hem: hashEmail(email(i)), hph: hashPhone(phone(i), '49'), consent: { marketing: true } },
      { ...base, ts: t + 1, hem: hashEmail(email(i, 1)), consent: { marketing: true } },
    ];
  return [];
}

async function seed(store: CloudStore): Promise<void> {
  const sightings = Array.from({ length: N }, (_, i) => ({ cid: cidOf(i), source: 'wifi', addressClass: 'global', first: T0 + i * 1000, last: T0 + i * 1000 + (i >= 10 && i < 40 ? 35 : 5) * 60_000, frames: 9, rssiMax: -70, rssiMean: -75, channels: [6] }));
  const batch = { schema: 'omniloop.sightings/1', tenant: 'acme', store: 'berlin-1', agent: 'ap-1', batchId: 'ap-1:abcd1234:1', seq: 1, epoch: D0, window: { start: T0, end: T0 + 3_600_000, seconds: 60 }, sightings, ephemeral: [] };
  expect(await ingestMessage(store, 'omniloop/v1/acme/berlin-1/ap-1/sightings', Buffer.from(JSON.stringify(batch)))).toBe('stored');
  const links = Array.from({ length: N }, (_, i) => linksOf(i)).flat();
  const lb = { schema: 'omniloop.links/1', tenant: 'acme', store: 'berlin-1', agent: 'till-1', batchId: 'till-1:abcd1234:1', seq: 1, epoch: D0, links };
  expect(await ingestMessage(store, 'omniloop/v1/acme/berlin-1/till-1/links', Buffer.from(JSON.stringify(lb)))).toBe('stored');
}

const SEGMENTS = `segments:\n  - { name: visitors, minVisits: 1, withinDays: 1 }\n  - { name: lingerers, minDwellMinutes: 30, withinDays: 1 }\n`;

/** The lines a platform's file must hold for person `i`, from the raw identifiers (hashed here). */
function expectedLines(platform: 'meta' | 'google', people: number[]): string[] {
  const lines: string[] = [];
  for (const i of people) {
    const emails = linksOf(i).flatMap((l) => (l.hem ? [l.hem] : []));
    const phones = linksOf(i).flatMap((l) => (l.hph ? [l.hph] : []));
    const e = [...new Set(emails)].sort();
    const p = platform === 'meta' ? [...new Set(phones)].sort() : [];
    const cols = platform === 'meta' ? [e, p] : [e];
    for (let r = 0; r < Math.max(...cols.map((c) => c.length)); r++) lines.push(cols.map((c) => c[r] ?? '').join(','));
  }
  return lines;
}
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, k) => a + k);
const CONSENTING = [...range(0, 104), ...range(110, 112), 118];

describe.each(BACKENDS)('audience export on %s', (name, backend) => {
  it('writes exact Meta and Google files of consenting profiles, refuses small lists and overwrites, forgets erased people', async () => {
    const store = await backend.open('export');
    await seed(store);
    const g = await tenantGraph(store, 'acme', DEFAULT_GRAPH_RULES); // profile ids keyed with this database's key
    await store.close();
    const cfg = join(dir, `export-${name}.yaml`);
    writeFileSync(cfg, `broker:\n  url: mqtt://127.0.0.1:1\n${backend.yaml('export')}${SEGMENTS}`);
    const outDir = join(dir, `out-${name}`);
    mkdirSync(outDir);
    const run = (...args: string[]) => runCliAsync(['cloud', 'audience', 'export', '--config', cfg, '--tenant', 'acme', '--day', D0, ...args]);

    // Meta: email,phone; 111 profiles (105 + 3 re-granted + 2 phone-only + the one with two e-mails, on two rows).
    const meta = join(outDir, 'meta.csv');
    const m = await run('--segment', 'visitors', '--format', 'meta', '--out', meta);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toMatch(/^exported 111 of 119 profiles of segment visitors on 2026-11-23 to .*meta\.csv \(112 rows, Meta format\); left out: 5 without marketing consent, 3 without an identifier Meta can use\n$/);
    const metaText = readFileSync(meta, 'utf8');
    const [metaHeader, ...metaRows] = metaText.trimEnd().split('\n');
    expect(metaHeader).toBe('email,phone');
    expect([...metaRows].sort()).toEqual(expectedLines('meta', [...CONSENTING, 116, 117]).sort());
    expect(metaText.endsWith('\n')).toBe(true);
    expect(statSync(meta).mode & 0o777).toBe(0o600);
    // Rows follow profile ids: a profile's rows are together, its e-mails in order.
    const idOfRow = (row: string) => g.profileOf.get(row.startsWith(',') ? `hph:${row.slice(1)}` : `hem:${row.split(',')[0]}`)!;
    const ids = metaRows.map(idOfRow);
    expect(ids).toEqual([...ids].sort());

    // Google: Email only (its phone hashes include "+", ours do not); the phone-only people have nothing for it.
    const google = join(outDir, 'google.csv');
    const gr = await run('--segment', 'visitors', '--format', 'google', '--out', google, '--json');
    expect(gr.code, gr.stderr).toBe(0);
    expect(JSON.parse(gr.stdout)).toEqual({ tenant: 'acme', segment: 'visitors', day: D0, format: 'google', out: google, profiles: 119, rows: 110, exported: 109, noConsent: 5, noIdentifier: 5 });
    const googleText = readFileSync(google, 'utf8');
    expect(googleText.split('\n')[0]).toBe('Email');
    expect(googleText.trimEnd().split('\n').slice(1).sort()).toEqual(expectedLines('google', CONSENTING).sort());
    expect(statSync(google).mode & 0o777).toBe(0o600);

    // Nothing but hashes: no raw e-mail or phone, no Consumer-ID, no loyalty key; no temporary file left.
    for (const text of [metaText, googleText]) {
      for (const cell of text.trimEnd().split('\n').slice(1).flatMap((l) => l.split(','))) expect(cell).toMatch(/^([0-9a-f]{64})?$/);
      expect(text).not.toMatch(/@|\+49/);
      for (let i = 0; i < N; i++) {
        expect(text).not.toContain(cidOf(i));
        expect(text).not.toContain(loyaltyOf(i));
        expect(text).not.toContain(`4930${1_000_000 + i}`); // a phone's digits
      }
    }
    expect(readdirSync(outDir).sort()).toEqual(['google.csv', 'meta.csv']);
    expect(m.stdout + m.stderr + gr.stdout + gr.stderr).not.toMatch(/@/);

    // Never over an existing file without --force; with it, replaced.
    writeFileSync(google, 'mine\n');
    const again = await run('--segment', 'visitors', '--format', 'google', '--out', google);
    expect(again.code, again.stderr).toBe(2);
    expect(again.stderr).toMatch(/exists; refusing to overwrite it \(use --force\)/);
    expect(readFileSync(google, 'utf8')).toBe('mine\n');
    const forced = await run('--segment', 'visitors', '--format', 'google', '--out', google, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(google, 'utf8')).toBe(googleText);
    expect(statSync(google).mode & 0o777).toBe(0o600);

    // Below the platform's minimum (or a raised one): exit 1, nothing written. --min-size cannot lower it.
    const small = join(outDir, 'small.csv');
    const few = await run('--segment', 'lingerers', '--format', 'meta', '--out', small);
    expect(few.code, few.stderr).toBe(1);
    expect(few.stderr).toMatch(/segment lingerers on 2026-11-23 has 30 exportable profiles .*; Meta needs at least 100: nothing written/);
    const raised = await run('--segment', 'visitors', '--format', 'meta', '--out', small, '--min-size', '112');
    expect(raised.code, raised.stderr).toBe(1);
    expect(raised.stderr).toMatch(/has 111 exportable profiles .* needs at least 112/);
    const lowered = await run('--segment', 'visitors', '--format', 'meta', '--out', small, '--min-size', '50');
    expect(lowered.code, lowered.stderr).toBe(2);
    expect(lowered.stderr).toMatch(/--min-size must be a whole number of at least 100/);
    expect(existsSync(small)).toBe(false);
    expect(readdirSync(outDir).sort()).toEqual(['google.csv', 'meta.csv']);
    expect((await run('--segment', 'nope', '--format', 'meta', '--out', small)).stderr).toMatch(/no segment "nope" in the config \(segments: visitors, lingerers\)/);
    expect((await run('--segment', 'visitors', '--format', 'tiktok', '--out', small)).code).toBe(2);

    // Erasure: person 3 (e-mail and phone) is gone from the next export.
    const erased = await runCliAsync(['cloud', 'erase', '--config', cfg, '--tenant', 'acme', '--email', email(3)]);
    expect(erased.code, erased.stderr).toBe(0);
    const after = join(outDir, 'after.csv');
    const r = await run('--segment', 'visitors', '--format', 'meta', '--out', after);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^exported 110 of 118 profiles/);
    const afterText = readFileSync(after, 'utf8');
    expect(afterText).not.toContain(hashEmail(email(3)));
    expect(afterText).not.toContain(hashPhone(phone(3), '49'));
    expect(afterText.trimEnd().split('\n').slice(1).sort()).toEqual(expectedLines('meta', [...CONSENTING.filter((i) => i !== 3), 116, 117]).sort());
  });
});

describe('audience (pure)', () => {
  it('keeps out profiles without current consent or a usable identifier, and never writes a cid or loyalty key', () => {
    const hem = (c: string) => `hem:${c.repeat(64)}`;
    const hph = (c: string) => `hph:${c.repeat(64)}`;
    const cid = `cid:${D0}:${'a'.repeat(32)}`;
    const loy = `loy:${'b'.repeat(64)}`;
    const edge = (a: string, b: string, ts: number, marketing: boolean) => ({ a, b, ts, batchId: 'x:y:1', store: 'berlin-1', marketing });
    const edges = [edge(hem('1'), cid, 1, true), edge(hem('2'), hph('3'), 1, true), edge(hem('2'), loy, 2, true), edge(hph('4'), cid, 1, true), edge(hph('4'), cid, 2, false), edge(loy, cid, 1, true)];
    const profiles = [
      { id: 'p_2', members: [hem('2'), hph('3'), loy] },
      { id: 'p_1', members: [hem('1'), cid] },
      { id: 'p_4', members: [hph('4'), cid] }, // withdrew
      { id: 'p_5', members: [loy, cid] }, // nothing to match on
    ];
    const a = buildAudience('meta', profiles, consentIndex(edges));
    expect(audienceCsv(a)).toBe(`email,phone\n${'1'.repeat(64)},\n${'2'.repeat(64)},${'3'.repeat(64)}\n`);
    expect(a).toMatchObject({ exported: 2, noConsent: 1, noIdentifier: 1 });
    expect(audienceCsv(buildAudience('google', profiles, consentIndex(edges)))).toBe(`Email\n${'1'.repeat(64)}\n${'2'.repeat(64)}\n`);
    expect(PLATFORMS.meta.minSize).toBe(100);
    expect(PLATFORMS.google.minSize).toBe(100);
  });
});
