/** `omniloop status`: a running agent's state, from its local status endpoint. */
import type { Command } from 'commander';
import { CheckError, InputError } from '../../shared/errors.js';
import { formatTable, printJson, printLine } from '../../shared/cli/output.js';
import { agentConfigPath } from './installed-config.js';

export function configureStatus(cmd: Command): void {
  cmd
    .option('-c, --config <file>', 'agent config (YAML), for its status.port; default: the installed one')
    .option('--port <port>', 'status port (default 8787)')
    .option('--json', 'machine-readable output')
    .action(async (flags: { config?: string; port?: string; json?: boolean }) => {
      const config = flags.port ? undefined : agentConfigPath(flags.config);
      // The config module (and its schema library) loads only when a config is read.
      const port = flags.port ? Number(flags.port) : config ? (await import('../config/agent-config.js')).loadAgentConfig(config).status.port : 8787;
      if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new InputError(`--port must be a TCP port, not ${JSON.stringify(flags.port)}`);
      let body: Record<string, unknown>;
      try {
        const res = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(3000) });
        body = (await res.json()) as Record<string, unknown>;
      } catch (err) {
        throw new CheckError(`no agent answers on 127.0.0.1:${port} (${(err as Error).message}): is it running? (systemctl status omniloop-agent)`);
      }
      if (flags.json) return printJson(body);
      const flat = Object.entries(body).flatMap(([k, v]) => (v && typeof v === 'object' ? Object.entries(v).map(([k2, v2]) => [`${k}.${k2}`, String(v2)]) : [[k, String(v)]]));
      printLine(formatTable(['', 'value'], flat));
    });
}
