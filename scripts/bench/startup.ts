/**
 * CLI start-up (issue 11): the CPU a technician's quick commands cost, beside a bare `node -e 0` (the
 * baseline: what any Node program pays). Target: at most 2× the baseline for `--help`, `whoami`,
 * `status` and `decode` of a small capture. Median of RUNS runs, each a fresh process.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUNS = 15;

function cpuMs(root: string, args: string[], dir: string): number {
  const log = join(dir, 'cpu.json');
  const hook = join(root, 'dist/scripts/bench/cpu-at-exit.js');
  spawnSync(process.execPath, ['--import', hook, ...args], { cwd: dir, env: { ...process.env, CPU_LOG: log }, stdio: 'ignore' });
  const u = JSON.parse(readFileSync(log, 'utf8')) as { user: number; system: number };
  return (u.user + u.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export function startupBench(root: string, results: Record<string, unknown>): void {
  console.log(`\nomniloop benchmark — CLI start-up: CPU ms per command, median of ${RUNS} runs, beside a bare node start`);
  const dir = mkdtempSync(join(tmpdir(), 'omniloop-bench-startup-'));
  try {
    const cli = join(root, 'dist/app/cli/main.js');
    spawnSync(process.execPath, [cli, 'key', 'init', '--tenant', 'acme', '--out', join(dir, 'acme.key')], { stdio: 'ignore' });
    const commands: [string, string[]][] = [
      ['node -e 0 (baseline)', ['-e', '0']],
      ['omniloop --help', [cli, '--help']],
      ['omniloop whoami', [cli, 'whoami', '--mac', 'f0:18:98:01:02:03', '--key', join(dir, 'acme.key'), '--tenant', 'acme', '--timezone', 'Europe/Berlin']],
      ['omniloop status', [cli, 'status', '--port', '1']],
      ['omniloop decode (106 frames)', [cli, 'decode', join(root, 'test/fixtures/captures/probes-labelled/iPhone11-F.pcap'), '--summary', '--json']],
      ['omniloop cloud --help', [cli, 'cloud', '--help']],
    ];
    const figures: Record<string, number> = {};
    for (const [name, args] of commands) figures[name] = median(Array.from({ length: RUNS }, () => cpuMs(root, args, dir)));
    const base = figures['node -e 0 (baseline)']!;
    for (const [name] of commands) {
      const ms = figures[name]!;
      const gated = name !== 'node -e 0 (baseline)' && name !== 'omniloop cloud --help';
      const verdict = gated ? `  target <= 2.0x: ${ms <= 2 * base ? 'MET' : 'MISSED'}` : '';
      console.log(`  ${name.padEnd(30)} ${ms.toFixed(0).padStart(5)} ms  ${(ms / base).toFixed(2)}x${verdict}`);
    }
    results.startup = { baselineMs: base, commands: figures };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
