/**
 * One measured replay through the whole agent: decode → pseudonymize → sighting windows → outbox →
 * MQTT (QoS 1) to the broker at argv[3], until the broker has acknowledged everything. Then a separate
 * measure of outbox inserts alone. Prints one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentConfigSchema } from '../../agents/config/agent-config.js';
import { Outbox } from '../../agents/outbox/outbox.js';
import { Pseudonymizer } from '../../agents/pseudonymize/pseudonymizer.js';
import { Agent } from '../../agents/runtime/agent.js';
import { createLogger } from '../../shared/log.js';

export interface AgentRun {
  frames: number;
  sightings: number;
  batches: number;
  published: number;
  wallMs: number;
  cpuMs: number;
  maxRssMb: number;
  outboxInsertsPerSec: number;
}

async function run(capture: string, brokerUrl: string): Promise<AgentRun> {
  const dir = mkdtempSync(join(tmpdir(), 'omniloop-bench-agent-'));
  const cfg = agentConfigSchema.parse({
    tenant: 'bench',
    store: 's1',
    agent: 'a1',
    timezone: 'Europe/Berlin',
    keyFile: 'unused',
    broker: { url: brokerUrl },
    outbox: { path: join(dir, 'outbox.db') },
    status: { port: 0 },
  });
  const agent = new Agent(cfg, new Pseudonymizer({ secret: new Uint8Array(32).fill(3), tenant: 'bench', timezone: 'Europe/Berlin' }), createLogger('bench', 'silent'));
  agent.start();
  await new Promise<void>((resolve) => agent.publisher!.once('connected', () => resolve()));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await agent.replay(capture, 'max');
  const drained = await agent.publisher!.drain(120_000);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (!drained) throw new Error('the broker did not acknowledge everything');
  const result = {
    frames: agent.pipeline.counters.frames,
    sightings: agent.counters.sightings,
    batches: agent.counters.batches,
    published: agent.publisher!.published,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    outboxInsertsPerSec: 0,
  };
  await agent.stop();

  // Outbox inserts alone: one transaction per batch of a typical size.
  const ob = new Outbox(join(dir, 'inserts.db'));
  const body = JSON.stringify({ window: { start: 0, end: 60000 }, sightings: Array.from({ length: 50 }, (_, i) => ({ cid: 'f'.repeat(32), source: 'wifi', frames: i, rssiMax: -50 })) });
  const n = 5000;
  const t1 = performance.now();
  for (let i = 0; i < n; i++) ob.append('sightings', '2026-11-23', [body]);
  result.outboxInsertsPerSec = n / ((performance.now() - t1) / 1000);
  ob.close();
  rmSync(dir, { recursive: true, force: true });
  return result;
}

const [capture, url] = process.argv.slice(2);
if (!capture || !url) {
  process.stderr.write('usage: agent-worker CAPTURE BROKER_URL\n');
  process.exit(2);
}
run(capture, url).then(
  (r) => process.stdout.write(JSON.stringify(r) + '\n'),
  (err: Error) => {
    process.stderr.write(`agent-worker: ${err.message}\n`);
    process.exit(1);
  },
);
