/**
 * The counts `omniloop decode --summary` prints: frames by outcome, distinct addresses by address class,
 * distinct beacon identities, and the estimated number of devices (exact for stable addresses, estimated
 * for the ephemeral ones). Pure aggregation over observations; it keeps 48-bit addresses only as numbers
 * in memory, never writes them anywhere.
 */
import { AddressTable } from '../decode/address-table.js';
import { AddressClass, Source, WifiFrame, isEphemeral, type Observation } from '../decode/observation.js';
import { ESTIMATOR_VERSION, EphemeralDeviceEstimator } from '../estimate/device-estimator.js';
import type { PipelineCounters } from './edge-pipeline.js';

export interface CaptureSummary {
  frames: number;
  linktype: number | null;
  linktypes: number[];
  malformed: number;
  ignored: number;
  optedOut: number;
  unsupported: number;
  /** The estimator behind `devices.estimated`. */
  estimator: string;
  /** `devices`: distinct addresses per class; `estimated`: distinct devices, global exact + randomized estimated. */
  /**
   * `connectedFrames`: a station's frames to a store AP (with --network); `devices.associated`: randomized
   * addresses seen connected to a store network (a Consumer-ID each, counted exactly, not estimated).
   */
  wifi: { probeRequests: number; connectedFrames: number; devices: { global: number; randomized: number; associated: number; estimated: number } };
  ble: {
    advertisements: number;
    /** `estimated`: distinct devices, public and static exact + private (rpa, nrpa) estimated. */
    devices: { public: number; static: number; rpa: number; nrpa: number; estimated: number };
    ibeacons: number;
    eddystones: number;
  };
}

export class SummaryCollector {
  private probeRequests = 0;
  private connectedFrames = 0;
  private advertisements = 0;
  /** Distinct addresses, indexed by AddressClass. */
  private readonly byClass: AddressTable[] = [];
  private readonly ibeacons = new Set<string>();
  private readonly eddystones = new Set<string>();
  /** Phones send bursts: the same address many times in a row needs one table insert, not one per frame. */
  private lastMac = -1;
  private lastClass = 0;
  /** Made at the first ephemeral address: a capture of stable addresses only never pays for its tables. */
  private estimator: EphemeralDeviceEstimator | null = null;
  private lastTs = 0;

  constructor() {
    for (const cls of Object.values(AddressClass)) this.byClass[cls] = new AddressTable();
  }

  add(o: Observation): void {
    // An address the estimator already holds was counted when it was new to it: no table lookup for it
    // (85 % of a store's frames are randomized, most from an address heard a moment ago).
    const fresh = isEphemeral(o.addressClass) ? (this.estimator ??= new EphemeralDeviceEstimator()).add(o) : true;
    if (o.tsMs > this.lastTs) this.lastTs = o.tsMs;
    if (o.source === Source.Ble) this.advertisements++;
    else if (o.frame === WifiFrame.ProbeRequest) this.probeRequests++;
    else this.connectedFrames++;
    if (fresh && (o.mac !== this.lastMac || o.addressClass !== this.lastClass)) {
      this.byClass[o.addressClass]!.add(o.mac);
      this.lastMac = o.mac;
      this.lastClass = o.addressClass;
    }
    if (o.ibeaconUuidOff >= 0) this.ibeacons.add(beaconKey(o.buf, o.ibeaconUuidOff, 16) + ':' + o.ibeaconMajor + ':' + o.ibeaconMinor);
    if (o.eddystoneNsOff >= 0) this.eddystones.add(beaconKey(o.buf, o.eddystoneNsOff, 16));
  }

  result(counters: PipelineCounters, linktypes: readonly number[]): CaptureSummary {
    const n = (cls: AddressClass): number => this.byClass[cls]!.size;
    // The whole capture is one window: closed well after its last frame, so every address is counted.
    this.estimator?.closeWindow(this.lastTs + 3_600_000);
    const est = this.estimator?.totals() ?? { wifi: 0, ble: 0 };
    return {
      frames: counters.frames,
      linktype: linktypes[0] ?? null,
      linktypes: [...linktypes],
      malformed: counters.malformed,
      ignored: counters.ignored,
      optedOut: counters.optedOut,
      unsupported: counters.unsupported,
      estimator: ESTIMATOR_VERSION,
      wifi: {
        probeRequests: this.probeRequests,
        connectedFrames: this.connectedFrames,
        devices: {
          global: n(AddressClass.WifiGlobal),
          randomized: n(AddressClass.WifiRandomized),
          associated: n(AddressClass.WifiAssociated),
          estimated: n(AddressClass.WifiGlobal) + n(AddressClass.WifiAssociated) + Math.round(est.wifi),
        },
      },
      ble: {
        advertisements: this.advertisements,
        devices: {
          public: n(AddressClass.BlePublic),
          static: n(AddressClass.BleStatic),
          rpa: n(AddressClass.BleRpa),
          nrpa: n(AddressClass.BleNrpa),
          estimated: n(AddressClass.BlePublic) + n(AddressClass.BleStatic) + Math.round(est.ble),
        },
        ibeacons: this.ibeacons.size,
        eddystones: this.eddystones.size,
      },
    };
  }
}

function beaconKey(buf: Uint8Array, off: number, len: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + off, len).toString('hex');
}
