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
const MONITOR = join(ROOT, 'scripts/monitor-interface.sh');
const MONITOR_PRE = '+/opt/omniloop/scripts/monitor-interface.sh --config /etc/omniloop/agent.yaml';
/** HQ's control public key (`omniloop key control`): the generated agent.yaml lists it. */
const CONTROL_KEY = 'oGEEr+kiA/P52qYX06tPplxfdsf+kTi0d5hdUdM5OhU=';
const FLAGS = ['--tenant', 'acme', '--store', 'berlin-1', '--agent', 'ap-1', '--timezone', 'Europe/Berlin', '--broker-url', 'mqtts://broker.example.com:8883', '--control-key', CONTROL_KEY, '--wifi', 'mon0'];
const WITHOUT_CONTROL_KEY = FLAGS.filter((f, i) => f !== '--control-key' && FLAGS[i - 1] !== '--control-key');

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
  it('passes shellcheck without a single remark, and so does the monitor interface set-up', () => {
    const r = spawnSync('shellcheck', ['-x', SCRIPT, MONITOR], { encoding: 'utf8' });
    expect(r.error, 'shellcheck must be installed (apt-get install shellcheck)').toBeUndefined();
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('prints help with exit 0', () => {
    const r = install(['--help']);
    expect(r.code).toBe(0);
    for (const opt of ['--config', '--tenant', '--key', '--new-key', '--radio', '--force', '--dry-run', '--root', '--skip-build', '--uninstall', '--purge']) expect(r.stdout).toContain(opt);
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
    expectOneLineError(install([...base, ...FLAGS.slice(0, -2), '--ble', 'bluetooth0', '--radio', 'wlan1']), 2, /--radio goes with --wifi IFACE/);
    expectOneLineError(install([...base, ...FLAGS, '--radio', 'wlan 1']), 2, /--radio "wlan 1" is not a WiFi interface or radio name/);
    expectOneLineError(install([...base, '--config', keyFile, '--radio', 'wlan1']), 2, /alternatives: give one \(capture\.wifi\.radio in the file\)/);
    expectOneLineError(install(['--uninstall', '--radio', 'wlan1']), 2, /--uninstall takes only/);
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
      'Service.ExecStartPre': MONITOR_PRE,
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
    // The ExecStartPre is checked the same way: the set-up script comes with the app.
    expect(mode(join(root, 'opt/omniloop/scripts/monitor-interface.sh'))).toBe('755');
    rmSync(join(root, 'opt/omniloop/scripts/monitor-interface.sh'));
    expect(verify('omniloop-agent.service').out).toMatch(/\/opt\/omniloop\/scripts\/monitor-interface\.sh is not executable/);
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
    for (const l of lines) expect(l).toMatch(/^(would (run|write|create|remove|check): |note: |dry run: nothing was changed$|user omniloop exists$)/);
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
    // Without --radio there is no set-up, and the installer says what that means.
    has('note: no radio (--radio or capture.wifi.radio): mon0 must exist in monitor mode whenever the service starts, after a reboot or a re-plugged adapter too');
    expect(r.stdout).not.toContain('monitor-interface.sh');
    expect(lines.at(-1)).toBe('dry run: nothing was changed');
    for (const p of ['/etc/omniloop', '/opt/omniloop', '/opt/omniloop.new', '/var/lib/omniloop', '/usr/local/bin/omniloop', '/etc/systemd/system/omniloop-agent.service']) expect(existsSync(p), p).toBe(false);

    // With --radio: the monitor interface is made once now (so a missing radio is reported in its own words), before the service starts.
    const withRadio = install(['--dry-run', ...FLAGS, '--radio', 'wlan1', '--key', keyFile], { PATH: `${bin}:${process.env.PATH}` });
    expect(withRadio.code, withRadio.stderr).toBe(0);
    expect(existsSync(log) ? readFileSync(log, 'utf8') : '').toBe('');
    const rl = withRadio.stdout.trim().split('\n');
    for (const l of rl) expect(l).toMatch(/^(would (run|write|create|remove|check): |note: |dry run: nothing was changed$|user omniloop exists$)/);
    const at = (s: string) => rl.indexOf(s);
    expect(rl).toContain('note: the service makes mon0 in monitor mode on radio wlan1 before every start (ExecStartPre=+/opt/omniloop/scripts/monitor-interface.sh --config /etc/omniloop/agent.yaml)');
    const setUp = at('would run: /opt/omniloop/scripts/monitor-interface.sh --config /etc/omniloop/agent.yaml');
    expect(setUp).toBeGreaterThan(at(`would write: /etc/systemd/system/omniloop-agent.service (0644 root:root) from ${UNIT_TEMPLATE}`));
    expect(setUp).toBeLessThan(at('would run: systemctl restart omniloop-agent.service'));
    expect(withRadio.stdout).not.toMatch(/no radio/);
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
    expect(loadAgentConfig(join(etc, 'agent.yaml'), {}).control).toEqual({ publicKeys: [CONTROL_KEY], maxFutureMinutes: 60 });
    // Without HQ's control key the agent would apply no downlink: said, not silently installed.
    const bare = install(['--root', freshRoot(), '--skip-build', ...WITHOUT_CONTROL_KEY, '--key', keyFile]);
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stderr).toMatch(/warning: .*no control.publicKeys: the agent will apply no opt-out list or segments from HQ/);
    expectOneLineError(install(['--root', freshRoot(), '--skip-build', ...WITHOUT_CONTROL_KEY, '--control-key', 'not-a-key', '--key', keyFile]), 2, /--control-key must be 44 characters of base64/);
    expect(mode(etc)).toBe('750');
    expect(mode(join(root, 'var/lib/omniloop'))).toBe('750');
    expect(mode(join(etc, 'tenant.key'))).toBe('600');
    expect(readFileSync(join(etc, 'tenant.key'), 'utf8')).toBe(keyText + '\n');
    expect(mode(join(etc, 'agent.yaml'))).toBe('640');
    expect(mode(join(root, 'usr/local/bin/omniloop'))).toBe('755');

    const cfg = loadAgentConfig(join(etc, 'agent.yaml'), {});
    expect(cfg).toMatchObject({ tenant: 'acme', store: 'berlin-1', agent: 'ap-1', timezone: 'Europe/Berlin', keyFile: '/etc/omniloop/tenant.key' });
    expect(cfg.capture).toEqual({ wifi: { interface: 'mon0', channels: [1, 6, 11], dwellMs: 250, associatedHoldHours: 4, linkConnected: true }, ble: { interface: 'bluetooth0' } });
    expect(cfg.broker?.url).toBe('mqtts://broker.example.com:8883');
    expect(cfg.outbox.path).toBe('/var/lib/omniloop/outbox.db');

    // The wrapper runs the node the installer checked on the installed app; with node_modules beside
    // it (npm ci's job on a real install) that app answers.
    const wrapper = readFileSync(join(root, 'usr/local/bin/omniloop'), 'utf8');
    expect(wrapper).toMatch(/^#!\/bin\/sh\n/);
    expect(wrapper).toMatch(/\nexec \/\S*node \/opt\/omniloop\/dist\/app\/cli\/main\.js "\$@"\n$/);
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'opt/omniloop/node_modules'));
    const local = join(scratch, 'wrapper-here');
    writeFileSync(local, wrapper.replace('/opt/omniloop/', `${root}/opt/omniloop/`), { mode: 0o755 });
    const v = spawnSync(local, ['--version'], { encoding: 'utf8' });
    expect(v.stdout.trim(), v.stderr).toBe('0.1.0');
    const who = spawnSync(local, ['whoami', '--mac', 'f0:18:98:01:02:03', '--key', join(etc, 'tenant.key'), '--tenant', 'acme', '--timezone', 'UTC', '--json'], { encoding: 'utf8' });
    expect(who.status, who.stderr).toBe(0);
    expect(JSON.parse(who.stdout).cid).toMatch(/^[0-9a-f]{32}$/);
  });

  it('with --radio writes capture.wifi.radio, and the unit makes the interface before every start; without, it says the interface must exist', () => {
    const root = freshRoot();
    const r = install(['--root', root, '--skip-build', ...FLAGS, '--radio', 'wlan1', '--key', keyFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('note: the service makes mon0 in monitor mode on radio wlan1 before every start (ExecStartPre=+/opt/omniloop/scripts/monitor-interface.sh --config /etc/omniloop/agent.yaml)');
    const yaml = readFileSync(join(root, 'etc/omniloop/agent.yaml'), 'utf8');
    expect(yaml).toContain("  wifi: { interface: 'mon0', radio: 'wlan1' }\n");
    expect(loadAgentConfig(join(root, 'etc/omniloop/agent.yaml'), {}).capture.wifi).toEqual({ interface: 'mon0', channels: [1, 6, 11], dwellMs: 250, radio: 'wlan1', associatedHoldHours: 4, linkConnected: true });
    const unit = readFileSync(join(root, 'etc/systemd/system/omniloop-agent.service'), 'utf8');
    expect(unit).toContain(`\nExecStartPre=${MONITOR_PRE}\n`);
    expect(unit.indexOf('ExecStartPre=')).toBeLessThan(unit.indexOf('ExecStart='));
    expect(mode(join(root, 'opt/omniloop/scripts/monitor-interface.sh'))).toBe('755');
    // The installed set-up script reads that config with the installed app's own loader; it gets past
    // the config to the tools, which are not on this PATH.
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'opt/omniloop/node_modules'));
    const few = mkdtempSync(join(scratch, 'few-tools-'));
    for (const t of ['dirname', 'cat', 'sed', 'head']) symlinkSync(spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim(), join(few, t));
    const env = { ...process.env, PATH: few, OMNILOOP_NODE: process.execPath };
    const read = spawnSync('/bin/bash', [join(root, 'opt/omniloop/scripts/monitor-interface.sh'), '--config', join(root, 'etc/omniloop/agent.yaml')], { encoding: 'utf8', env });
    expect(read.stderr).toBe('monitor-interface: iw is not installed: apt-get install iw\n');
    expect(read.status).toBe(1);

    // A phy works as well; without a radio the config has none and the installer says what that means.
    const phy = freshRoot();
    expect(install(['--root', phy, '--skip-build', ...FLAGS, '--radio', 'phy0', '--key', keyFile]).code).toBe(0);
    expect(loadAgentConfig(join(phy, 'etc/omniloop/agent.yaml'), {}).capture.wifi?.radio).toBe('phy0');
    const none = freshRoot();
    const plain = install(['--root', none, '--skip-build', ...FLAGS, '--key', keyFile]);
    expect(plain.stdout).toContain('note: no radio (--radio or capture.wifi.radio): mon0 must exist in monitor mode whenever the service starts, after a reboot or a re-plugged adapter too');
    expect(plain.stdout).not.toContain('note: the service makes');
    expect(loadAgentConfig(join(none, 'etc/omniloop/agent.yaml'), {}).capture.wifi).not.toHaveProperty('radio');

    // A given config with a radio: the installer reads it from there.
    const file = join(scratch, 'radio.yaml');
    writeFileSync(file, 'tenant: acme\nkeyFile: tenant.key\ncapture:\n  wifi:\n    interface: mon1\n    radio: wlan2\noutbox: { path: /var/lib/omniloop/outbox.db }\n');
    const given = install(['--root', freshRoot(), '--skip-build', '--config', file, '--key', keyFile]);
    expect(given.code, given.stderr).toBe(0);
    expect(given.stdout).toContain('note: the service makes mon1 in monitor mode on radio wlan2 before every start');
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
    expect(r.stdout).toMatch(new RegExp(`^\\+ \\S*node ${root}/opt/omniloop\\.new/dist/app/cli/main\\.js key init --tenant acme`, 'm'));
    expect(readdirSync(join(root, 'opt'))).toEqual(['omniloop']);
    expect(existsSync(join(root, 'opt/omniloop/dist/app/cli/main.js'))).toBe(true);
    expect(readFileSync(join(root, 'etc/omniloop/tenant.key'), 'utf8')).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);

    const bad = stub('npm-bad', '[ "$1" = run ] && exit 3; exit 0');
    const failed = install(['--root', root, ...FLAGS], { PATH: bad.PATH });
    expectOneLineError(failed, 1, /npm run build in \S+\/opt\/omniloop\.new failed \(exit 3\)/);
    expect(readdirSync(join(root, 'opt'))).toEqual(['omniloop']);
    expect(existsSync(join(root, 'opt/omniloop/dist/app/cli/main.js'))).toBe(true);
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
    // With --radio: its set-up goes with these (the script with the app, the ExecStartPre with the
    // unit, capture.wifi.radio with the config) and adds nothing anywhere else.
    expect(install(['--root', root, '--skip-build', ...FLAGS, '--radio', 'wlan1', '--key', keyFile]).code).toBe(0);
    expect(existsSync(join(root, 'opt/omniloop/scripts/monitor-interface.sh'))).toBe(true);
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
    // What is left is what was there before: the folders a fresh root needed and the foreign wrapper.
    expect(readdirSync(join(root, 'opt'))).toEqual([]);
    expect(readdirSync(join(root, 'etc/systemd/system'))).toEqual([]);
  });
});

describe('scripts/monitor-interface.sh, with stand-in iw and ip', () => {
  /**
   * A pretend machine: `state` holds one line per WiFi interface (name, phy, type, connected), `phys`
   * the radios. The stand-ins log every call, answer `iw dev`, `iw dev X info|link`, `iw phy P info`
   * and `ip -o link show dev X` from it as the real tools print, and apply `interface add`, `set type`
   * and `link set`. A file fail-add, fail-settype or fail-up makes that command fail with its text.
   * PATH holds only them and the few tools the script needs, so no real iw or ip is ever reached.
   */
  interface Machine {
    dir: string;
    run(args: string[], opts?: { withoutIw?: boolean }): Run & { calls: string[] };
    state(): string;
    failNext(what: 'add' | 'settype' | 'up', text: string): void;
  }

  const iwStub = (s: string) => `#!/bin/sh
S='${s}'
echo "iw $*" >> "$S/log"
die() { echo "$1" >&2; exit "\${2:-237}"; }
nodev() { die 'command failed: No such device (-19)'; }
if [ "$#" -eq 1 ] && [ "$1" = dev ]; then
  awk '{ if ($2 != last) { print "phy#" substr($2, 4); last = $2 } print "\\tInterface " $1; print "\\t\\tifindex " NR + 2; print "\\t\\twdev 0x" NR; print "\\t\\ttype " $3 }' "$S/state"
  exit 0
fi
if [ "$1" = dev ] && [ "$3" = info ] && [ "$#" -eq 3 ]; then
  awk -v n="$2" '$1 == n { print "Interface " $1; print "\\tifindex " NR + 2; print "\\twdev 0x" NR; print "\\taddr 00:c0:ca:00:00:0" NR; print "\\ttype " $3; print "\\twiphy " substr($2, 4); f = 1 } END { exit !f }' "$S/state" || nodev
  exit 0
fi
if [ "$1" = dev ] && [ "$3" = link ]; then
  if awk -v n="$2" '$1 == n && $4 == 1 { f = 1 } END { exit !f }' "$S/state"; then echo "Connected to 02:11:22:33:44:55 (on $2)"; else echo "Not connected."; fi
  exit 0
fi
if [ "$1" = dev ] && [ "$3 $4" = "set type" ]; then
  if [ -f "$S/fail-settype" ]; then die "$(cat "$S/fail-settype")" 255; fi
  awk -v n="$2" -v t="$5" '$1 == n { $3 = t } { print }' "$S/state" > "$S/state.new" && mv "$S/state.new" "$S/state"
  exit 0
fi
if [ "$1" = phy ] && [ "$3" = info ]; then
  grep -qx "$2" "$S/phys" || nodev
  echo "Wiphy $2"
  exit 0
fi
if [ "$1" = phy ] && [ "$3 $4" = "interface add" ] && [ "$6" = type ]; then
  if [ -f "$S/fail-add" ]; then die "$(cat "$S/fail-add")" 255; fi
  echo "$5 $2 $7 0" >> "$S/state"
  exit 0
fi
die "stand-in iw: unexpected: $*" 99
`;

  const ipStub = (s: string) => `#!/bin/sh
S='${s}'
echo "ip $*" >> "$S/log"
if [ "$1 $2 $3 $4" = "-o link show dev" ]; then
  awk -v n="$5" '$1 == n { f = 1 } END { exit !f }' "$S/state" || { echo "Device \\"$5\\" does not exist." >&2; exit 1; }
  if grep -qx "$5" "$S/up"; then f=BROADCAST,MULTICAST,UP,LOWER_UP; else f=BROADCAST,MULTICAST; fi
  echo "7: $5: <$f> mtu 1500 qdisc mq state DOWN mode DEFAULT group default qlen 1000\\\\    link/ieee802.11/radiotap 00:c0:ca:00:00:01 brd ff:ff:ff:ff:ff:ff"
  exit 0
fi
if [ "$1 $2" = "link set" ] && [ "$#" -eq 4 ]; then
  if [ "$4" = up ]; then
    if [ -f "$S/fail-up" ]; then cat "$S/fail-up" >&2; exit 2; fi
    echo "$3" >> "$S/up"
  else
    grep -vx "$3" "$S/up" > "$S/up.new"; mv "$S/up.new" "$S/up"
  fi
  exit 0
fi
echo "stand-in ip: unexpected: $*" >&2
exit 99
`;

  let tools: string;
  beforeAll(() => {
    tools = join(scratch, 'mi-tools');
    mkdirSync(tools);
    for (const t of ['awk', 'sed', 'head', 'grep', 'cat', 'mv', 'dirname']) {
      const which = spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();
      expect(which, t).not.toBe('');
      symlinkSync(which, join(tools, t));
    }
  });

  /** interfaces: "name phyN type connected(0|1)"; up: the interfaces that are up. */
  function machine(interfaces: string[], phys: string[], up: string[] = []): Machine {
    const dir = mkdtempSync(join(scratch, 'machine-'));
    const s = join(dir, 'state.d');
    mkdirSync(s);
    writeFileSync(join(s, 'state'), interfaces.map((l) => l + '\n').join(''));
    writeFileSync(join(s, 'phys'), phys.map((l) => l + '\n').join(''));
    writeFileSync(join(s, 'up'), up.map((l) => l + '\n').join(''));
    writeFileSync(join(s, 'log'), '');
    for (const [name, text] of [['iw', iwStub(s)], ['ip', ipStub(s)]] as const) {
      mkdirSync(join(dir, 'bin'), { recursive: true });
      writeFileSync(join(dir, 'bin', name), text, { mode: 0o755 });
    }
    mkdirSync(join(dir, 'bin-no-iw'));
    symlinkSync(join(dir, 'bin', 'ip'), join(dir, 'bin-no-iw', 'ip'));
    return {
      dir,
      run(args, opts = {}) {
        writeFileSync(join(s, 'log'), '');
        const PATH = `${join(dir, opts.withoutIw ? 'bin-no-iw' : 'bin')}:${tools}`;
        const r = spawnSync('/bin/bash', [MONITOR, ...args], { encoding: 'utf8', env: { PATH, OMNILOOP_NODE: process.execPath } });
        const calls = readFileSync(join(s, 'log'), 'utf8').split('\n').filter(Boolean);
        return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, calls };
      },
      state: () => readFileSync(join(s, 'state'), 'utf8'),
      failNext(what, text) {
        writeFileSync(join(s, `fail-${what}`), text + '\n');
      },
    };
  }

  const expectError = (r: Run, code: number, line: string | RegExp) => {
    expect(r.code, r.stdout + r.stderr).toBe(code);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    if (typeof line === 'string') expect(lines[0]).toBe(line);
    else expect(lines[0]).toMatch(line);
  };
  const CHANGES = /^(iw phy \S+ interface add|iw dev \S+ set type|ip link set)/;

  it('mon0 missing: made on the radio, given as a WiFi interface (its phy from iw dev wlan1 info) or as a phy, and brought up', () => {
    const m = machine(['wlan0 phy0 managed 1', 'wlan1 phy1 managed 0'], ['phy0', 'phy1']);
    const r = m.run(['--radio', 'wlan1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.calls).toEqual(['iw dev mon0 info', 'iw dev wlan1 info', 'iw phy phy1 interface add mon0 type monitor', 'ip link set mon0 up']);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('monitor-interface: created mon0 in monitor mode on phy1 (the radio of wlan1) and brought it up');
    expect(m.state()).toContain('mon0 phy1 monitor 0\n');

    // Run again (the next start): nothing to do, nothing changed.
    const again = m.run(['--radio', 'wlan1']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.calls).toEqual(['iw dev mon0 info', 'ip -o link show dev mon0']);
    expect(again.stdout).toBe('monitor-interface: mon0 is in monitor mode on phy1 and up: left as it is\n');

    const p = machine(['wlan0 phy0 managed 1'], ['phy0', 'phy1']);
    const byPhy = p.run(['--radio', 'phy1', '--interface', 'mon3']);
    expect(byPhy.code, byPhy.stderr).toBe(0);
    expect(byPhy.calls).toEqual(['iw dev mon3 info', 'iw phy phy1 info', 'iw phy phy1 interface add mon3 type monitor', 'ip link set mon3 up']);
    expect(byPhy.stdout).toContain('monitor-interface: created mon3 in monitor mode on phy1 and brought it up\n');
  });

  it('mon0 present in monitor mode: left as it is (only brought up if down)', () => {
    const up = machine(['wlan0 phy0 managed 1', 'mon0 phy1 monitor 0'], ['phy0', 'phy1'], ['mon0']);
    const r = up.run(['--radio', 'wlan1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.calls.filter((c) => CHANGES.test(c))).toEqual([]);
    expect(r.stdout).toBe('monitor-interface: mon0 is in monitor mode on phy1 and up: left as it is\n');

    const down = machine(['mon0 phy1 monitor 0'], ['phy1']);
    const d = down.run(['--radio', 'phy1']);
    expect(d.code, d.stderr).toBe(0);
    expect(d.calls.filter((c) => CHANGES.test(c))).toEqual(['ip link set mon0 up']);
    expect(d.stdout).toContain('monitor-interface: mon0 is in monitor mode on phy1: brought it up\n');
  });

  it('mon0 present in managed mode: switched when it carries no connection, refused when it does or is an access point', () => {
    const m = machine(['wlan1 phy1 managed 0', 'mon0 phy1 managed 0'], ['phy1']);
    const r = m.run(['--radio', 'wlan1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.calls).toEqual(['iw dev mon0 info', 'iw dev mon0 link', 'ip link set mon0 down', 'iw dev mon0 set type monitor', 'ip link set mon0 up']);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('monitor-interface: switched mon0 on phy1 from managed to monitor mode and brought it up');
    expect(m.state()).toContain('mon0 phy1 monitor 0\n');

    const connected = machine(['mon0 phy1 managed 1'], ['phy1']);
    const c = connected.run(['--radio', 'wlan1']);
    expectError(c, 1, 'monitor-interface: mon0 exists in managed mode and is connected to a network: not switching it to monitor mode (set capture.wifi.interface to another name, such as mon0)');
    expect(c.calls.filter((x) => CHANGES.test(x))).toEqual([]);

    const ap = machine(['wlan0 phy0 AP 0'], ['phy0']);
    const a = ap.run(['--radio', 'phy0', '--interface', 'wlan0']);
    expectError(a, 1, 'monitor-interface: wlan0 exists in AP mode: not switching it to monitor mode (delete it with iw dev wlan0 del, or set capture.wifi.interface to another name)');
    expect(a.calls.filter((x) => CHANGES.test(x))).toEqual([]);
  });

  it('radio missing: one line naming what is there, exit 1, nothing changed', () => {
    const m = machine(['wlan0 phy0 managed 1'], ['phy0']);
    const r = m.run(['--radio', 'wlan1']);
    expectError(r, 1, 'monitor-interface: no such radio wlan1: no WiFi interface or phy of that name (WiFi interfaces here: wlan0 (phy0, managed)); plug the adapter in, or name one that `iw dev` lists');
    expect(r.calls).toEqual(['iw dev mon0 info', 'iw dev wlan1 info', 'iw dev']);
    const p = m.run(['--radio', 'phy2']);
    expectError(p, 1, /^monitor-interface: no such radio phy2: /);
    expect(p.calls.filter((x) => CHANGES.test(x))).toEqual([]);
    expect(m.state()).toBe('wlan0 phy0 managed 1\n');
  });

  it('iw missing, not permitted, no monitor mode, rfkill: one line each, exit 1', () => {
    const m = machine(['wlan1 phy1 managed 0'], ['phy1']);
    const noIw = m.run(['--radio', 'wlan1'], { withoutIw: true });
    expectError(noIw, 1, 'monitor-interface: iw is not installed: apt-get install iw');
    expect(noIw.calls).toEqual([]);

    m.failNext('add', 'command failed: Operation not permitted (-1)');
    expectError(
      m.run(['--radio', 'wlan1']),
      1,
      'monitor-interface: not permitted to add mon0 on phy1 (iw phy phy1 interface add mon0 type monitor: command failed: Operation not permitted (-1)): run as root (the service does, with ExecStartPre=+)',
    );
    m.failNext('add', 'command failed: Operation not supported (-95)');
    expectError(m.run(['--radio', 'wlan1']), 1, /^monitor-interface: cannot add mon0 on phy1: the radio's driver does not support monitor mode/);
    rmSync(join(m.dir, 'state.d', 'fail-add'));
    m.failNext('up', 'RTNETLINK answers: Operation not possible due to RF-kill');
    expectError(m.run(['--radio', 'wlan1']), 1, 'monitor-interface: cannot bring mon0 up: the radio is blocked by rfkill (rfkill unblock wifi)');
  });

  it('--config: radio and interface from agent.yaml through the agent loader; nothing to do without a radio; a bad config exits 2', () => {
    const m = machine(['wlan1 phy1 managed 0'], ['phy1']);
    const cfg = (name: string, capture: string) => {
      const f = join(m.dir, `${name}.yaml`);
      writeFileSync(f, `tenant: acme\nkeyFile: tenant.key\ncapture:\n${capture}`);
      return f;
    };
    const r = m.run(['--config', cfg('radio', "  wifi: { interface: 'mon2', radio: 'wlan1' }\n")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.calls).toEqual(['iw dev mon2 info', 'iw dev wlan1 info', 'iw phy phy1 interface add mon2 type monitor', 'ip link set mon2 up']);

    const none = m.run(['--config', cfg('none', '  wifi: { interface: mon0 }\n')]);
    expect(none).toMatchObject({ code: 0, stderr: '', calls: [] });
    expect(none.stdout).toMatch(/^monitor-interface: \S+none\.yaml has no capture\.wifi\.radio: nothing to set up \(mon0 must exist in monitor mode when the agent starts\)\n$/);
    const ble = m.run(['--config', cfg('ble', '  ble: { interface: bluetooth0 }\n')]);
    expect(ble).toMatchObject({ code: 0, stderr: '', calls: [] });

    expectError(m.run(['--config', cfg('bad', "  wifi: { interface: mon0, radio: 'wlan 1' }\n")]), 2, /^monitor-interface: config file \S+bad\.yaml: capture\.wifi\.radio: a WiFi interface such as wlan1 or a radio such as phy0/);
    expectError(m.run(['--config', join(m.dir, 'missing.yaml')]), 2, /no such readable file/);
  });

  it('rejects bad usage with exit 2 and one line', () => {
    const m = machine([], []);
    expectError(m.run([]), 2, /give --config FILE or --radio RADIO/);
    expectError(m.run(['--bogus']), 2, /unknown option --bogus/);
    expectError(m.run(['--radio']), 2, /--radio needs a value/);
    expectError(m.run(['--config', 'x.yaml', '--radio', 'wlan1']), 2, /alternatives/);
    expectError(m.run(['--radio', 'wlan1', '--interface', 'a-much-too-long-name']), 2, /interface "a-much-too-long-name" is not an interface name/);
    const help = m.run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('iw phy PHY interface add NAME type monitor && ip link set NAME up');
  });
});
