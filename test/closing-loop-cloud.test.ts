/**
 * HQ's side of closing the loop: the opt-out list kept as tokens and published retained to every agent,
 * and in-store activation — the segments of the devices present in each store pushed to its agents.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivationPusher, activationPushes } from '../cloud/control/activation.js';
import { ingestMessage } from '../cloud/ingest/ingest.js';
import { DEFAULT_GRAPH_RULES } from '../cloud/identity/graph.js';
import { DEFAULT_SEGMENTS } from '../cloud/segments/rules.js';
import { segmentsOfCids } from '../cloud/segments/evaluate.js';
import { SqliteCloudStore } from '../cloud/store/sqlite-store.js';
import { deriveOptoutKey } from '../shared/identity/keys.js';
import { optoutToken } from '../shared/identity/optout.js';
import { createLogger } from '../shared/log.js';
import { validateOptoutList, validateSegmentsPush } from '../shared/wire/control-schema.js';
import { ControlVerifier, parseControlPublicKey } from '../shared/wire/control-signing.js';
import { testControlKeys } from './helpers/control-keys.js';
import { macToBytes } from '../agents/decode/observation.js';
import { Mosquitto, collect, freePort } from './helpers/mosquitto.js';
import { runCliAsync } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-hq-loop-'));
const SECRET = Buffer.alloc(32, 9);
const keys = testControlKeys();
const verifier = new ControlVerifier([parseControlPublicKey(keys.publicKey)]);
let broker: Mosquitto;

beforeAll(async () => {
  broker = new Mosquitto(await freePort());
  await broker.start();
});
afterAll(async () => broker.stop());

describe('the opt-out list at HQ', () => {
  it('keeps tokens only, and publishes the whole list retained on every change', async () => {
    const keyFile = join(dir, 'acme-optout.key');
    writeFileSync(keyFile, Buffer.from(deriveOptoutKey(SECRET, 'acme')).toString('base64') + '\n', { mode: 0o600 });
    const cfg = join(dir, 'cloud.yaml');
    writeFileSync(join(dir, 'acme-control.key'), keys.privatePem, { mode: 0o600 });
    writeFileSync(cfg, `broker:\n  url: ${broker.url}\ndatabase:\n  sqlite: optout.db\ntenants:\n  acme:\n    optoutKeyFile: acme-optout.key\n    controlKeyFile: acme-control.key\n`);
    const token = optoutToken(deriveOptoutKey(SECRET, 'acme'), macToBytes(0xf01898010203));
    const other = 'c'.repeat(64);
    const add = await runCliAsync(['cloud', 'optout', 'add', '--config', cfg, '--tenant', 'acme', '--mac', 'F0:18:98:01:02:03', '--token', other, '--json']);
    expect(add.code, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout)).toEqual({ tenant: 'acme', added: 2, total: 2, published: true });
    // An agent connecting later gets the list at once (retained).
    const late = await collect(broker.url, 'omniloop/v1/acme/control/optout');
    for (let i = 0; i < 50 && !late.messages.length; i++) await new Promise((r) => setTimeout(r, 20));
    // Signed with the tenant's control key, for this topic.
    const opened = verifier.open('omniloop/v1/acme/control/optout', late.messages[0]!.payload);
    expect(opened.ok).toBe(true);
    const v = validateOptoutList(opened.ok ? opened.body : '');
    expect(v.ok && v.value.tokens).toEqual([token, other].sort());
    expect(late.messages[0]!.retain).toBe(true);
    expect(late.messages[0]!.payload).not.toMatch(/f0:18|F0:18/);
    await late.close();
    const removed = await runCliAsync(['cloud', 'optout', 'remove', '--config', cfg, '--tenant', 'acme', '--token', other, '--json']);
    expect(JSON.parse(removed.stdout)).toMatchObject({ removed: 1, total: 1 });
    expect(JSON.parse((await runCliAsync(['cloud', 'optout', 'list', '--config', cfg, '--tenant', 'acme', '--json'])).stdout).tokens).toEqual([token]);
    // Without the opt-out key, an address cannot be turned into a token; a bad token is refused.
    const noKey = await runCliAsync(['cloud', 'optout', 'add', '--config', cfg, '--tenant', 'other', '--mac', 'F0:18:98:01:02:03']);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/no optout key for tenant other/);
    expect((await runCliAsync(['cloud', 'optout', 'add', '--config', cfg, '--tenant', 'acme', '--token', 'xyz'])).code).toBe(2);
    expect((await runCliAsync(['cloud', 'optout', 'add', '--config', cfg, '--tenant', 'acme'])).stderr).toMatch(/--token, --mac or --file/);
    // No broker: a clear error, exit 1.
    writeFileSync(cfg, `broker:\n  url: mqtt://127.0.0.1:${await freePort()}\ndatabase:\n  sqlite: optout.db\ntenants:\n  acme:\n    controlKeyFile: acme-control.key\n`);
    const down = await runCliAsync(['cloud', 'optout', 'add', '--config', cfg, '--tenant', 'acme', '--token', other]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the broker/);
  });
});

describe('in-store activation', () => {
  const NOW = Date.parse('2026-11-23T15:00:00Z');
  const day = (d: number) => `2026-11-${String(d).padStart(2, '0')}`;
  const cid = (n: number) => n.toString(16).padStart(32, '0');
  let seq = 0;
  const sightings = (store: string, epoch: string, items: { cid: string; t: number }[]) => {
    seq++;
    const t = items[0]!.t;
    return ingestMessage(
      st,
      `omniloop/v1/acme/${store}/ap-1/sightings`,
      Buffer.from(JSON.stringify({ schema: 'omniloop.sightings/1', tenant: 'acme', store, agent: 'ap-1', batchId: `ap-1:x:${seq}`, seq, epoch, window: { start: t, end: t + 60_000, seconds: 60 }, sightings: items.map((i) => ({ cid: i.cid, source: 'wifi', addressClass: 'global', first: i.t, last: i.t + 20 * 60_000, frames: 9, rssiMax: -50, rssiMean: -55, channels: [1] })), ephemeral: [] })),
    );
  };
  const link = (store: string, epoch: string, c: string, hem: string, t: number) => {
    seq++;
    return ingestMessage(st, `omniloop/v1/acme/${store}/till-1/links`, Buffer.from(JSON.stringify({ schema: 'omniloop.links/1', tenant: 'acme', store, agent: 'till-1', batchId: `till-1:x:${seq}`, seq, epoch, links: [{ ts: t, cid: c, hem, consent: { marketing: true } }] })));
  };
  let st: SqliteCloudStore;

  beforeAll(async () => {
    st = new SqliteCloudStore(join(dir, 'activation.db'));
    // A regular: three visits (two earlier days) stitched by her e-mail; here again now in berlin-1.
    for (const [d, c] of [[16, 1], [20, 2], [23, 3]] as const) {
      const t = Date.parse(`${day(d)}T14:40:00Z`);
      await sightings('berlin-1', day(d), [{ cid: cid(c), t }]);
      await link('berlin-1', day(d), cid(c), 'a'.repeat(64), t);
    }
    // An anonymous device now in berlin-1 that stayed long; one in hamburg-1 an hour ago (gone).
    await sightings('berlin-1', day(23), [{ cid: cid(4), t: NOW - 24 * 60_000 }]);
    await sightings('hamburg-1', day(23), [{ cid: cid(5), t: NOW - 80 * 60_000 }]);
  });
  afterAll(async () => st.close());

  it('evaluates only the devices present in each store now', async () => {
    const pushes = await activationPushes(st, NOW, { presenceMs: 5 * 60_000, rules: DEFAULT_SEGMENTS, graphRules: DEFAULT_GRAPH_RULES });
    expect(pushes).toEqual([
      { schema: 'omniloop.segments/1', tenant: 'acme', store: 'berlin-1', epoch: day(23), ts: NOW, cids: { [cid(3)]: ['regulars', 'lingerers', 'returning'], [cid(4)]: ['lingerers', 'new'] } },
    ]);
    expect(validateSegmentsPush(JSON.stringify(pushes[0])).ok).toBe(true);
  });

  it('sees a new link in the next round: the stored graph is updated when the link is stored, nothing to rebuild', async () => {
    const o = { presenceMs: 10 * 60_000, rules: DEFAULT_SEGMENTS, graphRules: DEFAULT_GRAPH_RULES, graphReuseMs: 60_000 };
    const segsOf4 = async (now: number) => (await activationPushes(st, now, o))[0]!.cids[cid(4)];
    expect(await segsOf4(NOW)).toEqual(['lingerers', 'new']);
    // The anonymous device of today is identified: the same person as the regular.
    await link('berlin-1', day(23), cid(4), 'a'.repeat(64), NOW - 2 * 60_000);
    // Before the graph lived in the database, a cached graph hid this for up to graphReuseMs.
    expect(await segsOf4(NOW + 1000)).toEqual(['regulars', 'lingerers', 'returning']);
    // Without a refresh period (exports, counts), a change shows at once.
    expect((await segmentsOfCids(st, 'acme', day(23), [cid(4)], DEFAULT_SEGMENTS, DEFAULT_GRAPH_RULES)).get(cid(4))).toEqual(['regulars', 'lingerers', 'returning']);
  });

  it('pushes each store its segments retained, and only again when they change', async () => {
    const client = mqtt.connect(broker.url);
    await new Promise((r) => client.once('connect', r));
    const pusher = new ActivationPusher(st, client, { intervalMs: 3_600_000, presenceMs: 5 * 60_000, rules: DEFAULT_SEGMENTS, graphRules: DEFAULT_GRAPH_RULES }, createLogger('test', 'silent'), keys.signers);
    await pusher.tick(NOW);
    await pusher.tick(NOW + 1000); // nothing changed
    expect(pusher.pushes).toBe(1);
    const tap = await collect(broker.url, 'omniloop/v1/acme/+/control/segments');
    for (let i = 0; i < 50 && !tap.messages.length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(tap.messages.map((m) => [m.topic, m.retain])).toEqual([['omniloop/v1/acme/berlin-1/control/segments', true]]);
    // HQ's own consumer sees its pushes on the shared subscription: ignored, never a dead letter.
    expect(await ingestMessage(st, tap.messages[0]!.topic, Buffer.from(tap.messages[0]!.payload))).toBe('ignored');
    await sightings('berlin-1', day(23), [{ cid: cid(6), t: NOW - 60_000 }]);
    await pusher.tick(NOW + 2000);
    expect(pusher.pushes).toBe(2);
    await tap.close();
    await pusher.stop();
    expect(client.connected).toBe(false);
  });
});
