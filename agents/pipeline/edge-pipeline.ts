/**
 * capture → decode → pseudonymize: the part of the edge pipeline every consumer shares (the `decode`
 * command, the running agent's window aggregator, the benchmark). Frames in, (observation, cid) out;
 * opted-out devices are dropped here, before anything downstream can store or count them.
 */
import type { RecordSink } from '../capture/record.js';
import { decoderFor } from '../decode/frame-decoders.js';
import { FrameStatus, Source, isEphemeral, newObservation, type FrameDecoder, type Observation } from '../decode/observation.js';
import type { Pseudonymizer } from '../pseudonymize/pseudonymizer.js';
import type { StoreNetworkWatcher } from './store-networks.js';

/** Receives each observation with its Consumer-ID (null for ephemeral addresses). Reused after the call. */
export type PseudonymizedSink = (o: Observation, cid: string | null) => void;

export interface PipelineCounters {
  frames: number;
  observations: number;
  malformed: number;
  ignored: number;
  optedOut: number;
  /** Records of a link type no decoder reads (pcapng interfaces we do not understand). */
  unsupported: number;
}

export class EdgePipeline {
  readonly counters: PipelineCounters = { frames: 0, observations: 0, malformed: 0, ignored: 0, optedOut: 0, unsupported: 0 };
  private readonly scratch = newObservation();
  private lastLinktype = -1;
  private lastDecoder: FrameDecoder | undefined;

  constructor(
    private readonly pseudonymizer: Pseudonymizer,
    private readonly downstream: PseudonymizedSink,
    /** The store's networks: with it, connection frames are decoded and associated addresses get Consumer-IDs. */
    private readonly networks: StoreNetworkWatcher | null = null,
  ) {}

  /** The capture side's entry point; bound once so it can be handed around without a closure per frame. */
  readonly onRecord: RecordSink = (linktype, buf, off, caplen, origLen, tsMs) => {
    const c = this.counters;
    c.frames++;
    if (linktype !== this.lastLinktype) {
      this.lastLinktype = linktype;
      this.lastDecoder = decoderFor(linktype, this.networks !== null);
    }
    const decode = this.lastDecoder;
    if (decode === undefined) {
      c.unsupported++;
      return;
    }
    const status = decode(buf, off, caplen, origLen, tsMs, this.scratch, this.onObservation);
    if (status === FrameStatus.Malformed) c.malformed++;
    else if (status === FrameStatus.Ignored) c.ignored++;
  };

  private readonly onObservation = (o: Observation): void => {
    if (this.networks !== null && o.source === Source.Wifi && !this.networks.admit(o)) return;
    const p = this.pseudonymizer;
    if (p.isOptedOut(o.mac)) {
      this.counters.optedOut++;
      return;
    }
    this.counters.observations++;
    this.downstream(o, isEphemeral(o.addressClass) ? null : p.cidForMac(o.mac, o.tsMs));
  };
}
