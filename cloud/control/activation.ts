/**
 * In-store activation: every few seconds, for each store, the segments of the Consumer-IDs heard there
 * in the last minutes, pushed retained on `omniloop/v1/<tenant>/<store>/control/segments`. Only the
 * devices present are evaluated (incremental: the work follows the people in the stores, not the size of
 * the whole graph), and a store's push is only sent again when it changed.
 */
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { SEGMENTS_SCHEMA, type SegmentsPush } from '../../shared/wire/control-schema.js';
import { TOPIC_ROOT } from '../../shared/wire/topics.js';
import type { GraphRules } from '../identity/graph.js';
import { segmentsOfCids } from '../segments/evaluate.js';
import type { SegmentRule } from '../segments/rules.js';
import type { CloudStore } from '../store/cloud-store.js';
import type { ControlSigner } from '../../shared/wire/control-signing.js';

export function segmentsTopic(tenant: string, store: string): string {
  return `${TOPIC_ROOT}/${tenant}/${store}/control/segments`;
}

export interface ActivationOptions {
  presenceMs: number;
  rules: SegmentRule[];
  graphRules: GraphRules;
  /** Rebuild the identity graph for activation at most this often (new links show within this time). */
  graphReuseMs?: number;
}

/** The pushes for every store with devices present since `nowMs - presenceMs` (pure but for the store reads). */
export async function activationPushes(store: CloudStore, nowMs: number, o: ActivationOptions): Promise<SegmentsPush[]> {
  const groups = new Map<string, { tenant: string; store: string; epoch: string; cids: string[] }>();
  for (const r of await store.presentCids(nowMs - o.presenceMs)) {
    // A store-day that just rolled over can show both days' ids: the later day is the present one.
    const key = `${r.tenant}\u0000${r.store}`;
    const g = groups.get(key);
    if (!g || r.epoch > g.epoch) groups.set(key, { tenant: r.tenant, store: r.store, epoch: r.epoch, cids: [r.cid] });
    else if (r.epoch === g.epoch) g.cids.push(r.cid);
  }
  const pushes: SegmentsPush[] = [];
  for (const g of groups.values()) {
    const segs = await segmentsOfCids(store, g.tenant, g.epoch, g.cids, o.rules, o.graphRules, o.graphReuseMs ? { reuseForMs: o.graphReuseMs, nowMs } : undefined);
    const cids: Record<string, string[]> = {};
    for (const [cid, names] of segs) if (names.length) cids[cid] = names;
    pushes.push({ schema: SEGMENTS_SCHEMA, tenant: g.tenant, store: g.store, epoch: g.epoch, ts: nowMs, cids });
  }
  return pushes;
}

export class ActivationPusher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** What each store was last sent (without the time), so an unchanged mix is not sent again. */
  private readonly last = new Map<string, string>();
  /** Tenants without a control key (their agents would refuse an unsigned push): said once each. */
  private readonly unsigned = new Set<string>();
  pushes = 0;

  constructor(
    private readonly store: CloudStore,
    private readonly client: MqttClient,
    private readonly opts: ActivationOptions & { intervalMs: number },
    private readonly log: Logger,
    /** Each tenant's control signer (ControlSigners), null for a tenant without a key. */
    private readonly signers: { maybe(tenant: string): ControlSigner | null },
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  /** Finishes the round under way and closes the connection it was given. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await new Promise<void>((resolve) => this.client.end(false, {}, () => resolve()));
  }

  /** One round; rounds never overlap (a slow database skips a beat instead of piling up). */
  tick(nowMs = Date.now()): Promise<void> {
    if (this.running) return this.running;
    this.running = this.round(nowMs).finally(() => (this.running = null));
    return this.running;
  }

  private async round(nowMs: number): Promise<void> {
    try {
      for (const p of await activationPushes(this.store, nowMs, this.opts)) {
        const key = `${p.tenant}/${p.store}`;
        const body = JSON.stringify([p.epoch, p.cids]);
        if (this.last.get(key) === body) continue;
        if (!this.client.connected) return;
        const signer = this.signers.maybe(p.tenant);
        if (!signer) {
          if (!this.unsigned.has(p.tenant)) this.log.warn({ tenant: p.tenant }, 'no control key for this tenant (tenants.<tenant>.controlKeyFile): segments are not pushed, agents apply only signed control');
          this.unsigned.add(p.tenant);
          continue;
        }
        const topic = segmentsTopic(p.tenant, p.store);
        await this.client.publishAsync(topic, signer.seal(topic, JSON.stringify(p)), { qos: 1, retain: true });
        this.last.set(key, body);
        this.pushes++;
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'segment push failed; trying again next round');
    }
  }
}
