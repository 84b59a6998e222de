/**
 * Issue finding 5: a full disk crashed the agent (`database or disk is full`, exit 70), a failed delete
 * threw out of the PUBACK callback, and a corrupt outbox gave "internal error" — a crash loop under
 * systemd. Now a full disk drops the oldest rows (counted) and the agent keeps going, deletes never
 * throw, and a corrupt outbox is moved aside with one clear log line and a counter. The full disk is
 * SQLite's max_page_count: deterministic, no root needed.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { agentConfigSchema } from '../agents/config/agent-config.js';
import { AddressClass, newObservation, Source } from '../agents/decode/observation.js';
import { DEFAULT_LIMITS, Outbox } from '../agents/outbox/outbox.js';
import { Publisher } from '../agents/publish/publisher.js';
import { Pseudonymizer } from '../agents/pseudonymize/pseudonymizer.js';
import { Agent } from '../agents/runtime/agent.js';
import { startEmbeddedBroker } from '../app/broker/embedded-broker.js';
import { CAPTURES, runCli } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-resilience-'));

/** A pino logger whose lines the test can read. */
function captured(): { log: pino.Logger; lines: { level: number; msg: string; [k: string]: unknown }[] } {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

const body = (i: number, size = 2000) => JSON.stringify({ i, pad: 'x'.repeat(size) });
const asideFiles = (path: string) => readdirSync(dir).filter((f) => f.startsWith(`${path.split('/').pop()}.corrupt-`));

describe('a full disk', () => {
  it('drops the oldest rows, counted, and keeps every new batch; nothing unaccounted', () => {
    // Default limits (256 MB, 100k rows): only the full "disk" can drop anything here.
    const ob = new Outbox(join(dir, 'full.db'), DEFAULT_LIMITS, { maxPageCount: 64 });
    let appended = 0;
    for (let i = 1; i <= 300; i++) {
      const seqs = ob.append('sightings', '2026-11-23', [body(i), body(-i)]);
      expect(seqs).toHaveLength(2); // the new window always gets in
      appended += 2;
    }
    const s = ob.stats();
    expect(s.dropped).toBeGreaterThan(100);
    expect(s.rows).toBeGreaterThan(20);
    expect(s.rows + s.dropped).toBe(appended);
    const rows = ob.peek(1000);
    expect(JSON.parse(rows.at(-1)!.body).i).toBe(-300); // the newest survives, the oldest went
    expect(rows.map((r) => r.seq)).toEqual([...rows.map((r) => r.seq)].sort((a, b) => a - b));
    ob.close();
    // The same file and cap without the fix's handling: SQLite really says the disk is full.
    const db = new Database(join(dir, 'full.db'));
    db.pragma('max_page_count = 64');
    expect(() => {
      for (let i = 0; i < 100; i++) db.prepare("INSERT INTO outbox (kind, epoch, created_ms, bytes, body) VALUES ('sightings', 'd', 0, 1, ?)").run(body(i));
    }).toThrow(/database or disk is full/);
    db.close();
  });

  it('a batch that cannot fit even in an empty outbox is dropped, counted, logged — never thrown', () => {
    const { log, lines } = captured();
    const ob = new Outbox(join(dir, 'tiny.db'), DEFAULT_LIMITS, { maxPageCount: 16, log });
    ob.append('sightings', 'd', [body(1), body(2)]);
    expect(ob.append('sightings', 'd', [body(3, 200_000)])).toEqual([]);
    expect(ob.stats()).toMatchObject({ dropped: 3 }); // the two old ones made room in vain, then the new one
    expect(lines.some((l) => l.level === 50 && /new batches dropped/.test(l.msg))).toBe(true);
    expect(ob.append('sightings', 'd', [body(4)])).toHaveLength(1); // and it goes on
    expect(ob.stats()).toMatchObject({ rows: 1, dropped: 3 });
    ob.close();
  });

  it('the agent keeps capturing into a full outbox and reports the dropped batches', () => {
    const cfg = agentConfigSchema.parse({ tenant: 'acme', store: 'berlin-1', agent: 'edge-1', timezone: 'UTC', keyFile: 'unused', status: { port: 0 }, outbox: { path: join(dir, 'agent-full.db') } });
    const pseudo = new Pseudonymizer({ secret: Buffer.alloc(32, 7), tenant: 'acme', timezone: 'UTC' });
    const { log, lines } = captured();
    const agent = new Agent(cfg, pseudo, log, { outboxMaxPageCount: 48 });
    const t0 = Date.parse('2026-11-23T08:00:00Z');
    const beacons = { ibeacon: () => 'unused', eddystone: () => 'unused' }; // no beacon frames here
    for (let m = 0; m < 90; m++) {
      for (let i = 0; i < 150; i++) {
        const o = newObservation();
        o.source = Source.Wifi;
        o.tsMs = t0 + m * 60_000 + 1000 + i;
        o.mac = i + 1;
        o.addressClass = AddressClass.WifiGlobal;
        o.rssi = -60;
        o.channel = 6;
        const d = pseudo.dayInterval(o.tsMs);
        agent.aggregator.add(o, String(i).padStart(32, '0'), d.day, d.startMs, d.endMs, beacons);
      }
      agent.flushWindows(t0 + (m + 1) * 60_000 + 10_000); // as the 1 s tick does
    }
    agent.flushWindows(-Infinity, true);
    const out = agent.describe().outbox as { rows: number; dropped: number };
    expect(agent.counters.windows).toBe(90);
    expect(out.dropped).toBeGreaterThan(10);
    expect(out.rows + out.dropped).toBe(agent.counters.batches);
    const last = JSON.parse(agent.outbox.peek(1000).at(-1)!.body);
    expect(last.window.start).toBe(t0 + 89 * 60_000); // the newest window is kept
    expect(lines.some((l) => l.level === 40 && /full: dropping the oldest batches/.test(l.msg))).toBe(true);
    agent.outbox.close();
  });
});

describe('a corrupt outbox', () => {
  it('garbage instead of a database: moved aside at open, one clear line, counted, a fresh outbox', () => {
    const path = join(dir, 'garbage.db');
    writeFileSync(path, Buffer.alloc(8192, 0x41));
    // Technicians' tools (buffer stats) never rename the agent's file: a clear error instead.
    expect(() => new Outbox(path)).toThrow(/is corrupt \(file is not a database\): the agent moves it aside/);
    expect(asideFiles(path)).toEqual([]);
    const { log, lines } = captured();
    const ob = new Outbox(path, DEFAULT_LIMITS, { moveAsideCorrupt: true, log });
    const [aside] = asideFiles(path);
    expect(aside).toMatch(/^garbage\.db\.corrupt-\d{4}-\d\d-\d\dT/);
    expect(readFileSync(join(dir, aside!))).toEqual(Buffer.alloc(8192, 0x41)); // kept for salvage
    const said = lines.filter((l) => l.level >= 40);
    expect(said).toHaveLength(1);
    expect(said[0]!.msg).toContain(`moved aside to ${join(dir, aside!)}`);
    expect(ob.stats()).toMatchObject({ rows: 0, corruptMovedAside: 1 });
    expect(ob.append('sightings', 'd', ['{"a":1}'])).toEqual([1]);
    ob.close();
    const again = new Outbox(path, DEFAULT_LIMITS, { moveAsideCorrupt: true });
    expect(again.stats()).toMatchObject({ rows: 1, corruptMovedAside: 1 }); // the counter survives a restart
    again.close();
  });

  it('a bad page in the middle of a real outbox, found while running: moved aside, the agent goes on', () => {
    const path = join(dir, 'page.db');
    const ob = new Outbox(path);
    for (let i = 1; i <= 300; i++) ob.append('sightings', 'd', [body(i, 1500)]);
    const oldInstance = ob.instance;
    ob.close();
    const pages = statSync(path).size / 4096;
    const fd = openSync(path, 'r+');
    for (let p = Math.floor(pages / 2); p < Math.floor(pages / 2) + 4; p++) writeSync(fd, Buffer.alloc(4096, 0xff), 0, 4096, p * 4096);
    closeSync(fd);
    const { log, lines } = captured();
    const running = new Outbox(path, DEFAULT_LIMITS, { moveAsideCorrupt: true, log }); // header and schema are fine
    expect(running.stats().corruptMovedAside).toBe(0);
    expect(() => running.peek(1000)).not.toThrow(); // reading through the bad page
    expect(running.stats()).toMatchObject({ rows: 0, corruptMovedAside: 1 });
    expect(asideFiles(path)).toHaveLength(1);
    expect(lines.filter((l) => l.level === 50 && /the outbox was corrupt: moved aside/.test(l.msg))).toHaveLength(1);
    // A new instance (no batch id repeats) and sequence numbers after the old ones (the publisher's cursor).
    expect(running.instance).not.toBe(oldInstance);
    expect(running.append('sightings', 'd', ['{"a":1}'])[0]).toBeGreaterThan(300);
    running.close();
  });

  it('the agent starts on a corrupt outbox instead of exiting (CLI: agent replay)', () => {
    const cfg = join(dir, 'cli.yaml');
    writeFileSync(join(dir, 'cli.key'), Buffer.alloc(32, 9).toString('base64') + '\n', { mode: 0o600 });
    writeFileSync(cfg, 'tenant: acme\nstore: berlin-1\nagent: cli\ntimezone: Europe/Berlin\nkeyFile: cli.key\nstatus:\n  port: 0\noutbox:\n  path: cli.db\n');
    writeFileSync(join(dir, 'cli.db'), 'this is not an SQLite file, it is garbage'.repeat(200));
    const r = runCli(['agent', 'replay', join(CAPTURES, 'wifi', readdirSync(join(CAPTURES, 'wifi')).find((f) => f.endsWith('.pcap'))!), '--config', cfg, '--json']);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/the outbox was corrupt: moved aside to .*cli\.db\.corrupt-/);
    expect(asideFiles(join(dir, 'cli.db'))).toHaveLength(1);
    const stats = runCli(['buffer', 'stats', '--config', cfg, '--json']);
    expect(stats.code, stats.stderr).toBe(0);
  });
});

describe('the acknowledgement path', () => {
  it('a delete that fails does not throw: counted, logged, the row stays to be sent again', () => {
    const { log, lines } = captured();
    const ob = new Outbox(join(dir, 'closed.db'), DEFAULT_LIMITS, { moveAsideCorrupt: true, log });
    ob.append('sightings', 'd', ['{"a":1}']);
    ob.close(); // the database is gone from under the ack
    expect(() => ob.delete(1)).not.toThrow();
    expect(ob.stats()).toMatchObject({ deleteFailures: 1 });
    expect(lines.some((l) => /cannot delete an acknowledged batch/.test(l.msg))).toBe(true);
    expect(new Outbox(join(dir, 'closed.db')).peek(10).map((r) => r.seq)).toEqual([1]);
  });

  it("the publisher's PUBACK callback survives a throwing delete and keeps publishing", async () => {
    const broker = await startEmbeddedBroker();
    const { log, lines } = captured();
    const ob = new Outbox(join(dir, 'ack.db'), DEFAULT_LIMITS, { moveAsideCorrupt: true, log });
    ob.append('sightings', '2026-11-23', ['{"a":1}', '{"a":2}', '{"a":3}']);
    ob.delete = () => {
      throw new Error('SQLITE_IOERR: disk I/O error');
    };
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    const pub = new Publisher(ob, { broker: { url: broker.url, protocolVersion: 4 }, identity: { tenant: 'acme', store: 'berlin-1', agent: 'edge-1' } }, log);
    try {
      pub.start();
      const deadline = Date.now() + 10_000;
      while (pub.published < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(pub.published).toBe(3);
      expect(pub.inFlightCount).toBe(0);
      expect(uncaught).toEqual([]);
      expect(lines.filter((l) => /cannot delete an acknowledged batch/.test(l.msg))).toHaveLength(3);
    } finally {
      process.off('uncaughtException', onUncaught);
      await pub.stop(1000);
      await broker.close();
      ob.close();
    }
    expect(existsSync(join(dir, 'ack.db'))).toBe(true);
  });
});
