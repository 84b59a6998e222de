/**
 * The config file. A file that cannot be read is bad usage (exit 2, nothing to diagnose); a file that
 * reads but does not validate is a failed check with the reason, and the checks that do not need the
 * config still run.
 */
import { readFileSync } from 'node:fs';
import { InputError, UserError } from '../../shared/errors.js';
import { loadAgentConfig, type AgentConfig } from '../config/agent-config.js';
import { errnoCode, fail, ok, type CheckResult } from './check.js';

export interface ConfigCheck {
  result: CheckResult;
  config: AgentConfig | null;
}

/** Throws InputError when the file cannot be read at all. */
export function checkConfig(path: string, env: NodeJS.ProcessEnv = process.env): ConfigCheck {
  try {
    readFileSync(path);
  } catch (err) {
    const code = errnoCode(err);
    throw new InputError(code === 'ENOENT' ? `config file ${path} does not exist` : `cannot read config file ${path} (${code})`);
  }
  try {
    const config = loadAgentConfig(path, env);
    const capture = [config.capture.wifi?.interface && `wifi ${config.capture.wifi.interface}`, config.capture.wifi?.stations && `stations of ${config.capture.wifi.stations.interface}`, config.capture.ble && `ble ${config.capture.ble.interface}`].filter(Boolean).join(', ') || 'no capture';
    return {
      config,
      result: ok('config', `${path}: tenant ${config.tenant}, store ${config.store}, agent ${config.agent}, ${config.timezone}; ${capture}`, {
        tenant: config.tenant,
        store: config.store,
        agent: config.agent,
      }),
    };
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    return { config: null, result: fail('config', err.message, `correct ${path} (the agent refuses to start with it); every setting is listed in the README`) };
  }
}
