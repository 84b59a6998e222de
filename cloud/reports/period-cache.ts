/**
 * The period reports' answers, kept while their inputs stay the same: the dashboard asks for the same
 * seven days every few seconds, and so does every HQ user who has it open. An answer is keyed by what
 * it was computed from — the generations of its days' rollups (device visits, same-day flows) and the
 * tenant's edges (edgesVersion: the profiles) — read *before* it is computed, so a change that lands
 * meanwhile can only make the entry one nobody asks for again (generations only grow). Bounded; per
 * process.
 */
import type { CloudStore } from '../store/cloud-store.js';
import type { ReportOptions } from './rollups.js';

const MAX_ENTRIES = 256;

export class PeriodCache {
  private readonly entries = new Map<string, Promise<unknown>>();

  /** The answer for `question` under the current inputs of `days`, computed by `compute` when none is kept. */
  async get<T>(store: CloudStore, tenant: string, days: readonly string[], question: string, opts: ReportOptions, compute: () => Promise<T>): Promise<T> {
    const [rollups, edges, rules] = await Promise.all([store.rollups.stamps(tenant, days), store.edgesVersion(tenant), store.graph.rulesKey()]);
    // A day changed since its rollup, and too long ago to be served as it is: computed, and not kept.
    const now = Date.now();
    if ([...rollups.values()].some((r) => r.dirty && now - r.computedMs >= opts.maxStaleMs)) return compute();
    const key = JSON.stringify([tenant, question, rules, edges, days.map((d) => rollups.get(d)?.gen ?? 0)]);
    const kept = this.entries.get(key);
    if (kept) {
      // Most recently used last: the oldest goes first when the cache is full.
      this.entries.delete(key);
      this.entries.set(key, kept);
      return kept as Promise<T>;
    }
    const answer = compute();
    this.entries.set(key, answer);
    answer.catch(() => this.entries.delete(key));
    while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    return answer;
  }
}
