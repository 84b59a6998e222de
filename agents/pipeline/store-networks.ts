/**
 * The store's own WiFi networks, watched from monitor mode: which access points are the store's (BSSIDs
 * listed in the config, or learnt from beacons and probe responses that announce a store SSID), and which
 * randomized addresses are connected to them. A phone associated with a network uses a per-network
 * address (Android 10+: persistent per SSID; iOS 14+: private per network), stable for that network and,
 * with one guest SSID across the chain, the same in every store: such an address is `associated`, gets a
 * Consumer-ID like a global one, and its probe requests do too while the association is recent. The same
 * address only probing elsewhere stays ephemeral. Pure: observations in, verdicts out; memory bounded.
 */
import { InputError } from '../../shared/errors.js';
import { parseMac } from '../../shared/identity/mac.js';
import { AddressClass, WifiFrame, type Observation } from '../decode/observation.js';

export interface StoreNetwork {
  ssid: string;
  /** aa:bb:cc:dd:ee:ff of the store's access points for this SSID; more are learnt from their beacons. */
  bssids?: string[];
}

export interface StoreNetworkOptions {
  /** An address seen associated stays `associated` this long after its last frame to a store AP (default 4 h). */
  holdMs?: number;
  /** BSSIDs learnt from beacons at most (default 256): spoofed beacons cannot grow the table without end. */
  maxBssids?: number;
  /** Associated addresses held at most (default 100 000); the stalest go first. */
  maxStations?: number;
}

export interface StoreNetworkCounts {
  bssids: number;
  /** Addresses whose association is recent (at the time of the last frame). */
  stations: number;
}

const HOUR = 3_600_000;

export class StoreNetworkWatcher {
  private readonly ssids: Uint8Array[];
  private readonly bssids = new Set<number>();
  private readonly listed = new Set<number>();
  /** Associated address → time of its last frame to a store AP. Map order is refreshed on every frame. */
  private readonly stations = new Map<number, number>();
  private readonly holdMs: number;
  private readonly maxBssids: number;
  private readonly maxStations: number;
  private now = -Infinity;

  constructor(networks: readonly StoreNetwork[], opts: StoreNetworkOptions = {}) {
    const enc = new TextEncoder();
    this.ssids = networks.map((n) => {
      const b = enc.encode(n.ssid);
      if (b.length === 0 || b.length > 32) throw new InputError('a store network SSID is 1 to 32 bytes');
      return b;
    });
    for (const n of networks) for (const text of n.bssids ?? []) this.listed.add(parseMac(text));
    for (const b of this.listed) this.bssids.add(b);
    this.holdMs = opts.holdMs ?? 4 * HOUR;
    this.maxBssids = opts.maxBssids ?? 256;
    this.maxStations = opts.maxStations ?? 100_000;
  }

  /**
   * Judges one WiFi observation: learns store BSSIDs from announcements, marks stations talking to a store
   * AP as associated (a randomized address becomes AddressClass.WifiAssociated, in place), reclassifies the
   * probe requests of recently associated addresses. Returns whether the observation goes downstream:
   * probe requests always, a station's frames only when they go to a store AP, announcements never.
   */
  admit(o: Observation): boolean {
    if (o.tsMs > this.now) this.now = o.tsMs;
    if (o.frame === WifiFrame.ApAnnounce) {
      if (this.bssids.size < this.listed.size + this.maxBssids && this.isStoreSsid(o)) this.bssids.add(o.mac);
      return false;
    }
    const randomized = o.addressClass === AddressClass.WifiRandomized;
    if (o.frame === WifiFrame.ToAp) {
      if (!this.bssids.has(o.bssid)) return false;
      if (randomized) this.markAssociated(o);
      return true;
    }
    if (!randomized) return true;
    // A probe request addressed to a store AP for a store SSID: the phone knows the network, under the
    // address it uses for it.
    if (o.bssid >= 0 && this.bssids.has(o.bssid) && this.isStoreSsid(o)) this.markAssociated(o);
    else if (this.isAssociated(o.mac, o.tsMs)) o.addressClass = AddressClass.WifiAssociated;
    return true;
  }

  /** A store system (the captive portal) says mac is connected: its frames are associated from now on. */
  noteConnected(mac: number, tsMs: number): void {
    this.touch(mac, tsMs);
  }

  /** Whether mac was seen associated with a store network within the hold time before tsMs. */
  isAssociated(mac: number, tsMs: number): boolean {
    const last = this.stations.get(mac);
    return last !== undefined && tsMs - last <= this.holdMs;
  }

  counts(): StoreNetworkCounts {
    let stations = 0;
    for (const last of this.stations.values()) if (this.now - last <= this.holdMs) stations++;
    return { bssids: this.bssids.size, stations };
  }

  private markAssociated(o: Observation): void {
    o.addressClass = AddressClass.WifiAssociated;
    this.touch(o.mac, o.tsMs);
  }

  private touch(mac: number, tsMs: number): void {
    const m = this.stations;
    // Re-inserted so the Map's order is by last frame: the stalest are dropped first.
    m.delete(mac);
    m.set(mac, tsMs);
    if (m.size > this.maxStations) {
      for (const k of m.keys()) {
        m.delete(k);
        if (m.size <= this.maxStations) break;
      }
    }
  }

  private isStoreSsid(o: Observation): boolean {
    if (o.ssidOff < 0) return false;
    for (const s of this.ssids) {
      if (s.length !== o.ssidLen) continue;
      let same = true;
      for (let i = 0; i < s.length && same; i++) same = o.buf[o.ssidOff + i] === s[i];
      if (same) return true;
    }
    return false;
  }
}
