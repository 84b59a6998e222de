/**
 * An agent as HQ sees it (pure): online from its retained status (the broker publishes its last will,
 * "offline", when it drops off), but a status that has not been refreshed by metrics for a while is
 * stale — a broker restart can lose the will — so such an agent does not count as online.
 */
import type { AgentRow } from '../store/cloud-store.js';

/** Agents send metrics every minute: three missed in a row and HQ stops trusting "online". */
export const STALE_AFTER_MS = 3 * 60_000;

export interface AgentHealth extends AgentRow {
  online: boolean;
  stale: boolean;
  /** Batches waiting in the agent's outbox, as it last reported. */
  bufferRows: number | null;
  oldestUnsentSeconds: number | null;
  timezone: string | null;
}

export function agentHealth(a: AgentRow, nowMs: number): AgentHealth {
  const outbox = (a.status.outbox ?? {}) as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const stale = nowMs - a.lastSeenMs > STALE_AFTER_MS;
  return {
    ...a,
    online: a.state === 'online' && !stale,
    stale,
    bufferRows: num(outbox.rows),
    oldestUnsentSeconds: num(outbox.oldestAgeSeconds),
    timezone: typeof a.status.timezone === 'string' ? a.status.timezone : null,
  };
}
