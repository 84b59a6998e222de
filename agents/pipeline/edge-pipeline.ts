/**
 * capture → decode → pseudonymize: the part of the edge pipeline every consumer shares (the `decode`
 * command, the running agent's window aggregator, the benchmark). Frames in, (observation, cid) out;
 * opted-out devices are dropped here, before anything downstream can store or count them.
 */
import type { RecordSink } from '../capture/record.js';
import { decoderFor } from '../decode/frame-decoders.js';
import { AddressClass, FrameStatus, Source, WifiFrame, isEphemeral, macFirstOctet, newObservation, resetObservation, type FrameDecoder, type Observation } from '../decode/observation.js';
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
  /** Stations reported by the access point itself (not frames). */
  stations: number;
}

export class EdgePipeline {
  readonly counters: PipelineCounters = { frames: 0, observations: 0, malformed: 0, ignored: 0, optedOut: 0, unsupported: 0, stations: 0 };
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
    this.deliver(o);
  };

  private readonly station = newObservation();

  /**
   * A station the access point itself reports connected (capture.wifi.stations: its station list or
   * hostapd's events), as an observation of its own: connected to the store's network by definition, so a
   * randomized (per-network) address is associated.
   */
  readonly onStation = (mac: number, rssi: number, tsMs: number): void => {
    const o = this.station;
    resetObservation(o, o.buf);
    o.source = Source.Wifi;
    o.frame = WifiFrame.ToAp;
    o.tsMs = tsMs;
    o.mac = mac;
    o.rssi = rssi;
    o.addressClass = macFirstOctet(mac) & 0x02 ? AddressClass.WifiAssociated : AddressClass.WifiGlobal;
    this.counters.stations++;
    if (o.addressClass === AddressClass.WifiAssociated) this.networks?.noteConnected(mac, tsMs);
    this.deliver(o);
  };

  private deliver(o: Observation): void {
    const p = this.pseudonymizer;
    if (p.isOptedOut(o.mac)) {
      this.counters.optedOut++;
      return;
    }
    this.counters.observations++;
    this.downstream(o, isEphemeral(o.addressClass) ? null : p.cidForMac(o.mac, o.tsMs));
  }
}
