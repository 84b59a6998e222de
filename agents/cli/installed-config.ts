/**
 * Which agent config a technician's command reads when `--config` is not given: `$OMNILOOP_CONFIG`, else
 * the one the installer wrote (/etc/omniloop/agent.yaml) when it exists — and the command says so, so
 * nobody wonders which file answered.
 */
import { existsSync } from 'node:fs';
import { notice } from '../../shared/cli/output.js';
import { InputError } from '../../shared/errors.js';

export const INSTALLED_CONFIG = '/etc/omniloop/agent.yaml';

/** The config to use, or undefined when there is none to fall back on. */
export function agentConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (flag) return flag;
  const fromEnv = env.OMNILOOP_CONFIG;
  if (fromEnv) {
    notice(`using ${fromEnv} (OMNILOOP_CONFIG; --config to use another)`);
    return fromEnv;
  }
  if (existsSync(INSTALLED_CONFIG)) {
    notice(`using the installed config ${INSTALLED_CONFIG} (--config to use another)`);
    return INSTALLED_CONFIG;
  }
  return undefined;
}

/** The same, for commands that cannot work without one. */
export function requireAgentConfigPath(flag: string | undefined): string {
  const path = agentConfigPath(flag);
  if (!path) throw new InputError(`no agent config: pass --config FILE (${INSTALLED_CONFIG} does not exist here)`);
  return path;
}
