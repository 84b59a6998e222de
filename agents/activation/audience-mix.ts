/**
 * The audience in a zone now, by segment (pure): what digital signage asks for to pick its playlist.
 * Only counts, k-anonymous: below k people nothing is shown but that there are too few.
 */
import type { SegmentsPush } from '../../shared/wire/control-schema.js';

/** The segments HQ last pushed for this store, by Consumer-ID of the day. */
export class SegmentBook {
  private push: SegmentsPush | null = null;

  set(push: SegmentsPush): void {
    // Retained pushes can arrive out of order after a reconnect: keep the newest.
    if (this.push && push.ts < this.push.ts) return;
    this.push = push;
  }

  get epoch(): string | null {
    return this.push?.epoch ?? null;
  }

  get updatedMs(): number | null {
    return this.push?.ts ?? null;
  }

  segmentsOf(cid: string): readonly string[] {
    return this.push?.cids[cid] ?? [];
  }
}

export interface AudienceMix {
  zone: string;
  k: number;
  /** People (devices with a Consumer-ID) present; null below k. */
  present: number | null;
  /** Present people per segment; null below k. Segments nobody present is in are absent. */
  segments: Record<string, number | null>;
  /** Present people in no segment (anonymous, or not matching any rule). */
  unsegmented: number | null;
  /** When HQ last pushed segments, so signage can tell stale data. */
  segmentsUpdatedMs: number | null;
}

export function audienceMix(zone: string, present: readonly string[], book: SegmentBook, k: number): AudienceMix {
  const hide = (n: number) => (n > 0 && n < k ? null : n);
  const counts: Record<string, number> = {};
  let unsegmented = 0;
  for (const cid of present) {
    const segs = book.segmentsOf(cid);
    if (segs.length === 0) unsegmented++;
    for (const s of segs) counts[s] = (counts[s] ?? 0) + 1;
  }
  const tooFew = present.length < k;
  return {
    zone,
    k,
    present: hide(present.length),
    segments: Object.fromEntries(Object.entries(counts).map(([s, n]) => [s, tooFew ? null : hide(n)])),
    unsegmented: tooFew ? null : hide(unsegmented),
    segmentsUpdatedMs: book.updatedMs,
  };
}
