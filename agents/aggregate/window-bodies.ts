/**
 * A closed window as outbox bodies (one MQTT message each): at most `batchSize` sightings AND at most
 * `maxBodyBytes` bytes per body, since HQ refuses a message over 1 MiB and a count alone says nothing
 * about bytes (a sighting is 150–300+ bytes). The ephemeral counts and the estimate ride with the first
 * body. Built on text so each sighting is serialized once; the result is what JSON.stringify of the
 * whole body object gives.
 */
import type { ClosedWindow } from './sightings.js';

export interface WindowBodies {
  bodies: string[];
  /** Sightings that alone exceed the limit (never expected: they are small), left out. */
  oversized: number;
}

export function windowBodies(w: ClosedWindow, batchSize: number, maxBodyBytes: number): WindowBodies {
  const window = JSON.stringify({ start: w.start, end: w.end, seconds: (w.end - w.start) / 1000 });
  const firstTail = `],"ephemeral":${JSON.stringify(w.ephemeral)}${w.estimate === undefined ? '' : `,"estimate":${JSON.stringify(w.estimate)}`}}`;
  const laterTail = '],"ephemeral":[]}';
  const head = `{"window":${window},"sightings":[`;
  const bodies: string[] = [];
  let oversized = 0;
  let items: string[] = [];
  let bytes = 0; // of `items` joined with commas
  const tail = () => (bodies.length === 0 ? firstTail : laterTail);
  const firstFixed = head.length + Buffer.byteLength(firstTail);
  const laterFixed = head.length + laterTail.length;
  const fixed = () => (bodies.length === 0 ? firstFixed : laterFixed);
  const close = () => {
    bodies.push(head + items.join(',') + tail());
    items = [];
    bytes = 0;
  };
  for (const s of w.sightings) {
    const text = JSON.stringify(s);
    const size = Buffer.byteLength(text);
    if (items.length > 0 && (items.length >= batchSize || fixed() + bytes + 1 + size > maxBodyBytes)) close();
    if (fixed() + size > maxBodyBytes) {
      // Not even alone: the first body (with the counts) may still close empty and let a later one try.
      if (bodies.length === 0 && laterFixed + size <= maxBodyBytes) {
        close();
      } else {
        oversized++;
        continue;
      }
    }
    bytes += (items.length ? 1 : 0) + size;
    items.push(text);
  }
  // A window without sightings is still sent (its ephemeral counts); never a trailing empty body.
  if (items.length > 0 || bodies.length === 0) close();
  return { bodies, oversized };
}
