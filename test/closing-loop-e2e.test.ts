/**
 * Closing the loop end to end, with a real Mosquitto: a device seen anonymously in store A, identified
 * at the till in store B the same day, seen again in store A a week later and identified by its loyalty
 * card — one profile with its visits, in the right segment, in the exported audience only while it
 * consents; an opted-out device never stored anywhere; an erased profile gone from every table and export.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { Pseudonymizer } from '../agents/pseudonymize/pseudonymizer.js';
import { deriveOptoutKey } from '../shared/identity/keys.js';
import { hashEmail } from '../shared/identity/link-keys.js';
import { PcapWriter } from '../scripts/lib/capture-writer.js';
import { deliverAll, startHq, startStore, type Hq } from './helpers/hq-e2e.js';
import { concat, probeRequest, radiotapHeader } from '../scripts/lib/frames.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-e2e-'));
const SECRET = Buffer.alloc(32, 0x5a);
const TOKEN = 'till-and-signage-token';
const DAY_MS = 86_400_000;
// The visits below reach back 3.3 hours from "now": early in a UTC day that would be yesterday, so
// "now" steps back into yesterday evening then, and every visit of a day stays on that day.
const NOW = Date.now() % 86_400_000 < 4 * 3_600_000 ? Date.now() - 4 * 3_600_000 : Date.now();
const WEEK_AGO = NOW - 7 * DAY_MS;
const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const D = 0x3c2ef0000001; // Jane's phone (global address)
const O = 0x3c2ef0000099; // opted out
const CROWD = Array.from({ length: 110 }, (_, i) => 0x3c2ef1000000 + i); // other customers, identified in B today
const JANE = 'jane.doe@example.com';

let hq: Hq;

/** Ten minutes of probe requests from each device, starting at `start`. */
function capture(name: string, start: number, macs: number[]): string {
  const file = join(dir, `${name}.pcap`);
  const w = new PcapWriter(file, 127);
  for (let s = 0; s < 600; s += 30) for (const mac of macs) w.add(start + s * 1000, concat(radiotapHeader({ flags: 0, freqMhz: 2437, signalDbm: -52 }), probeRequest({ sa: mac, seq: s })));
  w.close();
  return file;
}

const store = (name: string) => startStore(hq, dir, name, SECRET, TOKEN);

const mac = (n: number) => n.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');
const post = (base: string, body: unknown) => fetch(`${base}/v1/identify`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
const cli = (...args: string[]) => hq.cli(...args);

beforeAll(async () => {
  writeFileSync(join(dir, 'acme-optout.key'), Buffer.from(deriveOptoutKey(SECRET, 'acme')).toString('base64') + '\n', { mode: 0o600 });
  hq = await startHq(dir, 'e2e', '\n    optoutKeyFile: acme-optout.key');
});

afterAll(() => hq.stop());

describe('closing the loop, end to end', () => {
  it('stitches one profile across stores and days, segments and exports it only with consent, never stores an opted-out device, and erases completely', async () => {
    // HQ takes an opt-out request: the device's token goes to every agent (retained).
    const opt = await cli('optout', 'add', '--mac', mac(O));
    expect(opt.code, opt.stderr).toBe(0);
    const A = await store('berlin-1');
    const B = await store('hamburg-1');
    for (let i = 0; i < 100 && (A.agent.optoutVersion === 0 || B.agent.optoutVersion === 0); i++) await new Promise((r) => setTimeout(r, 20));

    // A week ago: Jane browses store A anonymously, then buys in store B with her loyalty card and e-mail.
    await A.agent.replay(capture('a-week-ago', WEEK_AGO - 3 * 3_600_000, [D, O]), 'max');
    await B.agent.replay(capture('b-week-ago', WEEK_AGO - 3600_000, [D, O]), 'max');
    // (A backfill: the till's event of a week ago, keyed with that day's key.)
    expect(B.agent.identify({ mac: mac(D), email: JANE, loyaltyId: 'AB-12345', consent: { marketing: true }, ts: WEEK_AGO - 3_300_000 }, 8 * DAY_MS)).toMatchObject({ ok: true, linkedDevice: true });
    expect(B.agent.identify({ mac: mac(O), email: 'olga@example.com', consent: { marketing: true }, ts: WEEK_AGO - 3_300_000 }, 8 * DAY_MS)).toMatchObject({ ok: false, status: 200 });
    // Today: Jane is back in store A and shows her loyalty card; the crowd shops in A and B and gives e-mails in B.
    await A.agent.replay(capture('a-today', NOW - 2 * 3_600_000, [D, O, ...CROWD]), 'max');
    await B.agent.replay(capture('b-today', NOW - 3_600_000, CROWD), 'max');
    const loyal = await post(A.base, { mac: mac(D), loyaltyId: ' ab-12345 ', consent: { marketing: true }, ts: NOW - 2 * 3_600_000 + 300_000 });
    expect(loyal.status).toBe(202);
    for (const [i, m] of CROWD.entries()) expect(B.agent.identify({ mac: mac(m), email: `customer-${i}@example.com`, consent: { marketing: true }, ts: NOW - 3_300_000 })).toMatchObject({ ok: true });
    expect(await (await post(A.base, { mac: mac(O), loyaltyId: 'ZZ-1', consent: { marketing: true } })).json()).toMatchObject({ accepted: false });
    const sent = await deliverAll(hq, [A, B]);
    expect(hq.consumer.counts.stored).toBe(sent);
    expect(hq.consumer.counts.dead).toBe(0);

    // One profile: Jane's devices of both days, her e-mail and her loyalty key; visits in both stores.
    const profile = await cli('profile', '--email', JANE, '--json');
    expect(profile.code, profile.stderr).toBe(0);
    const p = profile.json();
    expect(p.identifiers.map((x: { kind: string }) => x.kind).sort()).toEqual(['cid', 'cid', 'hem', 'loy']);
    expect(p).toMatchObject({ days: [utcDay(WEEK_AGO), utcDay(NOW)], stores: ['berlin-1', 'hamburg-1'], visits: 3, marketingConsent: true });

    // In the right segments today, and in the Meta audience while she consents.
    const segs = (await cli('segments', '--json', '--k', '1')).json();
    expect(segs.segments).toEqual(expect.arrayContaining([{ name: 'multi-store', profiles: 111 }, { name: 'regulars', profiles: 1 }, { name: 'returning', profiles: 1 }]));
    const exportTo = (name: string) => cli('audience', 'export', '--segment', 'multi-store', '--format', 'meta', '--out', join(dir, name), '--json');
    const first = await exportTo('first.csv');
    expect(first.code, first.stderr).toBe(0);
    const hem = hashEmail(JANE);
    expect(readFileSync(join(dir, 'first.csv'), 'utf8')).toContain(hem);
    // She withdraws marketing consent at the till: still one profile for counting, out of the audience.
    expect((await post(A.base, { mac: mac(D), loyaltyId: 'AB-12345', consent: { marketing: false }, ts: NOW - 60_000 })).status).toBe(202);
    await A.agent.publisher!.drain(5000);
    for (let i = 0; i < 200 && hq.consumer.counts.stored < sent + 1; i++) await new Promise((r) => setTimeout(r, 25));
    expect((await cli('profile', '--email', JANE, '--json')).json()).toMatchObject({ marketingConsent: false, days: [utcDay(WEEK_AGO), utcDay(NOW)] });
    expect(await exportTo('second.csv').then((r) => r.code)).toBe(0);
    const second = readFileSync(join(dir, 'second.csv'), 'utf8');
    expect(second).not.toContain(hem);
    expect(second.trim().split('\n')).toHaveLength(111); // header + the crowd

    // The opted-out device is nowhere: not in HQ's tables, not in any outbox, under either day's key.
    const pseudo = new Pseudonymizer({ secret: SECRET, tenant: 'acme', timezone: 'UTC' });
    const oCids = [pseudo.cidForMac(O, WEEK_AGO), pseudo.cidForMac(O, NOW)];
    const dCid = pseudo.cidForMac(D, NOW);
    const files = readdirSync(dir).filter((f) => /\.(db|db-wal)$/.test(f));
    const everything = files.map((f) => readFileSync(join(dir, f)).toString('latin1')).join('\n');
    expect(everything).toContain(dCid); // the scan can see a Consumer-ID where there is one
    for (const c of oCids) expect(everything).not.toContain(c);
    expect(A.agent.pipeline.counters.optedOut + B.agent.pipeline.counters.optedOut).toBe(60); // 20 frames in each of three captures

    // Erasure: the whole profile, from every table and every export; a replay cannot bring it back.
    const erased = await cli('erase', '--email', JANE, '--json');
    expect(erased.code, erased.stderr).toBe(0);
    expect(erased.json()).toMatchObject({ identifiers: 4 });
    expect((await cli('profile', '--email', JANE)).code).toBe(1);
    const db = new Database(join(dir, 'cloud.db'), { readonly: true });
    const hits = (sql: string, ...args: string[]) => (db.prepare(sql).get(...args) as { n: number }).n;
    expect(hits("SELECT count(*) AS n FROM sightings WHERE cid = ?", dCid)).toBe(0);
    expect(hits("SELECT count(*) AS n FROM edges WHERE a LIKE ? OR b LIKE ?", `%${hem}%`, `%${hem}%`)).toBe(0);
    expect(hits("SELECT count(*) AS n FROM edges WHERE a LIKE ? OR b LIKE ?", `%${dCid}%`, `%${dCid}%`)).toBe(0);
    db.close();
    expect(await exportTo('third.csv').then((r) => r.code)).toBe(0);
    expect(readFileSync(join(dir, 'third.csv'), 'utf8')).not.toContain(hem);
    expect((await cli('segments', '--json', '--k', '1')).json().segments).toEqual(expect.arrayContaining([{ name: 'regulars', profiles: 0 }]));
    // Jane comes back: her device of today is suppressed at ingest.
    await A.agent.replay(capture('a-again', NOW - 30 * 60_000, [D]), 'max');
    await A.agent.publisher!.drain(5000);
    await new Promise((r) => setTimeout(r, 300));
    expect((await hq.cloud.sightingsOfDay('acme', utcDay(NOW))).some((r) => r.cid === dCid)).toBe(false);

    for (const s of [A, B]) {
      await s.api.stop();
      await s.agent.stop();
    }
    expect(existsSync(join(dir, 'optout-berlin-1.json'))).toBe(true);
  }, 120_000);
});
