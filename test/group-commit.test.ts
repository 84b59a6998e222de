/**
 * Group commit (issue 15): many messages stored in one transaction must give exactly what storing them
 * one at a time gives — outcomes, rows, counters, dead letters, erased people kept out — on SQLite and
 * PostgreSQL. A batch whose content the database refuses (a real trigger in the real database) becomes
 * a dead letter and leaves the rest of its group stored; a failing database stores none of the group
 * and fails every message of it, so none is acknowledged.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ingestMessages, type InboundMessage } from '../cloud/ingest/ingest-group.js';
import { ingestMessage } from '../cloud/ingest/ingest.js';
import type { CloudStore } from '../cloud/store/cloud-store.js';
import { DAY, sightingsMessage } from '../scripts/lib/agent-batches.js';
import { PG, backends } from './helpers/backends.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-group-'));
const { list, dropAll } = backends(dir, 'group');
afterAll(() => dropAll());

const T = Date.parse(`${DAY}T09:00:00Z`);
const REFUSED_CID = 'f'.repeat(32);
const topic = (store: string, kind: string) => `omniloop/v1/acme/${store}/ap-1/${kind}`;
const id = (store: string) => ({ tenant: 'acme', store, agent: 'ap-1' });
const json = (o: unknown) => Buffer.from(JSON.stringify(o));

function sightings(store: string, seq: number, edit?: (b: Record<string, any>) => void): InboundMessage {
  const b = JSON.parse(sightingsMessage(id(store), 'i1', seq, 20).toString());
  edit?.(b);
  return { topic: topic(store, 'sightings'), payload: json(b), receivedMs: T + seq };
}

function links(store: string, seq: number, hem: string): InboundMessage {
  const body = { schema: 'omniloop.links/1', ...id(store), batchId: `ap-1:i1:${seq}`, seq, epoch: DAY, links: [{ ts: T, cid: 'a'.repeat(32), hem, consent: { marketing: true } }, { ts: T + 5, cid: 'b'.repeat(32), hem: 'e'.repeat(64), hph: 'd'.repeat(64), consent: { marketing: false } }] };
  return { topic: topic(store, 'links'), payload: json(body), receivedMs: T + seq };
}

/** Every kind of message a group meets: new batches, a known one, repeats and conflicts inside the group, garbage, status. */
function mixedGroup(): InboundMessage[] {
  const msgs: InboundMessage[] = [];
  for (let seq = 1; seq <= 30; seq++) msgs.push(sightings(`s${seq % 3}`, seq));
  msgs.push(sightings('s1', 31, (b) => (b.estimate = { method: 'ephemeral-v1', wifi: { present: 4.5, arrivals: 1 }, ble: { present: 2, arrivals: 0.5 } })));
  msgs.push(links('s1', 40, 'c'.repeat(64)), links('s2', 41, '9'.repeat(64)));
  msgs.push(sightings('s0', 3)); // the same batch twice in one group: a duplicate
  msgs.push(sightings('s1', 4, (b) => (b.sightings[0].frames = 99))); // its id again, other content: a conflict
  msgs.push(links('s1', 40, 'c'.repeat(64)), links('s2', 41, '8'.repeat(64))); // a duplicate and a conflict of links
  msgs.push(sightings('s2', 50)); // stored before the group: a duplicate
  msgs.push({ topic: topic('s1', 'sightings'), payload: Buffer.from('{"schema":"nope"}') });
  msgs.push({ topic: 'omniloop/v1/acme', payload: Buffer.from('x') });
  msgs.push({ topic: topic('s1', 'status'), payload: json({ state: 'online', outbox: { rows: 2 } }), receivedMs: T });
  msgs.push({ topic: topic('s1', 'doctor'), payload: Buffer.from('probe') });
  return msgs;
}

async function contents(store: CloudStore) {
  const sort = <T>(xs: T[]) => xs.map((x) => JSON.stringify(x)).sort();
  return {
    stats: await store.stats(),
    sightings: sort(await store.sightingsOfDay('acme', DAY)),
    estimates: sort(await store.estimatesOfDay('acme', DAY)),
    edges: sort(await store.edges('acme')),
    dead: (await store.deadLetters(100)).map((d) => `${d.topic} ${d.reason}`).sort(),
    agents: (await store.agents()).map((a) => `${a.store}/${a.agent} ${a.state}`),
  };
}

/** Runs SQL on the database behind a store (`$s.` stands for its PostgreSQL schema). */
async function raw(backend: (typeof list)[number][1], name: string, sql: string): Promise<void> {
  const schema = /schema: (\S+)/.exec(backend.yaml(name))?.[1];
  if (!schema) {
    const db = new Database(join(dir, `${name}.db`));
    db.exec(sql.replaceAll('$s.', ''));
    db.close();
    return;
  }
  const c = new pg.Client(PG);
  await c.connect();
  await c.query(sql.replaceAll('$s.', `${schema}.`));
  await c.end();
}

describe.each(list)('group commit on %s', (kind, backend) => {
  it('stores what one message at a time stores: outcomes, rows, counters, dead letters, erasures', async () => {
    const [grouped, single] = [await backend.open('grouped'), await backend.open('single')];
    const erased = `cid:${DAY}:${(7 * 20 + 3).toString(16).padStart(32, '0')}`; // a device of batch 7
    for (const s of [grouped, single]) {
      await s.erase('acme', [erased]);
      expect(await ingestMessage(s, topic('s2', 'sightings'), sightings('s2', 50).payload, T)).toBe('stored');
    }
    const msgs = mixedGroup();
    const settled = await ingestMessages(grouped, msgs);
    const one: string[] = [];
    for (const m of msgs) one.push(await ingestMessage(single, m.topic, m.payload, m.receivedMs));
    expect(settled.map((s) => (s.ok ? s.result : `error ${s.error.message}`))).toEqual(one);
    expect(one.filter((r) => r === 'stored')).toHaveLength(33);
    expect(one.slice(33)).toEqual(['duplicate', 'conflict', 'duplicate', 'conflict', 'duplicate', 'dead', 'dead', 'agent', 'ignored']);
    const [g, s] = [await contents(grouped), await contents(single)];
    expect(g).toEqual(s);
    expect(g.stats).toMatchObject({ batches: 34, sightings: 32 * 20 - 1, duplicates: 3, conflicts: 2 });
    expect(g.estimates).toHaveLength(1);
    await grouped.close();
    await single.close();
  });

  it('makes a batch the database refuses a dead letter and keeps the rest of its group', async () => {
    const store = await backend.open('refusing');
    // The real database refuses one device (as it refuses a NUL, a value out of range): a trigger.
    if (kind === 'sqlite') await raw(backend, 'refusing', `CREATE TRIGGER refuse BEFORE INSERT ON sightings WHEN NEW.cid = '${REFUSED_CID}' BEGIN SELECT RAISE(ABORT, 'refused'); END;`);
    else {
      await raw(backend, 'refusing', `CREATE FUNCTION $s.refuse() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN IF NEW.cid = '${REFUSED_CID}' THEN RAISE EXCEPTION 'refused' USING ERRCODE = '22023'; END IF; RETURN NEW; END $f$;
        CREATE TRIGGER refuse BEFORE INSERT ON $s.sightings FOR EACH ROW EXECUTE FUNCTION $s.refuse();`);
    }
    const msgs = Array.from({ length: 20 }, (_, i) => sightings('s1', i + 1, i === 11 ? (b) => (b.sightings[5].cid = REFUSED_CID) : undefined));
    const settled = await ingestMessages(store, msgs);
    expect(settled.map((s) => s.ok && s.result)).toEqual(msgs.map((_, i) => (i === 11 ? 'dead' : 'stored')));
    const stats = await store.stats();
    expect(stats).toMatchObject({ batches: 19, sightings: 19 * 20, deadLetters: 1 });
    expect((await store.deadLetters(5))[0]!.reason).toBe(`the database refused the message (${kind === 'sqlite' ? 'SQLITE_CONSTRAINT_TRIGGER' : '22023'})`);
    // Its batch id was not kept either: the refused batch is not a duplicate of itself later.
    expect(await ingestMessage(store, msgs[11]!.topic, msgs[11]!.payload)).toBe('dead');
    await store.close();
  });

  it.runIf(kind === 'postgres')('stores none of a group when the database fails, and fails every message of it (none acknowledged)', async () => {
    const store = await backend.open('failing');
    // A database at fault, not the message (SQLSTATE 53100, disk full), hit by the group's last batch.
    await raw(backend, 'failing', `CREATE FUNCTION $s.disk_full() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN IF NEW.cid = '${REFUSED_CID}' THEN RAISE EXCEPTION 'could not extend file' USING ERRCODE = '53100'; END IF; RETURN NEW; END $f$;
      CREATE TRIGGER disk_full BEFORE INSERT ON $s.sightings FOR EACH ROW EXECUTE FUNCTION $s.disk_full();`);
    const msgs = Array.from({ length: 10 }, (_, i) => sightings('s1', i + 1, i === 9 ? (b) => (b.sightings[0].cid = REFUSED_CID) : undefined));
    msgs.push({ topic: topic('s1', 'status'), payload: json({ state: 'online' }) });
    const settled = await ingestMessages(store, msgs);
    expect(settled.slice(0, 10).map((s) => !s.ok && s.error.message)).toEqual(Array(10).fill('could not extend file'));
    expect(settled[10]).toEqual({ ok: true, result: 'agent' }); // not a batch: stored on its own
    expect(await store.stats()).toMatchObject({ batches: 0, sightings: 0, deadLetters: 0, duplicates: 0 });
    await store.close();
  });
});
