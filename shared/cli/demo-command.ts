/**
 * `omniloop demo`: the product on one machine with no hardware. Today it runs the edge side: several
 * stores' agents replay generated traffic of the same customer population through capture, decode
 * and pseudonymization with one tenant key, and the table shows what each store would publish — and
 * that the same phone gets the same Consumer-ID in every store on the same day, without any store
 * knowing its address.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { readCaptureFile } from '../../agents/capture/file-reader.js';
import { EdgePipeline } from '../../agents/pipeline/edge-pipeline.js';
import { SummaryCollector } from '../../agents/pipeline/capture-summary.js';
import { Pseudonymizer } from '../../agents/pseudonymize/pseudonymizer.js';
import { generateCapture } from '../../scripts/gen-capture.js';
import { InputError } from '../errors.js';
import { generateSecret, readSecretFile, writeSecretFile } from '../identity/secret.js';
import { formatTable, printJson, printLine } from './output.js';

interface DemoFlags {
  stores: string;
  frames: string;
  data: string;
  json?: boolean;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the edge pipeline for several stores on generated traffic, on this machine alone')
    .option('--stores <n>', 'number of stores (1-10)', '3')
    .option('--frames <n>', 'frames of traffic per store', '200000')
    .option('--data <dir>', 'folder for the demo key and captures', '.omniloop-demo')
    .option('--json', 'machine-readable output')
    .action((flags: DemoFlags) => runDemo(flags));
}

function runDemo(flags: DemoFlags): void {
  const stores = Number(flags.stores);
  const frames = Number(flags.frames);
  if (!Number.isInteger(stores) || stores < 1 || stores > 10) throw new InputError(`--stores must be 1 to 10, not ${JSON.stringify(flags.stores)}`);
  if (!Number.isInteger(frames) || frames < 1000 || frames > 5_000_000) throw new InputError(`--frames must be 1000 to 5000000, not ${JSON.stringify(flags.frames)}`);
  const dir = resolve(flags.data);
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, 'demo-tenant.key');
  try {
    writeSecretFile(keyFile, generateSecret());
  } catch {
    /* kept from an earlier run: the same tenant key, so Consumer-IDs stay comparable */
  }
  const { secret } = readSecretFile(keyFile);
  const day = Date.parse('2026-11-23T08:00:00Z');

  const perStore: { store: string; s: ReturnType<SummaryCollector['result']>; cids: Set<string>; ms: number }[] = [];
  for (let i = 0; i < stores; i++) {
    const store = `store-${i + 1}`;
    const file = join(dir, `${store}.pcapng`);
    if (!flags.json) process.stderr.write(`demo: ${store}: generating ${frames.toLocaleString('en-US')} frames of WiFi and BLE traffic ...\n`);
    generateCapture({ out: file, frames, devices: Math.max(500, Math.round(frames / 20)), kind: 'mixed', seed: 100 + i, populationSeed: 7, startMs: day });
    const pseudo = new Pseudonymizer({ secret, tenant: 'demo', timezone: 'Europe/Berlin' });
    const summary = new SummaryCollector();
    const cids = new Set<string>();
    const pipeline = new EdgePipeline(pseudo, (o, cid) => {
      summary.add(o);
      if (cid) cids.add(cid);
    });
    const t0 = performance.now();
    const read = readCaptureFile(file, pipeline.onRecord);
    perStore.push({ store, s: summary.result(pipeline.counters, read.linktypes), cids, ms: performance.now() - t0 });
  }

  // Cross-store: Consumer-IDs that more than one store saw today. Only possible because every agent
  // of the tenant derives the same day key; no address ever left a store.
  const seenIn = new Map<string, number>();
  for (const p of perStore) for (const c of p.cids) seenIn.set(c, (seenIn.get(c) ?? 0) + 1);
  const crossStore = [...seenIn.values()].filter((n) => n > 1).length;

  if (flags.json) {
    printJson({ stores: perStore.map((p) => ({ store: p.store, ...p.s, consumerIds: p.cids.size, decodeMs: Math.round(p.ms) })), crossStoreConsumerIds: crossStore, keyFile });
    return;
  }
  const rows = perStore.map((p) => {
    const w = p.s.wifi.devices;
    const b = p.s.ble.devices;
    return [p.store, p.s.frames, p.s.wifi.probeRequests, w.global + w.randomized, p.s.ble.advertisements, b.public + b.static + b.rpa + b.nrpa, p.s.ble.ibeacons + p.s.ble.eddystones, p.cids.size, p.s.malformed, Math.round(p.s.frames / (p.ms / 1000))];
  });
  printLine('');
  printLine(formatTable(['store', 'frames', 'probes', 'wifi devices', 'BLE adverts', 'BLE devices', 'beacons', 'Consumer-IDs', 'malformed', 'frames/s'], rows));
  printLine('');
  printLine(`${crossStore.toLocaleString('en-US')} Consumer-IDs were seen in more than one store today: the same phone, the same pseudonym, and no store ever knew its address.`);
  printLine(`Randomized WiFi and private BLE addresses are counted but get no Consumer-ID. Tenant key: ${keyFile}`);
  printLine('Try: omniloop decode ' + join(flags.data, 'store-1.pcapng') + ` --key ${keyFile} --tenant demo --timezone Europe/Berlin | head`);
  writeFileSync(join(dir, 'README.txt'), 'Files made by `omniloop demo`: a demo tenant key and generated captures. Safe to delete.\n');
}
