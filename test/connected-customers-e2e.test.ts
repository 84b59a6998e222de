/**
 * Connected customers end to end (issue 13), with a real Mosquitto and HQ on SQLite: a phone with a
 * randomized per-network address connects to the guest WiFi in store A and logs in at the captive portal;
 * a week later it is connected in store B, without logging in. One profile, two stores, returning — from
 * a phone that never probes with a stable address. Its scanning addresses stay ephemeral.
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pseudonymizer } from '../agents/pseudonymize/pseudonymizer.js';
import { PcapWriter } from '../scripts/lib/capture-writer.js';
import { deliverAll, startHq, startStore, type Hq } from './helpers/hq-e2e.js';
import { assocRequest, beaconFrame, concat, dataFrame, probeRequest, qosNullFrame, radiotapHeader } from '../scripts/lib/frames.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-connected-'));
const SECRET = Buffer.alloc(32, 0x3c);
const TOKEN = 'captive-portal-token';
const DAY_MS = 86_400_000;
// Visits reach back 3 hours from "now": early in a UTC day "now" steps back into yesterday evening.
const NOW = Date.now() % DAY_MS < 4 * 3_600_000 ? Date.now() - 4 * 3_600_000 : Date.now();
const WEEK_AGO = NOW - 7 * DAY_MS;
const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const P = 0x5e11a0c0ffee; // the phone's per-network address for "Acme Guest" (locally administered)
const AP_A = 0x0c8ddb00a001;
const AP_B = 0x0c8ddb00b001;
const JANE = 'jane.connected@example.com';
const mac = (n: number) => n.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');

let hq: Hq;

/**
 * Ten minutes in a store: the AP's beacons, the phone associating (only when `associate`) and then its
 * data and null frames every 30 s; between them its scans, each from a new random address.
 */
function capture(name: string, start: number, ap: number, associate: boolean): string {
  const file = join(dir, `${name}.pcap`);
  const w = new PcapWriter(file, 127);
  const rt = (dbm: number) => radiotapHeader({ flags: 0, freqMhz: 2437, signalDbm: dbm });
  for (let s = 0; s < 600; s += 10) w.add(start + s * 1000, concat(rt(-40), beaconFrame(ap, 'Acme Guest', s)));
  if (associate) w.add(start + 1500, concat(rt(-55), assocRequest(P, ap, 'Acme Guest')));
  for (let s = 5; s < 600; s += 30) {
    w.add(start + s * 1000, concat(rt(-55), s % 60 === 5 ? dataFrame(P, ap, 64, s) : qosNullFrame(P, ap, s)));
    w.add(start + s * 1000 + 7_000, concat(rt(-57), probeRequest({ sa: 0x7a0000000000 + start / 1000 + s, seq: s })));
  }
  w.close();
  return file;
}

const store = (name: string) => startStore(hq, dir, name, SECRET, TOKEN, { capture: { wifi: { interface: 'mon0', networks: [{ ssid: 'Acme Guest' }] } } });

beforeAll(async () => {
  hq = await startHq(dir, 'connected');
});

afterAll(() => hq.stop());

describe('connected customers, end to end', () => {
  it('a per-network address connected in store A, logged in at the portal, connected in store B a week later: one profile, two stores, returning', async () => {
    const A = await store('berlin-1');
    const B = await store('hamburg-1');

    // A week ago in store A: the phone connects to the guest WiFi and logs in at the portal, which sees
    // the per-network address (a backfill: the event of a week ago, keyed with that day's key).
    await A.agent.replay(capture('a-week-ago', WEEK_AGO - 3 * 3_600_000, AP_A, true), 'max');
    const login = A.agent.identify({ mac: mac(P), email: JANE, consent: { marketing: true }, ts: WEEK_AGO - 3 * 3_600_000 + 120_000 }, 8 * DAY_MS);
    expect(login).toMatchObject({ ok: true, linkedDevice: true, connected: true });
    // Today in store B: the phone joins the same SSID on its own (already associated: data and null
    // frames only, no association request in the capture), and nobody logs in.
    await B.agent.replay(capture('b-today', NOW - 2 * 3_600_000, AP_B, false), 'max');
    expect(A.agent.counters.connectedLinks).toBe(1);
    expect(B.agent.counters.connectedLinks).toBe(1);
    expect(A.agent.networks!.counts()).toMatchObject({ bssids: 1 });

    const sent = await deliverAll(hq, [A, B]);
    expect(hq.consumer.counts.stored).toBe(sent);
    expect(hq.consumer.counts.dead).toBe(0);

    // One profile: the device of both days (each day's Consumer-ID), its network token, the e-mail.
    const profile = await hq.cli('profile', '--email', JANE, '--json');
    expect(profile.code, profile.stderr).toBe(0);
    const p = profile.json();
    expect(p.identifiers.map((x: { kind: string }) => x.kind).sort()).toEqual(['cid', 'cid', 'hem', 'net']);
    expect(p).toMatchObject({ days: [utcDay(WEEK_AGO), utcDay(NOW)], stores: ['berlin-1', 'hamburg-1'], visits: 2, marketingConsent: true });
    const segs = (await hq.cli('segments', '--json', '--k', '1')).json();
    expect(segs.segments).toEqual(expect.arrayContaining([{ name: 'multi-store', profiles: 1 }, { name: 'returning', profiles: 1 }]));

    // HQ stored the connected phone's sightings as `associated`; its scanning addresses only as counts.
    const pseudo = new Pseudonymizer({ secret: SECRET, tenant: 'acme', timezone: 'UTC' });
    const today = await hq.cloud.sightingsOfDay('acme', utcDay(NOW));
    expect(today.filter((r) => r.cid === pseudo.cidForMac(P, NOW)).length).toBeGreaterThan(0);
    expect(new Set(today.map((r) => r.cid))).toEqual(new Set([pseudo.cidForMac(P, NOW)]));
    // Nothing raw anywhere: neither the address nor the e-mail in any database or outbox.
    const everything = readdirSync(dir)
      .filter((f) => /\.(db|db-wal)$/.test(f))
      .map((f) => readFileSync(join(dir, f)).toString('latin1'))
      .join('\n');
    expect(everything).not.toMatch(/5e:11:a0|5e11a0c0ffee|jane\.connected/i);
    expect(everything).not.toContain(Buffer.from([0x5e, 0x11, 0xa0, 0xc0, 0xff, 0xee]).toString('latin1'));

    for (const s of [A, B]) {
      await s.api.stop();
      await s.agent.stop();
    }
  }, 120_000);
});
