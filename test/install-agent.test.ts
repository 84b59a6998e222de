/**
 * The store installer (scripts/install-agent.sh): shellcheck, the systemd unit as installed, --dry-run,
 * and real installs into a scratch root (--root, --skip-build: no apt, user, systemctl or npm here).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../agents/config/agent-config.js';
import { ROOT } from './helpers/cli.js';

const SCRIPT = join(ROOT, 'scripts/install-agent.sh');
const UNIT_TEMPLATE = join(ROOT, 'scripts/systemd/omniloop-agent.service');
const FLAGS = ['--tenant', 'acme', '--store', 'berlin-1', '--agent', 'ap-1', '--timezone', 'Europe/Berlin', '--broker-url', 'mqtts://broker.example.com:8883', '--wifi', 'mon0'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function install(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync('bash', [SCRIPT, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function expectOneLineError(r: Run, code: number, pattern: RegExp): void {
  expect(r.code, r.stdout + r.stderr).toBe(code);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^install-agent: /);
  expect(lines[0]).toMatch(pattern);
}

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const newKey = () => randomBytes(32).toString('base64');

let scratch: string;
let keyFile: string;
let keyText: string;
const roots: string[] = [];
function freshRoot(): string {
  const r = mkdtempSync(join(scratch, 'root-'));
  roots.push(r);
  return r;
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'omniloop-install-'));
  keyText = newKey();
  keyFile = join(scratch, 'acme.key');
  writeFileSync(keyFile, keyText + '\n', { mode: 0o600 });
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the script', () => {
  it('passes shellcheck without a single remark', () => {
    const r = spawnSync('shellcheck', ['-x', SCRIPT], { encoding: 'utf8' });
    expect(r.error, 'shellcheck must be installed (apt-get install shellcheck)').toBeUndefined();
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('prints help with exit 0', () => {
    const r = install(['--help']);
    expect(r.code).toBe(0);
    for (const opt of ['--config', '--tenant', '--key', '--new-key', '--force', '--dry-run', '--root', '--skip-build', '--uninstall', '--purge']) expect(r.stdout).toContain(opt);
  });

  it('rejects bad usage with exit 2 and one line', () => {
    const root = freshRoot();
    const base = ['--root', root, '--skip-build', '--key', keyFile];
    expectOneLineError(install(['--bogus']), 2, /unknown option --bogus/);
    expectOneLineError(install(['--tenant']), 2, /--tenant needs a value/);
    expectOneLineError(install(['--dry-run=yes']), 2, /takes no value/);
    expectOneLineError(install([...base, '--tenant', 'acme']), 2, /missing --store --agent --timezone --broker-url/);
    expectOneLineError(install([...base, ...FLAGS.map((f) => (f === 'berlin-1' ? 'Berlin 1' : f))]), 2, /--store "Berlin 1" must be 1-64 characters/);
    expectOneLineError(install([...base, ...FLAGS.map((f) => (f === 'acme' ? 'a/b' : f))]), 2, /--tenant "a\/b"/);
    expectOneLineError(install([...base, ...FLAGS.map((f) => (f === 'Europe/Berlin' ? 'Mars/Olympus' : f))]), 2, /not an IANA time zone/);
    expectOneLineError(install([...base, ...FLAGS.map((f) => (f.startsWith('mqtts:') ? 'http://broker' : f))]), 2, /--broker-url/);
    expectOneLineError(install([...base, ...FLAGS.slice(0, -2)]), 2, /--wifi IFACE and\/or --ble IFACE/);
    expectOneLineError(install([...base, ...FLAGS, '--new-key']), 2, /--key and --new-key are alternatives/);
    expectOneLineError(install([...base, '--config', keyFile, '--tenant', 'acme']), 2, /alternatives/);
    expectOneLineError(install(['--skip-build', ...FLAGS, '--key', keyFile]), 2, /--skip-build goes with --root/);
    expectOneLineError(install(['--uninstall', '--tenant', 'acme']), 2, /--uninstall takes only/);
    expectOneLineError(install(['--purge']), 2, /--purge goes with --uninstall/);
    expectOneLineError(install(['--root', join(scratch, 'missing'), ...FLAGS]), 2, /is not a directory/);
    expect(readdirSync(root)).toEqual([]);
  });

  it('refuses a Node.js older than 20 with exit 1 and how to get a newer one', () => {
    const bin = join(scratch, 'old-node');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'node'), '#!/bin/sh\ncase "$1" in -p) echo 18 ;; --version) echo v18.19.0 ;; esac\n', { mode: 0o755 });
    const root = freshRoot();
    const r = install(['--root', root, '--skip-build', ...FLAGS, '--key', keyFile], { PATH: `${bin}:${process.env.PATH}` });
    expectOneLineError(r, 1, /Node\.js v18\.19\.0 at .*old-node\/node is too old: install Node\.js 20 or newer .*nodesource/);
    expect(readdirSync(root)).toEqual([]);
  });

  it('refuses a key that is not 32 bytes of base64 on one line, and writes nothing', () => {
    const root = freshRoot();
    const bad = {
      short: randomBytes(31).toString('base64') + '\n',
      long: randomBytes(33).toString('base64') + '\n',
      twoLines: `${keyText}\n${keyText}\n`,
      notBase64: '!'.repeat(43) + '=\n',
      empty: '',
    };
    for (const [name, text] of Object.entries(bad)) {
      const f = join(scratch, `${name}.key`);
      writeFileSync(f, text);
      expectOneLineError(install(['--root', root, '--skip-build', ...FLAGS, '--key', f]), 2, /does not hold 32 bytes of base64 on one line/);
    }
    expectOneLineError(install(['--root', root, '--skip-build', ...FLAGS, '--key', join(scratch, 'none.key')]), 2, /no such readable file/);
    expectOneLineError(install(['--root', root, '--skip-build', ...FLAGS]), 2, /--key FILE .* or --new-key/);
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('the systemd unit', () => {
  /** `key=value` lines per section; repeated keys accumulate. */
  function parseUnit(text: string): Map<string, string[]> {
    const out = new Map<string, string[]>();
    let section = '';
    for (const line of text.split('\n')) {
      const s = line.trim();
      if (s === '' || s.startsWith('#')) continue;
      const head = /^\[(\w+)\]$/.exec(s);
      if (head) section = head[1]!;
      else {
        const i = s.indexOf('=');
        const k = `${section}.${s.slice(0, i)}`;
        out.set(k, [...(out.get(k) ?? []), s.slice(i + 1)]);
      }
    }
    return out;
  }

  it('is installed verbatim with the hardening the agent needs and nothing more', () => {
    const root = freshRoot();
    expect(install(['--root', root, '--skip-build', ...FLAGS, '--key', keyFile]).code).toBe(0);
    const installed = readFileSync(join(root, 'etc/systemd/system/omniloop-agent.service'), 'utf8');
    expect(installed).toBe(readFileSync(UNIT_TEMPLATE, 'utf8'));
    const u = parseUnit(installed);
    const want: Record<string, string> = {
      'Unit.After': 'network-online.target',
      'Unit.Wants': 'network-online.target',
      'Service.User': 'omniloop',
      'Service.ExecStart': '/usr/local/bin/omniloop agent run --config /etc/omniloop/agent.yaml',
      'Service.Environment': 'OMNILOOP_LOG_LEVEL=info',
      'Service.Restart': 'on-failure',
      'Service.RestartSec': '5',
      'Service.AmbientCapabilities': 'CAP_NET_RAW CAP_NET_ADMIN',
      'Service.CapabilityBoundingSet': 'CAP_NET_RAW CAP_NET_ADMIN',
      'Service.NoNewPrivileges': 'yes',
      'Service.ProtectSystem': 'strict',
      'Service.ReadWritePaths': '/var/lib/omniloop',
      'Service.ProtectHome': 'yes',
      'Service.PrivateTmp': 'yes',
      'Service.ProtectKernelTunables': 'yes',
      'Service.ProtectKernelModules': 'yes',
      'Service.ProtectControlGroups': 'yes',
      'Service.RestrictAddressFamilies': 'AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET AF_BLUETOOTH',
      'Install.WantedBy': 'multi-user.target',
    };
    for (const [k, v] of Object.entries(want)) expect(u.get(k), k).toEqual([v]);
  });

  it('passes systemd-analyze verify in the installed tree, which finds its ExecStart there', () => {
    const root = freshRoot();
    expect(install(['--root', root, '--skip-build', ...FLAGS, '--key', keyFile]).code).toBe(0);
    // Offline (no systemd as PID 1 here): --root resolves the unit, its dependencies and its ExecStart
    // inside the tree, so the tree gets the host's stock units (network-online.target, sysinit.target, ...).
    const stock = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(join(d, 'multi-user.target')));
    expect(stock, 'systemd units must be installed (apt-get install systemd)').toBeDefined();
    cpSync(stock!, join(root, 'usr/lib/systemd/system'), { recursive: true, dereference: false });
    const verify = (unit: string) => {
      const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '--man=no', '--generators=no', unit], { encoding: 'utf8' });
      expect(r.error, 'systemd-analyze must be installed').toBeUndefined();
      return { code: r.status, out: r.stdout + r.stderr };
    };
    // Warnings (an unknown or misspelled setting) do not change the exit code: the output must be empty too.
    expect(verify('omniloop-agent.service')).toEqual({ code: 0, out: '' });

    // The check can fail: a misspelled setting is reported, and so is a missing ExecStart binary.
    const unitText = readFileSync(join(root, 'etc/systemd/system/omniloop-agent.service'), 'utf8');
    writeFileSync(join(root, 'etc/systemd/system/omniloop-typo.service'), unitText.replace('ProtectSystem=', 'ProtectSystm='));
    expect(verify('omniloop-typo.service').out).toMatch(/Unknown key 'ProtectSystm'/);
    rmSync(join(root, 'usr/local/bin/omniloop'));
    const missing = verify('omniloop-agent.service');
    expect(missing.code).not.toBe(0);
    expect(missing.out).toMatch(/\/usr\/local\/bin\/omniloop is not executable/);
  });
});

describe('--dry-run', () => {
  // On a machine where the agent is installed for real the preview would (rightly) see it.
  const installedHere = ['/etc/omniloop', '/opt/omniloop', '/usr/local/bin/omniloop', '/etc/systemd/system/omniloop-agent.service'].some((p) => existsSync(p));

  it.skipIf(installedHere)('prints every action on the live system and runs none of them', () => {
    // Every command that could change something is shadowed by one that logs and fails.
    const bin = join(scratch, 'stub-bin');
    const log = join(scratch, 'stub.log');
    mkdirSync(bin, { recursive: true });
    for (const cmd of ['apt-get', 'useradd', 'userdel', 'groupadd', 'systemctl', 'npm', 'cp', 'mv', 'rm', 'mkdir', 'chmod', 'chown', 'mktemp', 'install', 'ln', 'tee', 'touch']) {
      writeFileSync(join(bin, cmd), `#!/bin/sh\necho "${cmd} $*" >> '${log}'\nexit 97\n`);
      chmodSync(join(bin, cmd), 0o755);
    }
    const r = install(['--dry-run', ...FLAGS, '--ble', 'bluetooth0', '--key', keyFile], { PATH: `${bin}:${process.env.PATH}` });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(log) ? readFileSync(log, 'utf8') : '').toBe('');
    const lines = r.stdout.trim().split('\n');
    for (const l of lines) expect(l).toMatch(/^(would (run|write|create|remove|check): |dry run: nothing was changed$|user omniloop exists$)/);
    const has = (s: string) => expect(lines).toContain(s);
    has('would run: apt-get update');
    expect(lines).toContainEqual(expect.stringMatching(/^would run: apt-get install -y .*\blibpcap-dev iw build-essential python3 bluez$/));
    expect(lines).toContainEqual(expect.stringMatching(/^would run: useradd --system .*--shell \/usr\/sbin\/nologin .*omniloop$|^user omniloop exists$/));
    has('would run: (in /opt/omniloop.new) npm ci --include=dev --no-audit --no-fund');
    has('would run: (in /opt/omniloop.new) npm run build');
    has('would create: /etc/omniloop (0750 root:omniloop)');
    has('would create: /var/lib/omniloop (0750 omniloop:omniloop)');
    has('would write: /etc/omniloop/tenant.key (0600 omniloop:omniloop)');
    has('would write: /etc/omniloop/agent.yaml (0640 root:omniloop)');
    has('would run: mv -- /opt/omniloop.new /opt/omniloop');
    has('would write: /usr/local/bin/omniloop (0755 root:root)');
    has(`would write: /etc/systemd/system/omniloop-agent.service (0644 root:root) from ${UNIT_TEMPLATE}`);
    has('would run: systemctl daemon-reload');
    has('would run: systemctl enable omniloop-agent.service');
    has('would run: systemctl restart omniloop-agent.service');
    expect(lines.at(-1)).toBe('dry run: nothing was changed');
    for (const p of ['/etc/omniloop', '/opt/omniloop', '/opt/omniloop.new', '/var/lib/omniloop', '/usr/local/bin/omniloop', '/etc/systemd/system/omniloop-agent.service']) expect(existsSync(p), p).toBe(false);
  });

  it('under --root lists the file tree, skips apt, user and systemctl, and leaves the root empty', () => {
    const root = freshRoot();
    const r = install(['--dry-run', '--root', root, '--skip-build', ...FLAGS, '--new-key']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`would write: ${root}/etc/omniloop/agent.yaml (0640 root:omniloop)`);
    expect(r.stdout).toContain(`would run: cp -R -- ${ROOT.replace(/\/$/, '')}/dist ${root}/opt/omniloop.new/`);
    expect(r.stdout).toMatch(new RegExp(`^would run: \\S*node \\S+ key init --tenant acme --out ${root}/etc/omniloop/tenant.key$`, 'm'));
    expect(r.stdout).not.toMatch(/apt-get|useradd|systemctl/);
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('install into --root', () => {
  it('writes the tree with the right modes, a config the agent loads, and a runnable app', () => {
    const root = freshRoot();
    const r = install(['--root', root, '--skip-build', ...FLAGS, '--ble', 'bluetooth0', '--key', keyFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const etc = join(root, 'etc/omniloop');
    expect(mode(etc)).toBe('750');
    expect(mode(join(root, 'var/lib/omniloop'))).toBe('750');
    expect(mode(join(etc, 'tenant.key'))).toBe('600');
    expect(readFileSync(join(etc, 'tenant.key'), 'utf8')).toBe(keyText + '\n');
    expect(mode(join(etc, 'agent.yaml'))).toBe('640');
    expect(mode(join(root, 'usr/local/bin/omniloop'))).toBe('755');

    const cfg = loadAgentConfig(join(etc, 'agent.yaml'), {});
    expect(cfg).toMatchObject({ tenant: 'acme', store: 'berlin-1', agent: 'ap-1', timezone: 'Europe/Berlin', keyFile: '/etc/omniloop/tenant.key' });
    expect(cfg.capture).toEqual({ wifi: { interface: 'mon0', channels: [1, 6, 11], dwellMs: 250 }, ble: { interface: 'bluetooth0' } });
    expect(cfg.broker?.url).toBe('mqtts://broker.example.com:8883');
    expect(cfg.outbox.path).toBe('/var/lib/omniloop/outbox.db');

    // The wrapper runs the node the installer checked on the installed app; with node_modules beside
    // it (npm ci's job on a real install) that app answers.
    const wrapper = readFileSync(join(root, 'usr/local/bin/omniloop'), 'utf8');
    expect(wrapper).toMatch(/^#!\/bin\/sh\n/);
    expect(wrapper).toMatch(/\nexec \/\S*node \/opt\/omniloop\/dist\/shared\/cli\/main\.js "\$@"\n$/);
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'opt/omniloop/node_modules'));
    const local = join(scratch, 'wrapper-here');
    writeFileSync(local, wrapper.replace('/opt/omniloop/', `${root}/opt/omniloop/`), { mode: 0o755 });
    const v = spawnSync(local, ['--version'], { encoding: 'utf8' });
    expect(v.stdout.trim(), v.stderr).toBe('0.1.0');
    const who = spawnSync(local, ['whoami', '--mac', 'f0:18:98:01:02:03', '--key', join(etc, 'tenant.key'), '--tenant', 'acme', '--timezone', 'UTC', '--json'], { encoding: 'utf8' });
    expect(who.status, who.stderr).toBe(0);
    expect(JSON.parse(who.stdout).cid).toMatch(/^[0-9a-f]{32}$/);
  });

  it('re-runs unchanged, refuses to overwrite a different config or key without --force, keeps a replaced key', () => {
    const root = freshRoot();
    const etc = join(root, 'etc/omniloop');
    expect(install(['--root', root, '--skip-build', ...FLAGS, '--key', keyFile]).code).toBe(0);
    const yaml = readFileSync(join(etc, 'agent.yaml'), 'utf8');

    const again = install(['--root', root, '--skip-build', ...FLAGS, '--key', keyFile]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`unchanged: ${etc}/agent.yaml`);
    expect(again.stdout).toContain(`unchanged: ${etc}/tenant.key`);
    // Without a key option the installed key stays.
    expect(install(['--root', root, '--skip-build', ...FLAGS]).stdout).toContain(`kept: ${etc}/tenant.key`);

    const otherStore = FLAGS.map((f) => (f === 'berlin-1' ? 'berlin-2' : f));
    expectOneLineError(install(['--root', root, '--skip-build', ...otherStore, '--key', keyFile]), 2, /agent\.yaml exists and differs: refusing to overwrite it without --force/);
    expect(readFileSync(join(etc, 'agent.yaml'), 'utf8')).toBe(yaml);

    const otherKeyText = newKey();
    const otherKey = join(scratch, 'other.key');
    writeFileSync(otherKey, otherKeyText + '\n');
    expectOneLineError(install(['--root', root, '--skip-build', ...FLAGS, '--key', otherKey]), 2, /tenant\.key holds another key: refusing to overwrite/);
    expectOneLineError(install(['--root', root, '--skip-build', ...FLAGS, '--new-key']), 2, /tenant\.key exists: refusing/);
    expect(readFileSync(join(etc, 'tenant.key'), 'utf8')).toBe(keyText + '\n');

    const forced = install(['--root', root, '--skip-build', ...otherStore, '--key', otherKey, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(loadAgentConfig(join(etc, 'agent.yaml'), {}).store).toBe('berlin-2');
    expect(readFileSync(join(etc, 'tenant.key'), 'utf8')).toBe(otherKeyText + '\n');
    const replaced = readdirSync(etc).filter((f) => f.startsWith('tenant.key.replaced-'));
    expect(replaced).toHaveLength(1);
    expect(readFileSync(join(etc, replaced[0]!), 'utf8')).toBe(keyText + '\n');
    expect(mode(join(etc, replaced[0]!))).toBe('600');
    // The app was swapped in whole, with no staging or old copy left beside it.
    expect(readdirSync(join(root, 'opt'))).toEqual(['omniloop']);
  });

  it('builds in a staging copy and swaps it in whole; a failed step exits 1 and leaves the app as it was', () => {
    // npm stand-ins: no registry here. The working one gives the staged tree the checkout's
    // node_modules and build output, so the config check and key init run from the staged app.
    const stub = (name: string, body: string) => {
      const dir = join(scratch, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'npm'), `#!/bin/sh\necho "npm $*" >> '${join(dir, 'log')}'\n${body}\n`, { mode: 0o755 });
      return { PATH: `${dir}:${process.env.PATH}`, log: join(dir, 'log') };
    };
    const good = stub('npm-good', `case $1 in ci) ln -s '${join(ROOT, 'node_modules')}' node_modules ;; run) cp -R '${join(ROOT, 'dist')}' . ;; esac`);
    const root = freshRoot();
    const r = install(['--root', root, ...FLAGS, '--new-key'], { PATH: good.PATH });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(good.log, 'utf8')).toBe('npm ci --include=dev --no-audit --no-fund\nnpm run build\nnpm prune --omit=dev --no-audit --no-fund\n');
    expect(r.stdout).toMatch(new RegExp(`^\\+ \\S*node ${root}/opt/omniloop\\.new/dist/shared/cli/main\\.js key init --tenant acme`, 'm'));
    expect(readdirSync(join(root, 'opt'))).toEqual(['omniloop']);
    expect(existsSync(join(root, 'opt/omniloop/dist/shared/cli/main.js'))).toBe(true);
    expect(readFileSync(join(root, 'etc/omniloop/tenant.key'), 'utf8')).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);

    const bad = stub('npm-bad', '[ "$1" = run ] && exit 3; exit 0');
    const failed = install(['--root', root, ...FLAGS], { PATH: bad.PATH });
    expectOneLineError(failed, 1, /npm run build in \S+\/opt\/omniloop\.new failed \(exit 3\)/);
    expect(readdirSync(join(root, 'opt'))).toEqual(['omniloop']);
    expect(existsSync(join(root, 'opt/omniloop/dist/shared/cli/main.js'))).toBe(true);
  });

  it('makes a new tenant key with omniloop key init only when asked', () => {
    const root = freshRoot();
    const r = install(['--root', root, '--skip-build', ...FLAGS, '--new-key']);
    expect(r.code, r.stderr).toBe(0);
    const key = join(root, 'etc/omniloop/tenant.key');
    const text = readFileSync(key, 'utf8');
    expect(text).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    expect(Buffer.from(text.trim(), 'base64')).toHaveLength(32);
    expect(text.trim()).not.toBe(keyText);
    expect(mode(key)).toBe('600');
  });

  it('installs a given config as it is, after the agent loader and the service layout accept it', () => {
    const good = [
      'tenant: acme',
      'store: hamburg-2',
      'agent: pi-1',
      'timezone: Europe/Berlin',
      'keyFile: tenant.key',
      'capture:',
      '  ble: { interface: bluetooth0 }',
      'broker: { url: "mqtts://broker.example.com:8883", passwordFile: broker.pass }',
      'outbox: { path: /var/lib/omniloop/outbox.db }',
      '',
    ].join('\n');
    const cases: [string, string, RegExp][] = [
      ['other-key-name', good.replace('keyFile: tenant.key', 'keyFile: acme.key'), /keyFile resolves to \/etc\/omniloop\/acme\.key; it must be \/etc\/omniloop\/tenant\.key/],
      ['outbox-in-etc', good.replace('outbox: { path: /var/lib/omniloop/outbox.db }\n', ''), /outbox\.path resolves to \/etc\/omniloop\/outbox\.db; it must be in \/var\/lib\/omniloop/],
      ['bad-store', good.replace('hamburg-2', 'Hamburg 2'), /store: store must be 1-64 characters/],
      ['no-capture', good.replace('capture:\n  ble: { interface: bluetooth0 }\n', ''), /names no capture interface/],
    ];
    for (const [name, text, why] of cases) {
      const root = freshRoot();
      const file = join(scratch, `${name}.yaml`);
      writeFileSync(file, text);
      expectOneLineError(install(['--root', root, '--skip-build', '--config', file, '--key', keyFile]), 2, why);
      expect(existsSync(join(root, 'etc/omniloop')), name).toBe(false);
      expect(existsSync(join(root, 'opt/omniloop.new')), name).toBe(false);
    }

    const root = freshRoot();
    const file = join(scratch, 'good.yaml');
    writeFileSync(file, good);
    const r = install(['--root', root, '--skip-build', '--config', file, '--key', keyFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/names \/etc\/omniloop\/broker\.pass, which does not exist yet/);
    expect(readFileSync(join(root, 'etc/omniloop/agent.yaml'), 'utf8')).toBe(good);
    // keyFile: tenant.key is relative to the config: the key the installer put beside it.
    const cfg = loadAgentConfig(join(root, 'etc/omniloop/agent.yaml'), {});
    expect(cfg.keyFile).toBe(join(root, 'etc/omniloop/tenant.key'));
    expect(readFileSync(cfg.keyFile, 'utf8')).toBe(keyText + '\n');
  });

  it('--uninstall removes the app, wrapper and unit, keeps config and outbox unless --purge', () => {
    const root = freshRoot();
    expect(install(['--root', root, '--skip-build', ...FLAGS, '--key', keyFile]).code).toBe(0);
    const app = ['opt/omniloop', 'usr/local/bin/omniloop', 'etc/systemd/system/omniloop-agent.service'];
    const data = ['etc/omniloop/agent.yaml', 'etc/omniloop/tenant.key', 'var/lib/omniloop'];

    const preview = install(['--uninstall', '--root', root, '--dry-run']);
    expect(preview.code, preview.stderr).toBe(0);
    for (const p of app) expect(preview.stdout).toContain(`would remove: ${root}/${p}`);
    for (const p of [...app, ...data]) expect(existsSync(join(root, p)), p).toBe(true);

    const r = install(['--uninstall', '--root', root]);
    expect(r.code, r.stderr).toBe(0);
    for (const p of app) expect(existsSync(join(root, p)), p).toBe(false);
    for (const p of data) expect(existsSync(join(root, p)), p).toBe(true);

    // A `omniloop` in /usr/local/bin that is not the installer's wrapper is left alone.
    writeFileSync(join(root, 'usr/local/bin/omniloop'), '#!/bin/sh\necho mine\n', { mode: 0o755 });
    const purge = install(['--uninstall', '--purge', '--root', root]);
    expect(purge.code, purge.stderr).toBe(0);
    expect(purge.stderr).toMatch(/left .*usr\/local\/bin\/omniloop: it is not this installer's wrapper/);
    expect(existsSync(join(root, 'usr/local/bin/omniloop'))).toBe(true);
    for (const p of ['etc/omniloop', 'var/lib/omniloop']) expect(existsSync(join(root, p)), p).toBe(false);
  });
});
