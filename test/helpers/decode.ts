/** Runs one frame through a link type's decoder and returns copies of what it emitted. */
import { decoderFor } from '../../agents/decode/frame-decoders.js';
import { FrameStatus, newObservation, type Observation } from '../../agents/decode/observation.js';

export interface Decoded {
  status: FrameStatus;
  obs: Observation[];
}

export function decodeOne(linktype: number, frame: Uint8Array, origLen = frame.length, tsMs = 1_763_884_800_000): Decoded {
  const decode = decoderFor(linktype);
  if (!decode) throw new Error(`no decoder for ${linktype}`);
  const obs: Observation[] = [];
  // Decode from an offset inside a larger buffer, as the file reader does.
  const buf = new Uint8Array(frame.length + 7);
  buf.set(frame, 7);
  const status = decode(buf, 7, frame.length, origLen, tsMs, newObservation(), (o) => obs.push({ ...o }));
  return { status, obs };
}

export function bytesAt(o: Observation, off: number, len: number): string {
  return Buffer.from(o.buf.subarray(off, off + len)).toString('hex');
}

import { readCaptureFile } from '../../agents/capture/file-reader.js';
import { EdgePipeline } from '../../agents/pipeline/edge-pipeline.js';
import { SummaryCollector } from '../../agents/pipeline/capture-summary.js';
import { Pseudonymizer } from '../../agents/pseudonymize/pseudonymizer.js';

/** A capture file through the whole edge pipeline, keeping copies of the first `keep` observations. */
export function decodeCaptureFile(path: string, keep = Infinity) {
  const pseudo = new Pseudonymizer({ secret: new Uint8Array(32), tenant: 't', timezone: 'UTC' });
  const summary = new SummaryCollector();
  const obs: Observation[] = [];
  const pipeline = new EdgePipeline(pseudo, (o) => {
    summary.add(o);
    if (obs.length < keep) obs.push({ ...o });
  });
  const read = readCaptureFile(path, pipeline.onRecord);
  return { read, obs, counters: pipeline.counters, s: summary.result(pipeline.counters, read.linktypes) };
}
