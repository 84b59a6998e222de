/**
 * Issue 14, finding 9: a tenant key file others could read was only warned about (the doctor failed it),
 * and token files were not checked at all. Key files must be their owner's alone (0600), token files
 * may be shared with a service's group (0640); anything else is refused with the fix and exit 2.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../shared/errors.js';
import { readTokenFile } from '../shared/http/json-api.js';
import { loadKeyFile, loadSecretFile } from '../shared/identity/secret.js';
import { runCli, type CliResult } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-private-'));
const KEY_TEXT = Buffer.alloc(32, 7).toString('base64');
const TOKEN = 'a-token-of-enough-characters';

function file(name: string, text: string, mode: number): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, mode); // chmod, not writeFileSync's mode: the umask would hide the bits under test
  return p;
}

function oneLineError(r: CliResult, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
}

/** The InputError a call throws (exit 2), or a failure when it throws nothing or something else. */
function refusal(f: () => unknown): InputError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).exitCode).toBe(2);
    return err as InputError;
  }
  throw new Error('accepted');
}

describe('key files', () => {
  it('are refused unless only their owner can open them, with the chmod that fixes it', () => {
    expect(loadSecretFile(file('ok.key', KEY_TEXT + '\n', 0o600))).toEqual(new Uint8Array(32).fill(7));
    expect(loadSecretFile(file('ro.key', KEY_TEXT + '\n', 0o400))).toHaveLength(32);
    for (const mode of [0o644, 0o604, 0o640, 0o660, 0o606, 0o620]) {
      const p = file(`m${mode.toString(8)}.key`, KEY_TEXT + '\n', mode);
      const e = refusal(() => loadSecretFile(p));
      expect(e.message).toBe(`key file ${p} is open to ${mode & 0o007 ? 'other users' : 'its group'} (mode 0${mode.toString(8)}): chmod 600 ${p}`);
      expect(e.message).not.toContain(KEY_TEXT);
      // HQ's derived keys (link, opt-out) are held to the same rule.
      expect(refusal(() => loadKeyFile(p, 'omniloop key derive --purpose link')).message).toMatch(/chmod 600/);
    }
    const sub = join(dir, 'a-folder.key');
    mkdirSync(sub, { mode: 0o700 });
    expect(refusal(() => loadSecretFile(sub)).message).toBe(`key file ${sub} is not a regular file`);
    expect(refusal(() => loadSecretFile(join(dir, 'none.key'))).message).toMatch(/does not exist \(make one with `omniloop key init`\)/);
    // The content is still checked behind the mode.
    expect(refusal(() => loadSecretFile(file('short.key', Buffer.alloc(16).toString('base64'), 0o600))).message).toMatch(/does not hold 32 bytes/);
  });

  it('stop whoami, key derive, optout add and the agent with exit 2 and one line', () => {
    const loose = file('loose.key', KEY_TEXT + '\n', 0o644);
    const fix = new RegExp(`key file ${loose} is open to other users \\(mode 0644\\): chmod 600 ${loose}`);
    oneLineError(runCli(['whoami', '--mac', 'f0:18:98:01:02:03', '--key', loose, '--tenant', 'acme', '--timezone', 'UTC']), fix);
    oneLineError(runCli(['key', 'derive', '--key', loose, '--tenant', 'acme', '--purpose', 'link', '--out', join(dir, 'derived.key')]), fix);
    oneLineError(runCli(['optout', 'add', '--mac', 'f0:18:98:01:02:03', '--key', loose, '--tenant', 'acme']), fix);
    const group = file('group.key', KEY_TEXT + '\n', 0o640);
    const cfg = join(dir, 'agent.yaml');
    writeFileSync(cfg, `tenant: acme\nstore: berlin-1\nagent: ap-1\ntimezone: UTC\nkeyFile: group.key\nstatus:\n  port: 0\noutbox:\n  path: outbox.db\ncapture:\n  wifi:\n    interface: mon0\n`);
    oneLineError(runCli(['agent', 'run', '--config', cfg]), new RegExp(`key file ${group} is open to its group \\(mode 0640\\): chmod 600 ${group}`));
    // 0600: the same commands work.
    chmodSync(loose, 0o600);
    expect(runCli(['whoami', '--mac', 'f0:18:98:01:02:03', '--key', loose, '--tenant', 'acme', '--timezone', 'UTC']).code).toBe(0);
  });
});

describe('token files', () => {
  it('must exist, be regular files closed to others, and hold one token of at least 16 visible characters', () => {
    expect(readTokenFile(file('ok.token', `${TOKEN}\n`, 0o600), 'api.tokenFile')).toBe(TOKEN);
    expect(readTokenFile(file('group.token', `  ${TOKEN}\r\n`, 0o640), 'api.tokenFile')).toBe(TOKEN); // a service's group may read it
    const cases: [string, string, number, RegExp][] = [
      ['open.token', TOKEN, 0o644, /is open to other users \(mode 0644\): chmod 600 .*open\.token \(or 640 for a service's group\)$/],
      ['o-write.token', TOKEN, 0o602, /open to other users \(mode 0602\)/],
      ['g-write.token', TOKEN, 0o660, /open to its group \(mode 0660\)/],
      ['short.token', 'x'.repeat(15), 0o600, /must hold a token of at least 16 characters/],
      ['space.token', 'first-half-of-it second-half', 0o600, /one token of visible ASCII characters/],
      ['lines.token', `${TOKEN}\n${TOKEN}\n`, 0o600, /one token of visible ASCII characters/],
      ['control.token', `${TOKEN}\u0000x`, 0o600, /one token of visible ASCII characters/],
      ['unicode.token', `${TOKEN}\u200b`, 0o600, /one token of visible ASCII characters/],
    ];
    for (const [name, text, mode, pattern] of cases) {
      const e = refusal(() => readTokenFile(file(name, text, mode), 'storeApi.tokenFile'));
      expect(e.message, name).toMatch(new RegExp(`^storeApi\\.tokenFile ${join(dir, name).replace(/[.]/g, '\\.')} `));
      expect(e.message, name).toMatch(pattern);
      expect(e.message, name).not.toContain(TOKEN); // never echoed
    }
    expect(refusal(() => readTokenFile(join(dir, 'none.token'), 'api.tokenFile')).message).toMatch(/^api\.tokenFile .*none\.token does not exist \(put a token/);
    const sub = join(dir, 'folder.token');
    mkdirSync(sub);
    expect(refusal(() => readTokenFile(sub, 'api.tokenFile')).message).toMatch(/is not a regular file$/);
  });

  it('stop `cloud run` and the agent before they start anything', () => {
    const open = file('api-open.token', TOKEN, 0o644);
    const cloud = join(dir, 'cloud.yaml');
    // An unreachable broker: the token is checked before the consumer would try it.
    writeFileSync(cloud, `broker:\n  url: mqtt://127.0.0.1:1\ndatabase:\n  sqlite: cloud.db\napi:\n  port: 0\n  tokenFile: api-open.token\n`);
    oneLineError(runCli(['cloud', 'run', '--config', cloud]), new RegExp(`api\\.tokenFile ${open} is open to other users`));

    file('agent.key', KEY_TEXT + '\n', 0o600);
    file('store-short.token', 'too-short', 0o600);
    const agent = join(dir, 'agent-token.yaml');
    writeFileSync(agent, `tenant: acme\nstore: berlin-1\nagent: ap-2\ntimezone: UTC\nkeyFile: agent.key\nstatus:\n  port: 0\noutbox:\n  path: outbox-2.db\nstoreApi:\n  tokenFile: store-short.token\ncapture:\n  wifi:\n    interface: mon0\n`);
    oneLineError(runCli(['agent', 'run', '--config', agent]), /storeApi\.tokenFile .*store-short\.token must hold a token of at least 16 characters/);
  });
});
