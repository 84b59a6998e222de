/**
 * `omniloop doctor --config agent.yaml`: the technician's one command on site. One line per check
 * (ok / warn / fail and what was found), the fix under every warning and failure, a count at the end.
 * Exit 1 when a check fails (warnings do not), 2 when the config file cannot be read or flags are wrong.
 */
import type { Command } from 'commander';
import { printJson, printLine } from '../../shared/cli/output.js';
import { CheckError, InputError } from '../../shared/errors.js';
import type { CheckResult } from '../doctor/check.js';
import { runDoctor, type DoctorReport } from '../doctor/doctor.js';
import { requireAgentConfigPath } from './installed-config.js';

interface DoctorFlags {
  config?: string;
  json?: boolean;
  timeoutMs: string;
}

export function configureDoctor(cmd: Command): void {
  cmd
    .option('-c, --config <file>', 'agent config (YAML); default: the installed one')
    .option('--json', 'machine-readable output: {checks: [{id, status, summary, fix?, details?}], ok}')
    .option('--timeout-ms <n>', 'how long the broker gets to connect and acknowledge the test publish', '10000')
    .action(async (flags: DoctorFlags) => {
      const timeoutMs = Number(flags.timeoutMs);
      if (!/^\d+$/.test(flags.timeoutMs) || timeoutMs < 100 || timeoutMs > 600_000) throw new InputError(`--timeout-ms must be a whole number of milliseconds from 100 to 600000, not ${JSON.stringify(flags.timeoutMs)}`);
      const report = await runDoctor(requireAgentConfigPath(flags.config), { timeoutMs });
      if (flags.json) printJson(report);
      else printLine(formatReport(report));
      const failed = report.checks.filter((c) => c.status === 'fail');
      if (failed.length > 0) throw new CheckError(`${failed.length} check${failed.length === 1 ? '' : 's'} failed: ${failed.map((c) => c.id).join(', ')}`);
    });
}

const LABEL: Record<CheckResult['status'], string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

/** One line per check, the fix indented below it, then the tally. */
export function formatReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.id.length));
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`${LABEL[c.status]}  ${c.id.padEnd(width)}  ${c.summary}`);
    if (c.fix && c.status !== 'ok') lines.push(`${' '.repeat(width + 8)}fix: ${c.fix}`);
  }
  const n = (s: CheckResult['status']) => report.checks.filter((c) => c.status === s).length;
  lines.push(`${n('ok')} ok, ${n('warn')} warning${n('warn') === 1 ? '' : 's'}, ${n('fail')} failed`);
  return lines.join('\n');
}
