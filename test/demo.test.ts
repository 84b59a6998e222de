/**
 * `omniloop demo`, the README's main job: the whole product on one machine — embedded broker, HQ on
 * SQLite with its dashboard, three stores' agents on generated traffic — run as a user runs it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, ROOT, runCliAsync } from './helpers/cli.js';

describe('omniloop demo', () => {
  it('runs broker, HQ and three stores, and sums up what HQ learned without a raw identifier', async () => {
    const data = mkdtempSync(join(tmpdir(), 'omniloop-demo-'));
    const r = await runCliAsync(['demo', '--duration', '4', '--history-days', '3', '--customers', '150', '--port', '0', '--data', data, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.stores.map((x: { store: string }) => x.store)).toEqual(['berlin-1', 'hamburg-1', 'munich-1']);
    expect(s.cloud.batches).toBeGreaterThan(100);
    expect(s.cloud.deadLetters).toBe(0);
    expect(s.stores.reduce((n: number, x: { links: number }) => n + x.links, 0)).toBeGreaterThan(0);
    expect(s.dashboardUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dashboard\/#token=/);
    expect(s.signageUrl).toMatch(/\/signage\/#token=/);
    expect(r.stderr).toMatch(/HQ dashboard: http/);
    expect(r.stderr).toMatch(/history replayed; live traffic now/);
    // Nothing personal in what stays on disk: databases, outboxes and caches hold hashes only.
    for (const f of readdirSync(data).filter((f) => /\.(db|db-wal|json)$/.test(f))) {
      expect(readFileSync(join(data, f)).toString('latin1'), f).not.toMatch(/@example\.com|OL-\d|\+49 30/);
    }
  }, 120_000);

  it('stops cleanly on Ctrl-C, with the summary of what was replayed', async () => {
    const data = mkdtempSync(join(tmpdir(), 'omniloop-demo-'));
    const child = spawn(process.execPath, [CLI, 'demo', '--duration', '600', '--history-days', '1', '--customers', '100', '--port', '0', '--data', data], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    for (let i = 0; i < 600 && !/live traffic now/.test(err); i++) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    const code = await new Promise((r) => child.once('exit', r));
    expect(code, err).toBe(0);
    expect(err).toMatch(/stopping/);
    expect(out).toMatch(/stopped early/);
    expect(out).toMatch(/HQ dashboard: +http/);
    expect(err).not.toMatch(/internal error|Error:/);
    expect(existsSync(join(data, 'cloud.db'))).toBe(true);
  }, 120_000);

  it('--duration 0 replays the history alone (it failed with an internal error)', async () => {
    const data = mkdtempSync(join(tmpdir(), 'omniloop-demo-'));
    const r = await runCliAsync(['demo', '--duration', '0', '--history-days', '1', '--customers', '100', '--port', '0', '--data', data, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/internal error|live traffic now/);
    expect(JSON.parse(r.stdout).cloud.batches).toBeGreaterThan(0);
  }, 120_000);

  it('refuses bad options with one line and exit 2', async () => {
    const r = await runCliAsync(['demo', '--stores', '11']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('omniloop: --stores must be a whole number from 1 to 10, not "11"');
  });
});
