/**
 * Issue 14, finding 6: a lagging HQ lost data. With Mosquitto's defaults a client's queue holds 1000
 * messages; whatever arrives beyond that for an offline HQ session is dropped, although the broker has
 * acknowledged it to the agent, which deletes it. Here HQ's real consumer subscribes, goes away, and an
 * agent publishes 5,000 valid batches among 20,000 junk messages; then HQ comes back. On a broker with
 * the defaults most valid batches are gone; on one with the settings `omniloop broker provision` ships
 * every one arrives. `omniloop broker check` tells the two configs apart.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judgeMosquittoConf, parseMosquittoConf } from '../app/broker/mosquitto-conf-check.js';
import { loadCloudConfig } from '../cloud/config/cloud-config.js';
import { Consumer } from '../cloud/ingest/consumer.js';
import { SqliteCloudStore } from '../cloud/store/sqlite-store.js';
import { createLogger } from '../shared/log.js';
import { runCli } from './helpers/cli.js';
import { Mosquitto, freePort } from './helpers/mosquitto.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-queue-'));
const log = createLogger('test', 'silent');
const JUNK = 20_000;
const VALID = 5_000;
const TOPIC = 'omniloop/v1/acme/berlin-1/ap-1/sightings';
const T = Date.parse('2026-11-23T10:00:00Z');
const AGENT = 'acme.berlin-1.ap-1';

function batch(seq: number): string {
  return JSON.stringify({
    schema: 'omniloop.sightings/1',
    tenant: 'acme',
    store: 'berlin-1',
    agent: 'ap-1',
    batchId: `ap-1:q1:${seq}`,
    seq,
    epoch: '2026-11-23',
    window: { start: T, end: T + 60_000, seconds: 60 },
    sightings: [{ cid: seq.toString(16).padStart(32, '0'), source: 'wifi', addressClass: 'global', first: T + 1, last: T + 2, frames: 3, rssiMax: -50, rssiMean: -55, channels: [1] }],
    ephemeral: [],
  });
}

const password = (out: string, user: string): string => readFileSync(join(out, 'credentials', `${user}.password`), 'utf8').trim();

interface Run {
  acked: number;
  stored: number;
  dead: number;
}

/** HQ subscribes and goes away; the agent publishes everything (each PUBACKed); HQ comes back and takes what was kept. */
async function laggingHq(name: string, broker: Mosquitto, auth: { hq?: string; agent?: string } = {}): Promise<Run> {
  const cfgPath = join(dir, `${name}.yaml`);
  writeFileSync(cfgPath, `broker:\n  url: ${broker.url}\n${auth.hq ? `  username: hq.hq\n  passwordFile: ${auth.hq}\n` : ''}group: lagging\ndatabase:\n  sqlite: ${name}.db\n`);
  const cfg = loadCloudConfig(cfgPath);
  const cloud = new SqliteCloudStore(join(dir, `${name}.db`));
  const before = new Consumer(cfg, cloud, log, 'omniloop-cloud-lagging-hq-1');
  await before.start();
  await before.stop(); // the session (subscription and queue) stays on the broker

  const agent: MqttClient = mqtt.connect(broker.url, { protocolVersion: 5, clientId: 'omniloop-acme-berlin-1-ap-1', reconnectPeriod: 0, ...(auth.agent ? { username: AGENT, password: auth.agent } : {}) });
  await new Promise<void>((resolve, reject) => agent.once('connect', () => resolve()).once('error', reject));
  let acked = 0;
  const sends: Promise<void>[] = [];
  // One valid batch after every four junk messages: the valid ones are behind the junk all the way.
  for (let i = 1; i <= JUNK + VALID; i++) {
    const body = i % 5 === 0 ? batch(i / 5) : `junk ${i}`;
    sends.push(new Promise((r) => agent.publish(TOPIC, body, { qos: 1 }, (e) => (e ? r() : (acked++, r())))));
  }
  await Promise.all(sends);
  await new Promise<void>((r) => agent.end(false, {}, () => r()));

  const after = new Consumer(cfg, cloud, log, 'omniloop-cloud-lagging-hq-1');
  await after.start();
  // Done when nothing more arrives for a second (everything queued comes at once on reconnect).
  let seen = -1;
  for (;;) {
    const now = after.counts.stored + after.counts.dead;
    if (now === JUNK + VALID || now === seen) break;
    seen = now;
    await new Promise((r) => setTimeout(r, 1000));
  }
  await after.stop();
  const run = { acked, stored: (await cloud.stats()).batches, dead: after.counts.dead };
  await cloud.close();
  return run;
}

describe('a lagging HQ loses nothing on the shipped broker settings (finding 6)', () => {
  let defaults: Mosquitto;
  let shipped: Mosquitto;
  let out: string;

  beforeAll(async () => {
    writeFileSync(join(dir, 'roster.yaml'), 'hq: [hq]\ntenants:\n  acme:\n    berlin-1: [ap-1]\n');
    out = join(dir, 'out');
    const r = runCli(['broker', 'provision', '--agents', join(dir, 'roster.yaml'), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    defaults = new Mosquitto(await freePort());
    shipped = new Mosquitto(await freePort(), undefined, undefined, readFileSync(join(out, 'mosquitto.conf'), 'utf8'));
    await Promise.all([defaults.start(), shipped.start()]);
  });
  afterAll(async () => {
    await Promise.all([defaults.stop(), shipped.stop()]);
  });

  it("with Mosquitto's defaults, batches acknowledged to the agent never reach HQ", async () => {
    const run = await laggingHq('defaults', defaults);
    expect(run.acked).toBe(JUNK + VALID); // the agent deleted every one of them
    // The queue kept about 1000 messages (a fifth of them valid); the rest was dropped.
    expect(run.stored + run.dead).toBeLessThan(1100);
    expect(VALID - run.stored).toBeGreaterThan(4700);
  });

  it('with the shipped settings every valid batch arrives, and every junk message is dead-lettered', async () => {
    const run = await laggingHq('shipped', shipped, { hq: join(out, 'credentials', 'hq.hq.password'), agent: password(out, AGENT) });
    expect(run).toEqual({ acked: JUNK + VALID, stored: VALID, dead: JUNK });
  });

  it('`omniloop broker check` fails the default config and passes the shipped one', () => {
    const main = (extra: string) => `listener 1883\npersistence true\npersistence_location /var/lib/mosquitto/\n${extra}`;
    const bare = judgeMosquittoConf(parseMosquittoConf(main(''), 'mosquitto.conf'));
    expect(bare.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(['users', 'acl', 'queue']);
    expect(bare.find((c) => c.id === 'queue')!.summary).toMatch(/default queue is 1000 messages per client/);
    const good = judgeMosquittoConf(parseMosquittoConf(main(readFileSync(join(out, 'mosquitto.conf'), 'utf8')), 'mosquitto.conf'));
    // The snippet sets no listener: binding client ids to users is the operator's listener layout.
    expect(good.map((c) => [c.id, c.status])).toEqual([['users', 'ok'], ['acl', 'ok'], ['client-ids', 'warn'], ['queue', 'ok'], ['message-size', 'ok'], ['persistence', 'ok'], ['session-expiry', 'ok']]);
    expect(judgeMosquittoConf(parseMosquittoConf(main('listener 8883\nuse_username_as_clientid true\n'), 'm.conf')).find((c) => c.id === 'client-ids')!.status).toBe('ok');

    const lint = (extra: string) => judgeMosquittoConf(parseMosquittoConf(main(readFileSync(join(out, 'mosquitto.conf'), 'utf8') + extra), 'c.conf'));
    const status = (extra: string, id: string) => lint(extra).find((c) => c.id === id)!;
    expect(status('max_queued_messages 5000\n', 'queue')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/max_queued_messages 5000 \(c\.conf:\d+\): a lagging or offline HQ loses/) });
    expect(status('max_queued_bytes 4294968296\n', 'queue')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/32 bits.*acts as 1000/) });
    expect(status('max_queued_bytes 1000000\n', 'queue').status).toBe('fail');
    expect(status('max_queued_messages 0\nmax_queued_bytes 0\n', 'queue')).toMatchObject({ status: 'warn', summary: expect.stringMatching(/nothing bounds the broker's memory/) });
    expect(status('queue_qos0_messages true\n', 'queue').status).toBe('warn');
    expect(status('max_packet_size 1000000\n', 'message-size')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/valid sightings batch/) });
    expect(status('message_size_limit 2000000\n', 'message-size')).toMatchObject({ status: 'warn', summary: expect.stringMatching(/opt-out list over 2000000 bytes never reaches the agents/) });
    expect(status('persistence false\n', 'persistence').status).toBe('fail');
    expect(status('autosave_interval 1800\n', 'persistence')).toMatchObject({ status: 'warn', summary: expect.stringMatching(/loses up to 30 minutes/) });
    expect(status('persistent_client_expiration 2h\n', 'session-expiry').status).toBe('warn');
    expect(status('persistent_client_expiration soon\n', 'session-expiry').status).toBe('fail');
    expect(status('allow_anonymous true\n', 'users').status).toBe('fail');
    expect(status('max_queued_messages lots\n', 'queue')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/is not a whole number/) });
  });

  it('`omniloop broker check --conf` follows include_dir, prints a fix under each problem and exits 1 on a failure', () => {
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(conf, `listener 1883\npersistence true\npersistence_location /var/lib/mosquitto/\ninclude_dir ${join(dir, 'conf.d')}\n`);
    mkdirSync(join(dir, 'conf.d'), { recursive: true });
    const bare = runCli(['broker', 'check', '--conf', conf]);
    expect(bare.code).toBe(1);
    expect(bare.stdout).toMatch(/^FAIL {2}queue +max_queued_messages not set/m);
    expect(bare.stdout).toMatch(/^ +fix: set max_queued_messages 1000000/m);
    expect(bare.stderr).toMatch(/^omniloop: 3 broker settings failed: users, acl, queue\n$/);
    writeFileSync(join(dir, 'conf.d', 'omniloop.conf'), readFileSync(join(out, 'mosquitto.conf')));
    const good = runCli(['broker', 'check', '--conf', conf, '--json']);
    expect(good.code, good.stdout).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, checks: expect.arrayContaining([expect.objectContaining({ id: 'queue', status: 'ok' })]) });
  });
});
