/**
 * The agent against a real Mosquitto started here on a free port: every sighting arrives once batches
 * are deduplicated by id — across a broker outage and restart, an agent killed with SIGKILL, a full
 * outbox and refused credentials — and no raw address appears in the outbox file, the logs or the
 * MQTT payloads.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCaptureFile } from '../agents/capture/file-reader.js';
import { loadAgentConfig } from '../agents/config/agent-config.js';
import { decoderFor } from '../agents/decode/frame-decoders.js';
import { macToString, newObservation } from '../agents/decode/observation.js';
import { Pseudonymizer } from '../agents/pseudonymize/pseudonymizer.js';
import { Agent } from '../agents/runtime/agent.js';
import { createLogger } from '../shared/log.js';
import { startEmbeddedBroker } from '../app/broker/embedded-broker.js';
import { generateCapture } from '../scripts/gen-capture.js';
import { CLI, runCli, runCliAsync } from './helpers/cli.js';
import { Mosquitto, Relay, collect, freePort, makeCertificates } from './helpers/mosquitto.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-agent-'));
const capture = join(dir, 'store.pcapng');
const keyFile = join(dir, 'acme.key');
let broker: Mosquitto;
let truthBatches = 0;
/** Everything that left the agent in these tests, for the raw-address check at the end. */
const seenPayloads: string[] = [];
const seenLogs: string[] = [];

function config(name: string, extra = ''): string {
  const path = join(dir, `${name}.yaml`);
  // status.port 0: no status endpoint, so agents of parallel tests never fight over a port.
  writeFileSync(path, `tenant: acme\nstore: berlin-1\nagent: ${name}\ntimezone: Europe/Berlin\nkeyFile: acme.key\nstatus:\n  port: 0\noutbox:\n  path: ${name}.db\n${extra}`);
  return path;
}

const brokerBlock = (url: string, more = '') => `broker:\n  url: ${url}\n${more}`;

interface Batch {
  batchId: string;
  seq: number;
  sightings: { cid: string; frames: number }[];
  ephemeral: unknown[];
}
const batchesOf = (msgs: { topic: string; payload: string }[]) => msgs.filter((m) => m.topic.endsWith('/sightings')).map((m) => JSON.parse(m.payload) as Batch);

beforeAll(async () => {
  writeFileSync(keyFile, Buffer.alloc(32, 9).toString('base64') + '\n', { mode: 0o600 });
  generateCapture({ out: capture, frames: 40_000, devices: 2_000, kind: 'mixed', seed: 5 });
  broker = new Mosquitto(await freePort());
  await broker.start();
  // How many batches a clean replay makes (no broker: everything stays in the outbox).
  const r = runCli(['agent', 'replay', capture, '--config', config('reference'), '--json']);
  expect(r.code, r.stderr).toBe(0);
  truthBatches = JSON.parse(r.stdout).batches;
  expect(truthBatches).toBeGreaterThan(100);
});

afterAll(async () => {
  await broker.stop();
});

describe('publishing', () => {
  it('publishes every batch exactly as the contract says, with retained status and a last will', async () => {
    const sub = await collect(broker.url);
    const r = runCli(['agent', 'replay', capture, '--config', config('ap-1', brokerBlock(broker.url)), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ batches: truthBatches, published: truthBatches, drained: true, outbox: { rows: 0, dropped: 0 } });
    await new Promise((res) => setTimeout(res, 300));
    await sub.close();
    seenPayloads.push(...sub.messages.map((m) => m.payload));
    seenLogs.push(r.stderr);
    const batches = batchesOf(sub.messages);
    expect(batches).toHaveLength(truthBatches);
    const seqs = batches.map((b) => b.seq);
    expect(seqs).toEqual(Array.from({ length: truthBatches }, (_, i) => i + 1));
    for (const m of sub.messages.filter((x) => x.topic.endsWith('/sightings'))) {
      expect(m.topic).toBe('omniloop/v1/acme/berlin-1/ap-1/sightings');
      const b = JSON.parse(m.payload);
      expect(b).toMatchObject({ schema: 'omniloop.sightings/1', tenant: 'acme', store: 'berlin-1', agent: 'ap-1' });
      expect(b.batchId).toMatch(/^ap-1:[0-9a-f]{8}:\d+$/);
      expect(b.epoch).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
    expect(batches.reduce((n, b) => n + b.sightings.length, 0)).toBe(summary.sightings);
    const status = sub.messages.filter((m) => m.topic.endsWith('/status')).map((m) => JSON.parse(m.payload).state);
    expect(status).toEqual(['online', 'offline']);
    // The retained status is what a late subscriber (HQ) sees.
    const late = await collect(broker.url, 'omniloop/v1/acme/berlin-1/ap-1/status');
    await new Promise((res) => setTimeout(res, 200));
    await late.close();
    expect(late.messages.map((m) => [JSON.parse(m.payload).state, m.retain])).toEqual([['offline', true]]);
  });

  it('survives an outage mid-stream: every batch arrives, none lost, duplicates only of the same batch', async () => {
    const relay = new Relay(await freePort(), broker.port);
    await relay.up();
    const agent = inProcessAgent('ap-2', relay.url);
    const sub = await collect(broker.url);
    agent.start();
    let cut = false;
    agent.publisher!.on('published', (seq) => {
      if (seq === 20 && !cut) {
        cut = true;
        void (async () => {
          await relay.down(); // the link dies while batches are in flight
          await new Promise((res) => setTimeout(res, 1500));
          await relay.up();
        })();
      }
    });
    await agent.replay(capture, 'max');
    expect(await agent.publisher!.drain(30_000)).toBe(true);
    expect(cut).toBe(true);
    expect(agent.outbox.stats().rows).toBe(0);
    await agent.stop();
    await relay.down();
    await new Promise((res) => setTimeout(res, 300));
    await sub.close();
    expectAllBatchesOnce(sub.messages, truthBatches);
  });

  it('buffers while the broker is down and delivers everything once it is back', async () => {
    const own = new Mosquitto(await freePort());
    const agent = inProcessAgent('ap-3', own.url);
    agent.start();
    await agent.replay(capture, 'max'); // no broker yet: all of it goes to the outbox
    expect(agent.outbox.stats().rows).toBe(truthBatches);
    await own.start();
    const sub = await collect(own.url);
    expect(await agent.publisher!.drain(30_000)).toBe(true);
    await agent.stop();
    await new Promise((res) => setTimeout(res, 300));
    await sub.close();
    await own.stop();
    expectAllBatchesOnce(sub.messages, truthBatches);
  });
});

describe('failures', () => {
  const tiny = join(dir, 'tiny.pcap');

  beforeAll(() => {
    generateCapture({ out: tiny, frames: 20, devices: 5, kind: 'wifi', seed: 9, hours: 0.001 });
  });

  it('speaks MQTT 3.1.1 too', async () => {
    const sub = await collect(broker.url, 'omniloop/v1/acme/berlin-1/ap-311/sightings');
    const r = runCli(['agent', 'replay', tiny, '--config', config('ap-311', brokerBlock(broker.url, '  protocolVersion: 4\n')), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ batches: 1, published: 1 });
    await new Promise((res) => setTimeout(res, 200));
    await sub.close();
    expect(batchesOf(sub.messages)).toHaveLength(1);
  });

  it('publishes to the embedded aedes broker as well', async () => {
    const embedded = await startEmbeddedBroker();
    const sub = await collect(embedded.url, 'omniloop/v1/#');
    const r = await runCliAsync(['agent', 'replay', capture, '--config', config('ap-aedes', brokerBlock(embedded.url, '  protocolVersion: 4\n')), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ batches: truthBatches, published: truthBatches, drained: true });
    await new Promise((res) => setTimeout(res, 300));
    await sub.close();
    await embedded.close();
    expectAllBatchesOnce(sub.messages, truthBatches);
  });

  it('connects over TLS with a client certificate, and not without one', async () => {
    const certs = makeCertificates(mkdtempSync(join(tmpdir(), 'omniloop-tls-')));
    const own = new Mosquitto(await freePort(), undefined, { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, requireCertificate: true });
    await own.start();
    const tlsBlock = `  caFile: ${certs.ca}\n  certFile: ${certs.clientCert}\n  keyFile: ${certs.clientKey}\n`;
    const ok = runCli(['agent', 'replay', tiny, '--config', config('ap-tls', brokerBlock(own.url, tlsBlock)), '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ batches: 1, published: 1, drained: true });
    const noCert = runCli(['agent', 'replay', tiny, '--config', config('ap-tls2', brokerBlock(own.url, `  caFile: ${certs.ca}\n`)), '--drain-seconds', '2']);
    expect(noCert.code).toBe(1);
    expect(JSON.parse(runCli(['buffer', 'stats', '--config', join(dir, 'ap-tls2.yaml'), '--json']).stdout).rows).toBe(1);
    const missing = runCli(['agent', 'replay', tiny, '--config', config('ap-tls3', brokerBlock(own.url, `  caFile: ${join(dir, 'missing.pem')}\n`))]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read broker\.caFile .*missing\.pem \(ENOENT\)/);
    await own.stop();
  });

  it('tells store IT what is wrong before anything starts', () => {
    const cfg = config('ap-8', brokerBlock('http://nope'));
    const r = runCli(['agent', 'replay', tiny, '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/broker\.url: must be a URL such as mqtts:/);
    const noCapture = runCli(['agent', 'run', '--config', config('ap-9')]);
    expect(noCapture.code).toBe(2);
    expect(noCapture.stderr).toMatch(/names no capture interface/);
    const lo = config('ap-10', 'capture:\n  wifi:\n    interface: lo\n');
    const notMonitor = runCli(['agent', 'run', '--config', lo]);
    expect(notMonitor.code).toBe(1);
    expect(notMonitor.stderr).toMatch(/lo is not in monitor mode/);
    expect(runCli(['agent', 'replay', tiny, '--config', cfg.replace('ap-8', 'nope')]).stderr).toMatch(/does not exist/);
    expect(runCli(['agent', 'replay', tiny, '--config', config('ap-11'), '--speed', 'warp']).code).toBe(2);
  });

  it('loses nothing when the agent is killed with SIGKILL while publishing', async () => {
    const own = new Mosquitto(await freePort());
    const cfg = config('ap-4', brokerBlock(own.url));
    // Broker down: the whole capture goes to the outbox, and the replay says so (exit 1).
    const fill = runCli(['agent', 'replay', capture, '--config', cfg, '--drain-seconds', '0']);
    expect(fill.code).toBe(1);
    expect(fill.stderr).toMatch(/did not acknowledge everything.*stays in the outbox/);
    seenLogs.push(fill.stderr);
    await own.start();
    const sub = await collect(own.url);
    // Publish the backlog and kill the agent half way.
    const child = spawn(process.execPath, [CLI, 'agent', 'replay', tiny, '--config', cfg, '--drain-seconds', '60'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d) => (log += d));
    for (let i = 0; i < 400 && batchesOf(sub.messages).length < truthBatches / 3; i++) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    seenLogs.push(log);
    const got = batchesOf(sub.messages).length;
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThan(truthBatches);
    // Restarted: the rest goes out under the same batch ids.
    const again = runCli(['agent', 'replay', tiny, '--config', cfg, '--json']);
    expect(again.code, again.stderr).toBe(0);
    seenLogs.push(again.stderr);
    await new Promise((r) => setTimeout(r, 300));
    await sub.close();
    await own.stop();
    seenPayloads.push(...sub.messages.map((m) => m.payload));
    expectAllBatchesOnce(sub.messages, truthBatches + 2); // the backlog and one window per tiny replay
  });

  it('drops the oldest batches when the outbox is full, counts them, and keeps going', () => {
    const cfg = join(dir, 'ap-5.yaml');
    writeFileSync(cfg, `tenant: acme\nstore: berlin-1\nagent: ap-5\ntimezone: Europe/Berlin\nkeyFile: acme.key\nstatus:\n  port: 0\noutbox:\n  path: ap-5.db\n  maxRows: 10\n`);
    const r = runCli(['agent', 'replay', capture, '--config', cfg, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ batches: truthBatches, outbox: { rows: 10, dropped: truthBatches - 10 } });
    const stats = JSON.parse(runCli(['buffer', 'stats', '--config', cfg, '--json']).stdout);
    expect(stats).toMatchObject({ rows: 10, dropped: truthBatches - 10, nextSeq: truthBatches + 1 });
    const peek = runCli(['buffer', 'peek', '--config', cfg, '-n', '2']).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(peek.map((p) => p.seq)).toEqual([truthBatches - 9, truthBatches - 8]);
    expect(runCli(['buffer', 'purge', '--config', cfg]).code).toBe(2);
    expect(runCli(['buffer', 'purge', '--config', cfg, '--yes']).stdout).toMatch(/purged 10 rows/);
  });

  it('reports refused credentials clearly and keeps the data', async () => {
    const own = new Mosquitto(await freePort(), { agent: 'right-password' });
    await own.start();
    const cfg = config('ap-6', brokerBlock(own.url, '  username: agent\n  password: wrong-password\n'));
    const r = runCli(['agent', 'replay', capture, '--config', cfg, '--drain-seconds', '3']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refused the credentials/);
    expect(r.stderr).not.toMatch(/wrong-password/);
    seenLogs.push(r.stderr);
    expect(JSON.parse(runCli(['buffer', 'stats', '--config', cfg, '--json']).stdout).rows).toBe(truthBatches);
    // Fixed credentials: everything kept goes out.
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('wrong-password', 'right-password'));
    const ok = runCli(['agent', 'replay', join(dir, 'tiny.pcap'), '--config', cfg, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).outbox.rows).toBe(0);
    await own.stop();
  });

  it('serves /healthz, /status and /metrics, and on SIGTERM flushes, publishes and exits cleanly', async () => {
    const own = new Mosquitto(await freePort());
    await own.start();
    const port = await freePort();
    const cfg = config('ap-7', brokerBlock(own.url));
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('status:\n  port: 0', `status:\n  port: ${port}`));
    const sub = await collect(own.url);
    const child = spawn(process.execPath, [CLI, 'agent', 'replay', capture, '--config', cfg, '--speed', 'realtime', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let log = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (log += d));
    let healthy = false;
    for (let i = 0; i < 100 && !healthy; i++) {
      healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (!healthy) await new Promise((r) => setTimeout(r, 50));
    }
    expect(healthy).toBe(true);
    await new Promise((r) => setTimeout(r, 1500)); // some frames at the recorded pace
    const status = JSON.parse(runCli(['status', '--port', String(port), '--json']).stdout);
    expect(status).toMatchObject({ tenant: 'acme', store: 'berlin-1', agent: 'ap-7', broker: { connected: true } });
    expect(status.frames).toBeGreaterThan(0);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^omniloop_frames_total \d+/m);
    expect(metrics).toMatch(/^omniloop_outbox_rows \d+/m);
    expect(metrics).toMatch(/omniloop_publish_latency_seconds_bucket/);
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.once('exit', r));
    expect(code, log).toBe(0);
    seenLogs.push(log);
    const summary = JSON.parse(out);
    expect(summary).toMatchObject({ interrupted: true, drained: true, outbox: { rows: 0 } });
    expect(summary.frames).toBeLessThan(40_000);
    expect(summary.published).toBe(summary.batches);
    await new Promise((r) => setTimeout(r, 300));
    await sub.close();
    await own.stop();
    expectAllBatchesOnce(sub.messages, summary.batches);
    expect(runCli(['status', '--port', String(port)]).code).toBe(1); // gone
  });

  it('has put no raw address in any outbox file, log line or MQTT payload', () => {
    const macs = new Set<string>();
    const o = newObservation();
    readCaptureFile(capture, (lt, buf, off, len, orig, ts) => {
      decoderFor(lt)?.(buf, off, len, orig, ts, o, (x) => macs.add(macToString(x.mac)));
    });
    expect(macs.size).toBeGreaterThan(1000);
    const forms = [...macs].flatMap((m) => [m, m.replace(/:/g, ''), m.replace(/:/g, '-')]);
    const text = (seenPayloads.join('\n') + seenLogs.join('\n')).toLowerCase();
    expect(seenPayloads.length).toBeGreaterThan(truthBatches);
    expect(forms.filter((f) => text.includes(f))).toEqual([]);
    const files = ['reference', 'ap-1', 'ap-2', 'ap-3', 'ap-4', 'ap-5', 'ap-6', 'ap-7'].flatMap((n) => [`${n}.db`, `${n}.db-wal`]).map((f) => join(dir, f));
    const bytes = files.flatMap((f) => {
      try {
        return [readFileSync(f)];
      } catch {
        return [];
      }
    });
    expect(bytes.length).toBeGreaterThan(3);
    const hits: string[] = [];
    for (const m of macs) {
      const raw = Buffer.from(m.replace(/:/g, ''), 'hex');
      const reversed = Buffer.from(raw).reverse(); // as BLE sends it
      for (const b of bytes) if (b.includes(raw) || b.includes(reversed) || b.includes(m) || b.includes(m.replace(/:/g, ''))) hits.push(m);
    }
    expect(hits).toEqual([]);
  });
});

function inProcessAgent(name: string, url: string): Agent {
  const cfg = loadAgentConfig(config(name, brokerBlock(url)));
  const secret = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64');
  return new Agent(cfg, new Pseudonymizer({ secret, tenant: 'acme', timezone: 'Europe/Berlin' }), createLogger('test', 'silent'));
}

/** Deduplicated by batch id, the batches are exactly 1..n; a redelivered id carries the same batch. */
function expectAllBatchesOnce(messages: { topic: string; payload: string }[], n: number): void {
  const byId = new Map<string, string>();
  for (const m of messages.filter((x) => x.topic.endsWith('/sightings'))) {
    const b = JSON.parse(m.payload) as Batch;
    if (byId.has(b.batchId)) expect(m.payload).toBe(byId.get(b.batchId));
    byId.set(b.batchId, m.payload);
  }
  const seqs = [...byId.values()].map((p) => (JSON.parse(p) as Batch).seq).sort((a, b) => a - b);
  expect(seqs).toEqual(Array.from({ length: n }, (_, i) => i + 1));
}
