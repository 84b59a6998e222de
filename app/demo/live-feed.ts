/**
 * A capture played back as if a radio were hearing it now: every record is handed to the agent when its
 * time comes (checked a few times a second), and the agent's windows close by the wall clock, as in
 * `agent run`. A file replay paces by chunks, which is too coarse for a few frames a second.
 */
import { readCaptureFile } from '../../agents/capture/file-reader.js';
import type { Agent } from '../../agents/runtime/agent.js';

interface Rec {
  linktype: number;
  frame: Uint8Array;
  origLen: number;
  tsMs: number;
}

export async function playLive(agent: Agent, file: string, signal: AbortSignal, tickMs = 200): Promise<number> {
  const recs: Rec[] = [];
  // Live periods are minutes of traffic: small enough to hold, and the copy frees the read buffer.
  readCaptureFile(file, (linktype, buf, off, caplen, origLen, tsMs) => recs.push({ linktype, frame: buf.slice(off, off + caplen), origLen, tsMs }));
  let i = 0;
  while (i < recs.length && !signal.aborted) {
    const now = Date.now();
    for (; i < recs.length && recs[i]!.tsMs <= now; i++) {
      const r = recs[i]!;
      agent.pipeline.onRecord(r.linktype, r.frame, 0, r.frame.length, r.origLen, r.tsMs);
    }
    agent.flushWindows(now);
    if (i < recs.length) await sleep(Math.min(tickMs, Math.max(0, recs[i]!.tsMs - now)), signal);
  }
  return i;
}

/** Waits, or less when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
