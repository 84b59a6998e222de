/**
 * Many messages in, an outcome for each: the same validation as one message (planMessage), but every
 * batch of the group stored in one transaction (group commit). The result of each message says whether
 * it may be acknowledged: only once the transaction holding it has committed, and never when the
 * database failed (then it must come again).
 */
import type { CloudStore, GroupOutcome } from '../store/cloud-store.js';
import { carryOut, guarded, planMessage, recorded, refusedReason, storable, type IngestResult, type Plan } from './ingest.js';

export interface InboundMessage {
  topic: string;
  payload: Buffer;
  receivedMs?: number;
}

export type Settled = { ok: true; result: IngestResult } | { ok: false; error: Error };

export async function ingestMessages(store: CloudStore, msgs: readonly InboundMessage[]): Promise<Settled[]> {
  const now = Date.now();
  const planned = msgs.map((m) => {
    const text = m.payload.toString('utf8');
    return { m, text, ms: m.receivedMs ?? now, plan: planMessage(m.topic, m.payload, text) };
  });
  const out: Settled[] = new Array(msgs.length);
  const settle = async (i: number, work: () => Promise<IngestResult>) => {
    try {
      out[i] = { ok: true, result: await work() };
    } catch (err) {
      out[i] = { ok: false, error: err as Error };
    }
  };
  const group = planned.flatMap((p, i) => (p.plan.do === 'store' ? [i] : []));
  if (group.length) {
    let outcomes: GroupOutcome[] | null = null;
    try {
      outcomes = await store.ingestGroup(group.map((i) => ({ ...(planned[i]!.plan as Extract<Plan, { do: 'store' }>).request, receivedMs: planned[i]!.ms })));
    } catch (err) {
      for (const i of group) out[i] = { ok: false, error: err as Error };
    }
    if (outcomes) {
      for (const [k, i] of group.entries()) {
        const { m, text, ms, plan } = planned[i]!;
        const o = outcomes[k]!;
        const batchId = (plan as Extract<Plan, { do: 'store' }>).request.batch.batchId;
        await settle(i, async () => {
          if (typeof o !== 'object') return recorded(store, o, batchId, m.topic, storable(text), ms);
          await store.deadLetter(m.topic, refusedReason(o.refused), storable(text), ms);
          return 'dead';
        });
      }
    }
  }
  // The rest one at a time, as a single message: a dead letter, an agent's status, or nothing to do.
  for (const [i, p] of planned.entries()) {
    if (p.plan.do !== 'store') await settle(i, () => guarded(store, p.m.topic, p.text, p.ms, () => carryOut(store, p.plan, p.m.topic, p.text, p.ms)));
  }
  return out;
}
