/**
 * `omniloop buffer stats|peek|purge`: the agent's outbox, read directly from the file — useful when the
 * agent is stopped. Without --config, the installed config.
 */
import type { Command } from 'commander';
import { InputError } from '../../shared/errors.js';
import { formatTable, printJson, printLine } from '../../shared/cli/output.js';
import { loadAgentConfig } from '../config/agent-config.js';
import { Outbox } from '../outbox/outbox.js';
import { requireAgentConfigPath } from './installed-config.js';

export function configureBuffer(buffer: Command): void {
  const outboxOf = (cfg: string | undefined) => new Outbox(loadAgentConfig(requireAgentConfigPath(cfg)).outbox.path);
  buffer
    .command('stats')
    .option('-c, --config <file>', 'agent config (YAML); default: the installed one')
    .option('--json', 'machine-readable output')
    .action((flags: { config?: string; json?: boolean }) => {
      const ob = outboxOf(flags.config);
      const s = ob.stats();
      ob.close();
      const out = { rows: s.rows, bytes: s.bytes, oldestAgeSeconds: s.oldestMs === null ? null : Math.round((Date.now() - s.oldestMs) / 1000), dropped: s.dropped, nextSeq: s.nextSeq, instance: s.instance };
      if (flags.json) return printJson(out);
      printLine(formatTable(['', 'value'], Object.entries(out).map(([k, v]) => [k, v === null ? '-' : String(v)])));
    });
  buffer
    .command('peek')
    .option('-c, --config <file>', 'agent config (YAML); default: the installed one')
    .option('-n, --rows <n>', 'how many of the oldest rows', '5')
    .action((flags: { config?: string; rows: string }) => {
      const ob = outboxOf(flags.config);
      for (const r of ob.peek(Math.max(1, Number(flags.rows) || 5))) printJson({ seq: r.seq, kind: r.kind, epoch: r.epoch, createdMs: r.createdMs, body: JSON.parse(r.body) });
      ob.close();
    });
  buffer
    .command('purge')
    .description('delete everything waiting in the outbox (counted as dropped)')
    .option('-c, --config <file>', 'agent config (YAML); default: the installed one')
    .option('--yes', 'really delete')
    .action((flags: { config?: string; yes?: boolean }) => {
      if (!flags.yes) throw new InputError('purge deletes unsent data: add --yes to confirm');
      const ob = outboxOf(flags.config);
      printLine(`purged ${ob.purge()} rows`);
      ob.close();
    });
}
