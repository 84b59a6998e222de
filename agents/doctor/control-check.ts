/**
 * HQ's downlink is signed: without HQ's control public key the agent applies no opt-out list and no
 * segments push (they would be trusted from whoever may publish on the broker). A key that does not parse
 * is refused when the config loads; here the doctor says which keys are trusted and whether the cached
 * opt-out list still verifies with them.
 */
import type { AgentConfig } from '../config/agent-config.js';
import { readOptoutCache } from '../runtime/optout-cache.js';
import { ControlVerifier, controlKeyId, parseControlPublicKey } from '../../shared/wire/control-signing.js';
import { ok, warn, type CheckResult } from './check.js';

export function checkControlKeys(config: AgentConfig): CheckResult {
  const c = config.control;
  if (!c) {
    if (!config.broker) return ok('control', 'no broker, no downlink: control keys not needed');
    return warn('control', "no control.publicKeys: HQ's opt-out lists and segments pushes are not applied", "ask HQ for the tenant's control public key (`omniloop key public --key <tenant>-control.key`) and add it: control: { publicKeys: [\"...\"] }");
  }
  let keys;
  try {
    keys = c.publicKeys.map(parseControlPublicKey);
  } catch (err) {
    return warn('control', `a control public key does not parse: ${(err as Error).message}`, 'copy the key again from `omniloop key public` at HQ');
  }
  const keyIds = keys.map(controlKeyId);
  const cache = readOptoutCache(config.optoutCacheFile!, config.tenant, new ControlVerifier(keys));
  if (!cache.list && cache.problem) return warn('control', cache.problem, 'nothing to do if HQ publishes its list when the agent connects; otherwise check that control.publicKeys is the key HQ signs with (`omniloop key public` at HQ)', { keyIds });
  return ok('control', `applies only downlink signed by ${keyIds.length === 1 ? 'key' : 'keys'} ${keyIds.join(', ')}${cache.list ? `; cached opt-out list version ${cache.list.version} verifies` : ''}`, { keyIds, cachedOptoutVersion: cache.list?.version ?? null });
}
