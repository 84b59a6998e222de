/**
 * `omniloop broker provision|check`: the broker side of the tenant set-up. `provision` turns the roster
 * of tenants, stores and agents into Mosquitto's users, ACL and settings (and EMQX's ACL) with one
 * password file per user to hand out; `check` holds a broker's mosquitto.conf to what omniloop needs.
 * Passwords are written to their 0600 files only, never printed.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CheckResult } from '../../agents/doctor/check.js';
import { printJson, printLine } from '../../shared/cli/output.js';
import { CheckError, InputError } from '../../shared/errors.js';
import { judgeMosquittoConf, overall } from '../broker/mosquitto-conf-check.js';
import { readMosquittoConf } from '../broker/mosquitto-conf-files.js';
import { planProvision } from '../broker/provision.js';
import { CREDENTIALS_DIR, readProvisionState, writeProvision } from '../broker/provision-files.js';
import { parseRoster } from '../broker/roster.js';

interface ProvisionFlags {
  agents: string;
  out: string;
  brokerDir?: string;
  json?: boolean;
}

export function configureBroker(broker: Command): void {
  broker
    .command('provision')
    .description('write Mosquitto users (password file), topic rights (ACL) and settings, an EMQX acl.conf, and one password file per user, from the roster; existing users keep their passwords')
    .requiredOption('-a, --agents <file>', 'the roster (YAML): hq: [names] and tenants: {<tenant>: {<store>: [<agent>, ...]}}')
    .requiredOption('-o, --out <dir>', 'where to write mosquitto.conf, passwd, acl, emqx-acl.conf and credentials/ (run again on the same folder to update)')
    .option('--broker-dir <dir>', 'where passwd and acl will be on the broker host, for the paths in mosquitto.conf (default: --out)')
    .option('--json', 'machine-readable output')
    .action((flags: ProvisionFlags) => provision(flags));
  broker
    .command('check')
    .description("check a broker's mosquitto.conf (with its include_dir) for what omniloop needs: no anonymous access, an ACL, HQ's queue, message size, persistence; exit 1 when something fails")
    .requiredOption('-c, --conf <file>', 'the broker config, e.g. /etc/mosquitto/mosquitto.conf')
    .option('--json', 'machine-readable output: {checks: [{id, status, summary, fix?}], ok}')
    .action((flags: { conf: string; json?: boolean }) => check(flags));
}

function provision(flags: ProvisionFlags): void {
  const out = resolve(flags.out);
  const brokerDir = resolve(flags.brokerDir ?? out);
  const roster = parseRoster(readRoster(flags.agents), flags.agents);
  const plan = planProvision(roster, readProvisionState(out), { passwordFile: join(brokerDir, 'passwd'), aclFile: join(brokerDir, 'acl') });
  writeProvision(out, plan);
  const hq = plan.users.filter((u) => u.role === 'hq').length;
  const counts = { users: plan.users.length, hq, agents: plan.users.length - hq, added: plan.added.length, kept: plan.kept.length, removed: plan.removed.length };
  if (flags.json) return printJson({ out, ...counts, addedUsers: plan.added, removedUsers: plan.removed, credentials: join(out, CREDENTIALS_DIR) });
  printLine(`wrote ${out}: ${hq} HQ user${hq === 1 ? '' : 's'} and ${counts.agents} agent${counts.agents === 1 ? '' : 's'} (${counts.added} added, ${counts.kept} kept, ${counts.removed} removed)`);
  printLine(`  mosquitto.conf   include it from the broker's config (Debian: copy to /etc/mosquitto/conf.d/omniloop.conf)`);
  printLine(`  passwd, acl      mode 0640, for the broker to read (chgrp mosquitto); then sudo systemctl reload mosquitto: it reads them again and disconnects removed users`);
  printLine(`  emqx-acl.conf    the same rights for EMQX (docs/broker.md)`);
  printLine(`  ${CREDENTIALS_DIR}/<user>.password (0600): give each agent its own as broker.passwordFile, with broker.username <tenant>.<store>.<agent>; HQ's is hq.<name>`);
}

function readRoster(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? `agents file ${path} does not exist` : `cannot read agents file ${path} (${code ?? 'error'})`);
  }
}

const LABEL: Record<CheckResult['status'], string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

function check(flags: { conf: string; json?: boolean }): void {
  const checks = judgeMosquittoConf(readMosquittoConf(flags.conf));
  const status = overall(checks);
  if (flags.json) printJson({ checks, ok: status !== 'fail' });
  else {
    const width = Math.max(...checks.map((c) => c.id.length));
    for (const c of checks) {
      printLine(`${LABEL[c.status]}  ${c.id.padEnd(width)}  ${c.summary}`);
      if (c.fix && c.status !== 'ok') printLine(`${' '.repeat(width + 8)}fix: ${c.fix}`);
    }
  }
  const failed = checks.filter((c) => c.status === 'fail');
  if (failed.length > 0) throw new CheckError(`${failed.length} broker setting${failed.length === 1 ? '' : 's'} failed: ${failed.map((c) => c.id).join(', ')}`);
}
