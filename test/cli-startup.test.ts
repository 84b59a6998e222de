/**
 * The CLI starts at once: `--help` loads only the root and the command list, and each command loads
 * its own code only when it runs — no MQTT client, database driver, embedded broker or schema library
 * for a technician's `whoami`, `status` or `decode`. Counted, not timed (the benchmark times it).
 * Also: the installed config as the default for on-site commands, and the version from package.json.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPTURES, CLI, ROOT, runCli } from './helpers/cli.js';

const HOOK = join(ROOT, 'test/helpers/module-log.mjs');
/** What no quick command may load: the heavy parts of other commands. */
const HEAVY = ['mqtt', 'pg', 'aedes', 'better-sqlite3', 'zod', 'prom-client', 'echarts'];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'omniloop-startup-'));
  expect(runCli(['key', 'init', '--tenant', 'acme', '--out', join(dir, 'acme.key')]).code).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The modules a command loads, as paths below the repository (node: builtins left out). */
function modulesLoaded(args: string[]): { code: number; project: string[]; packages: string[] } {
  const log = join(dir, `modules-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(log, '');
  const r = spawnSync(process.execPath, ['--import', HOOK, CLI, ...args], { cwd: ROOT, env: { ...process.env, MODULE_LOG: log }, encoding: 'utf8' });
  const urls = readFileSync(log, 'utf8').split('\n').filter((u) => u.startsWith('file://'));
  const project = urls.filter((u) => !u.includes('/node_modules/'));
  const packages = [...new Set(urls.filter((u) => u.includes('/node_modules/')).map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)![1]!))];
  return { code: r.status ?? -1, project, packages };
}

describe('what a command loads', () => {
  it('--help loads the root, the command list and commander only', () => {
    const m = modulesLoaded(['--help']);
    expect(m.code).toBe(0);
    expect(m.packages).toEqual(['commander']);
    // main, the command lists of app, agents and cloud, the error types: nothing of any command.
    expect(m.project.length).toBeLessThanOrEqual(6);
  });

  it.each([
    ['whoami', ['whoami', '--mac', 'f0:18:98:01:02:03', '--key', 'KEY', '--tenant', 'acme', '--timezone', 'Europe/Berlin']],
    ['decode', ['decode', join(CAPTURES, 'probes-labelled/iPhone11-F.pcap'), '--summary', '--json']],
    ['status', ['status', '--port', '1']],
    ['key --help', ['key', '--help']],
    ['demo --help', ['demo', '--help']],
  ])('%s loads none of the heavy parts', (_name, args) => {
    const m = modulesLoaded(args.map((a) => (a === 'KEY' ? join(dir, 'acme.key') : a)));
    for (const p of HEAVY) expect(m.packages, p).not.toContain(p);
    expect(m.project.filter((p) => p.includes('/cloud/') && !p.endsWith('/cloud/cli/commands.js'))).toEqual([]);
  });

  it('a cloud command on SQLite loads neither the MQTT client nor the PostgreSQL driver', () => {
    writeFileSync(join(dir, 'cloud.yaml'), `broker: { url: "mqtt://127.0.0.1:1" }\ndatabase: { sqlite: cloud.db }\n`);
    const m = modulesLoaded(['cloud', 'stats', '--config', join(dir, 'cloud.yaml'), '--json']);
    expect(m.code).toBe(0);
    expect(m.packages).toContain('better-sqlite3');
    for (const p of ['mqtt', 'pg', 'aedes']) expect(m.packages, p).not.toContain(p);
  });

  it('every command is listed in --help and configured when named', () => {
    const help = runCli(['--help']).stdout;
    for (const name of ['demo', 'key', 'optout', 'broker', 'decode', 'whoami', 'capture', 'interfaces', 'agent', 'buffer', 'status', 'doctor', 'cloud']) {
      expect(help).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
      const sub = runCli([name, '--help']);
      expect(sub.code, name).toBe(0);
      expect(sub.stdout, name).toMatch(/Usage: omniloop/);
    }
    expect(runCli(['help', 'decode']).stdout).toMatch(/--summary/);
    const typo = runCli(['decod']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown command 'decod'.*\n.*Did you mean decode\?/);
  });
});

describe('small things a technician meets', () => {
  it('--version is the version of package.json', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('buffer, status and doctor without --config use the installed config and say so', () => {
    const cfg = join(dir, 'agent.yaml');
    writeFileSync(cfg, `tenant: acme\nstore: s1\nagent: ap-1\nkeyFile: acme.key\noutbox: { path: outbox.db }\nstatus: { port: 1 }\n`);
    const env = { OMNILOOP_CONFIG: cfg };
    const stats = runCli(['buffer', 'stats', '--json'], { env });
    expect(stats.code).toBe(0);
    expect(stats.stderr).toContain(`using ${cfg}`);
    expect(JSON.parse(stats.stdout)).toMatchObject({ rows: 0 });
    const status = runCli(['status'], { env });
    expect(status.code).toBe(1); // nobody listens on port 1: the port came from the config
    expect(status.stderr).toContain(`using ${cfg}`);
    expect(status.stderr).toMatch(/no agent answers on 127\.0\.0\.1:1 /);
    const doctor = runCli(['doctor', '--json', '--timeout-ms', '200'], { env });
    expect(doctor.stderr).toContain(`using ${cfg}`);
    expect(JSON.parse(doctor.stdout)).toMatchObject({ checks: expect.arrayContaining([expect.objectContaining({ id: 'config', status: 'ok' })]) });
  });

  it('without --config and with nothing installed they say what to do', () => {
    for (const args of [['buffer', 'stats'], ['doctor']]) {
      const r = runCli(args, { env: { OMNILOOP_CONFIG: '' } });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/no agent config: pass --config FILE/);
    }
  });
});
