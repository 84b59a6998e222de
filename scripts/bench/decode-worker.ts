/**
 * One measured run of capture → decode → pseudonymize → distinct counting over a file, in a process of
 * its own so its resident memory is its own. Prints one JSON line.
 */
import { statSync } from 'node:fs';
import { readCaptureFile } from '../../agents/capture/file-reader.js';
import { EdgePipeline } from '../../agents/pipeline/edge-pipeline.js';
import { SummaryCollector } from '../../agents/pipeline/capture-summary.js';
import { Pseudonymizer } from '../../agents/pseudonymize/pseudonymizer.js';

export interface DecodeRun {
  frames: number;
  observations: number;
  cids: number;
  bytes: number;
  wallMs: number;
  cpuMs: number;
  maxRssMb: number;
}

function run(path: string): DecodeRun {
  const secret = new Uint8Array(32).fill(7);
  const pseudo = new Pseudonymizer({ secret, tenant: 'bench', timezone: 'Europe/Berlin' });
  const summary = new SummaryCollector();
  let cids = 0;
  const pipeline = new EdgePipeline(pseudo, (o, cid) => {
    summary.add(o);
    if (cid !== null) cids++;
  });
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  readCaptureFile(path, pipeline.onRecord);
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  return {
    frames: pipeline.counters.frames,
    observations: pipeline.counters.observations,
    cids,
    bytes: statSync(path).size,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: decode-worker FILE\n');
  process.exit(2);
}
process.stdout.write(JSON.stringify(run(path)) + '\n');
