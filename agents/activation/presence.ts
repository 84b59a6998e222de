/**
 * Who is in the store now, by Consumer-ID (pure, in memory only): the last time and signal each id was
 * heard. "Now" is the newest frame's time, so a replayed capture behaves like a live radio. Entries
 * older than the window are pruned as time moves on, which bounds memory by the devices of one window.
 */
export interface Present {
  cid: string;
  lastMs: number;
  rssi: number | null;
}

export class Presence {
  private readonly seen = new Map<string, Present>();
  private latestMs = 0;
  private prunedAt = 0;

  constructor(private readonly windowMs: number) {}

  note(cid: string, tsMs: number, rssi: number | null): void {
    if (tsMs > this.latestMs) this.latestMs = tsMs;
    const e = this.seen.get(cid);
    if (e === undefined) this.seen.set(cid, { cid, lastMs: tsMs, rssi });
    else if (tsMs >= e.lastMs) {
      // The last frame's signal, but never forget a stronger one of the same second (frames burst).
      e.rssi = rssi !== null && e.rssi !== null && tsMs - e.lastMs < 1000 ? Math.max(e.rssi, rssi) : rssi;
      e.lastMs = tsMs;
    }
    if (this.latestMs - this.prunedAt > this.windowMs) this.prune();
  }

  get nowMs(): number {
    return this.latestMs;
  }

  /** Ids heard within the window before now, at least as strong as `minRssi` (a zone near the agent). */
  present(minRssi = -Infinity): string[] {
    const since = this.latestMs - this.windowMs;
    const out: string[] = [];
    for (const e of this.seen.values()) if (e.lastMs >= since && (minRssi === -Infinity || (e.rssi !== null && e.rssi >= minRssi))) out.push(e.cid);
    return out;
  }

  get size(): number {
    return this.seen.size;
  }

  private prune(): void {
    this.prunedAt = this.latestMs;
    const since = this.latestMs - this.windowMs;
    for (const [cid, e] of this.seen) if (e.lastMs < since) this.seen.delete(cid);
  }
}
