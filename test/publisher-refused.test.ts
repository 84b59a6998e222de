/**
 * A broker that refuses a batch (MQTT 5 PUBACK 135, not authorized: an ACL that does not list this agent's
 * topic) must not clog the agent: mqtt.js forgets a refused message, so before the fix it stayed in the
 * publisher's in-flight window until a reconnect, and after maxInFlight refusals nothing was sent at all.
 * Now the window empties, the refusals are counted, the batches stay in the outbox, and once the ACL is
 * fixed (a reload, no reconnect) they are delivered.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox } from '../agents/outbox/outbox.js';
import { Publisher } from '../agents/publish/publisher.js';
import { createLogger } from '../shared/log.js';
import { Mosquitto, collect, freePort } from './helpers/mosquitto.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-refused-'));
const acl = join(dir, 'acl');
const passwd = join(dir, 'passwd');
const body = JSON.stringify({ window: { start: 0, end: 60_000, seconds: 60 }, sightings: [], ephemeral: [] });
let broker: Mosquitto;

beforeAll(async () => {
  writeFileSync(passwd, '');
  for (const [u, p] of [['acme.berlin-1.ap-1', 'agent-password-1'], ['hq.hq', 'hq-password-12345']]) spawnSync('mosquitto_passwd', ['-b', passwd, u, p]);
  // The agent's own topic is missing from its rights: every batch is refused.
  writeFileSync(acl, 'user acme.berlin-1.ap-1\ntopic write omniloop/v1/acme/berlin-1/ap-2/#\n\nuser hq.hq\ntopic read omniloop/v1/#\n');
  broker = new Mosquitto(await freePort(), undefined, undefined, `allow_anonymous false\npassword_file ${passwd}\nacl_file ${acl}\n`);
  await broker.start();
});
afterAll(async () => broker.stop());

describe('a batch the broker refuses', () => {
  it('leaves the in-flight window, is counted, stays in the outbox, and goes out once the ACL allows it', async () => {
    const outbox = new Outbox(join(dir, 'outbox.db'));
    outbox.append('sightings', '2026-12-04', Array.from({ length: 40 }, () => body));
    const log = createLogger('test', 'silent');
    const pub = new Publisher(
      outbox,
      { broker: { url: broker.url, username: 'acme.berlin-1.ap-1', password: 'agent-password-1', protocolVersion: 5 }, identity: { tenant: 'acme', store: 'berlin-1', agent: 'ap-1' }, maxInFlight: 8, refusedRetryMs: 300, metricsIntervalMs: 3_600_000 },
      log,
    );
    pub.start();
    for (let i = 0; i < 200 && pub.refused < 8; i++) await new Promise((r) => setTimeout(r, 20));
    expect(pub.refused).toBeGreaterThanOrEqual(8);
    // Refused, not lost, and not stuck in the window (before the fix: 8 in flight for good).
    await new Promise((r) => setTimeout(r, 100));
    expect(pub.inFlightCount).toBe(0);
    expect(outbox.stats().rows).toBe(40);
    expect(pub.published).toBe(0);
    // The broker's operator fixes the ACL; a reload, the same connection.
    const hq = await collect(broker.url, 'omniloop/v1/acme/berlin-1/ap-1/sightings', { username: 'hq.hq', password: 'hq-password-12345' });
    writeFileSync(acl, 'user acme.berlin-1.ap-1\ntopic write omniloop/v1/acme/berlin-1/ap-1/#\n\nuser hq.hq\ntopic read omniloop/v1/#\n');
    broker.reload();
    expect(await pub.drain(10_000)).toBe(true);
    expect(pub.published).toBe(40);
    for (let i = 0; i < 100 && hq.messages.length < 40; i++) await new Promise((r) => setTimeout(r, 20));
    expect(new Set(hq.messages.map((m) => JSON.parse(m.payload).batchId)).size).toBe(40);
    await hq.close();
    await pub.stop(500);
    outbox.close();
  });
});
