/**
 * How many physical devices sent the frames of ephemeral addresses (randomized WiFi, BLE resolvable and
 * non-resolvable private addresses), from what survives randomization. Pure and synchronous: the caller
 * feeds every observation in time order and closes windows; out come counts only.
 *
 * Method (ESTIMATOR_VERSION):
 * 1. Track: per address, its first/last time, sequence numbers, peak signal and signature hashes
 *    (signature.ts), computed once at the address's first frame.
 * 2. Settle: SETTLE ms after an address's first frame (one scan burst or a few advertising intervals),
 *    its track is linked to a device chain, or starts a new one, by the cheapest admissible link:
 *    - WiFi sequence continuity: the track's first sequence number follows the chain's last one by
 *      1..seqStep (phones that keep their counter across addresses), same coarse signature;
 *    - WiFi same burst: the chain of the same coarse signature was active within burstGap of the
 *      track's start (iOS uses a new address per channel in one burst), at any signal (one phone near a
 *      radio spans 50 dB within a burst), the closest signal preferred;
 *    - WiFi silence: the chain of the same coarse signature fell silent before the track began and for
 *      no longer than tailGap, signal within rssiTolDb of the range the chain was heard at on that
 *      channel (the range follows the device and spans at most rssiSpanDb);
 *    - WiFi leakage (v3): a track heard only far below every chain's level (a radio hears a phone's
 *      probes on neighbouring channels 30-50 dB weaker) whose burst goes on, within burstGap on the
 *      same channel, with an address that does link within tolerance, joins that address's chain;
 *    - BLE hand-over: the chain of the same payload shape stopped before the track began, at most
 *      bleHandoverMs earlier (rotation: one address stops, the next starts), signal within rssiTolDb;
 *      a chain whose address is still advertising cannot be handed over.
 *    Costs prefer sequence continuity, then the same fine signature, then the closest signal.
 * 3. Count: each chain heard in at least MIN_FRAMES frames (v3: a lone frame is no evidence of a
 *    person) is one device, arriving in the window where it started and present in every
 *    window where it was heard (WiFi: or silent for less than presentHoldMs). Chains expire after
 *    tailGap (WiFi) / bleHandoverMs (BLE) of silence; a device that stays is one arrival. Addresses are
 *    kept until the table is full: an address heard again after its chain expired (or was dropped) is a
 *    returning device, an arrival in its window but not a new distinct device in totals().
 *    Identical phones at similar signal fall into one chain; a WiFi chain that bursts faster than one
 *    phone does (burstsPerMinute, judged over at least rateSpanMs) counts as bursts / expected bursts
 *    devices (fractional). Signal is compared per channel (a phone is heard 10-15 dB apart on 1/6/11).
 *
 * Memory: typed arrays sized by maxTracks and maxChains, an open-addressing table from address to track
 * slot (oldest-first eviction when full), a Map from signature hash to its chain list, and a list of live
 * chains (closeWindow walks it, not every slot). Nothing grows with the length of the capture.
 */
import { AddressClass, Source, type Observation } from '../decode/observation.js';
import { addressBucket } from '../decode/address-table.js';
import { bleSignature, wifiSignatures, type WifiSignatures } from './signature.js';

export const ESTIMATOR_VERSION = 'ephemeral-v3';

export interface WindowEstimate {
  wifi: { present: number; arrivals: number };
  ble: { present: number; arrivals: number };
}

export interface EstimatorOptions {
  /** Addresses held at once (default 32768: a busy store uses a few thousand in the minutes that matter); the oldest is dropped beyond. */
  maxTracks?: number;
  /** Device chains held at once (default 8192); the oldest is dropped beyond. */
  maxChains?: number;
  /** A scan burst ends after this much silence (default 1000 ms). */
  burstGapMs?: number;
  /** A new address is linked this long after its first frame (default 3000 ms). */
  settleMs?: number;
  /** A WiFi device silent this long has left (default 300 000 ms: idle phones scan every few minutes). */
  tailGapMs?: number;
  /** A silent WiFi device still counts as present this long (default 120 000 ms). */
  presentHoldMs?: number;
  /**
   * Largest signal difference of one device between its addresses on one channel (default 16 dB: the
   * labelled phones swing by 10-20 dB between bursts, from shadowing and probes on neighbouring channels).
   */
  rssiTolDb?: number;
  /** Largest sequence-number step across an address change (default 64). */
  seqStep?: number;
  /** Largest silence between a BLE address's last frame and its successor's first (default 10 240 ms, the longest advertising interval). */
  bleHandoverMs?: number;
  /** Chains of one signature examined per link decision, most recent first (default 64). */
  maxCandidates?: number;
  /**
   * Sustained scan bursts per minute of one phone (default 1.5): a WiFi chain heard bursting faster, over at
   * least rateSpanMs, stands for that many identical phones that signal could not tell apart.
   */
  burstsPerMinute?: number;
  /** Shortest span over which a chain's burst rate is judged (default 300 000 ms). */
  rateSpanMs?: number;
  /**
   * Sub-bursts closer than this are one scan when burst rates are judged (default burstGapMs; a longer gap,
   * e.g. 5000 ms, merges a scan's repeated channel sweeps but undercounts crowds of one model).
   */
  scanGapMs?: number;
  /** Widest range of one device's signal on one channel that a chain learns (default 24 dB). */
  rssiSpanDb?: number;
}

const WIFI = 0;
const BLE = 1;
/** Signal is kept per channel: 2.4 GHz 1 / 6 / 11 (BLE 37 / 38 / 39), anything else. */
const SLOTS = 4;
const HOUSEKEEP_MS = 100;
/** The sweep over silent chains runs less often: it is the costly part, and nothing waits on it. */
const SWEEP_MS = 1000;
/** Expired addresses and chains examined per housekeeping pass. */
const HOUSEKEEP_STEPS = 64;
/** Live chains moved to the back of the ring per housekeeping pass. */
const HOUSEKEEP_SPARE = 4;
/**
 * Frames a chain needs to count as a device: one lone frame (another chip's probe leaking into a burst,
 * a phone at the edge of range) is no evidence of a person in the store; every phone present sends
 * bursts of several.
 */
const MIN_FRAMES = 2;
/** Later addresses of one burst examined for a leaked track's host chain, and settle-queue entries looked at (a flood must not make it quadratic). */
const LEAK_MATES = 8;
const LEAK_SCAN = 64;

/** How far peak lies outside the range [lo[i], hi[i]] (0 inside; unset ranges are never compared). */
function rangeDistance(lo: Float32Array, hi: Float32Array, i: number, peak: number): number {
  const l = lo[i]!;
  if (l !== l) return Infinity;
  const h = hi[i]!;
  return peak < l ? l - peak : peak > h ? peak - h : 0;
}

/** Widens [lo[i], hi[i]] to peak; the range follows the device (drift) but spans at most span dB. */
function foldRange(lo: Float32Array, hi: Float32Array, i: number, peak: number, span: number): void {
  if (!(peak >= lo[i]!)) {
    lo[i] = peak;
    if (!(hi[i]! - peak <= span)) hi[i] = peak + (hi[i]! === hi[i]! ? span : 0);
  }
  if (!(peak <= hi[i]!)) {
    hi[i] = peak;
    if (peak - lo[i]! > span) lo[i] = peak - span;
  }
}

function channelSlot(ch: number): number {
  return ch === 1 || ch === 37 ? 0 : ch === 6 || ch === 38 ? 1 : ch === 11 || ch === 39 ? 2 : 3;
}

export class EphemeralDeviceEstimator {
  private readonly maxTracks: number;
  private readonly maxChains: number;
  private readonly burstGap: number;
  private readonly settle: number;
  private readonly tailGap: number;
  private readonly hold: number;
  private readonly rssiTol: number;
  private readonly seqStep: number;
  private readonly bleHandover: number;
  private readonly maxCandidates: number;
  private readonly burstsPerMs: number;
  private readonly rateSpan: number;
  private readonly scanGap: number;
  private readonly rssiSpan: number;

  // ---- tracks (one per address) ----
  /**
   * Address → track slot: open addressing with linear probing over (high 24 bits | kind, low 24 bits),
   * int32 keys (a Map keyed by 48-bit doubles costs several times more per lookup).
   */
  private readonly hKeyHi: Int32Array;
  private readonly hKeyLo: Int32Array;
  /** Track slot + 1; 0: empty. */
  private readonly hVal: Int32Array;
  private readonly hMask: number;
  private readonly tMac: Float64Array;
  private readonly tFirst: Float64Array;
  private readonly tLast: Float64Array;
  private readonly tPeak: Float32Array;
  /** Channel slot (channelSlot) of the peak frame. */
  private readonly tPeakCh: Uint8Array;
  private readonly tFirstSeq: Int16Array;
  private readonly tLastSeq: Int16Array;
  private readonly tFine: Uint32Array;
  private readonly tCoarse: Uint32Array;
  private readonly tKind: Uint8Array;
  /** 1: the address already belonged to a counted device (its chain was dropped since). */
  private readonly tKnown: Uint8Array;
  /** Frames heard from the address before it settled. */
  private readonly tFrames: Uint16Array;
  /** Chain slot + 1 once settled (0: not yet), and that chain's generation. */
  private readonly tChain: Int32Array;
  private readonly tChainGen: Uint32Array;
  private readonly tGen: Uint32Array;
  private readonly tUsed: Uint8Array;
  private readonly tFree: Int32Array;
  private tFreeN = 0;
  /** Creation order ring (slot, generation), for expiry and eviction. */
  private readonly tRing: Int32Array;
  private readonly tRingGen: Uint32Array;
  private tRingHead = 0;
  private tRingLen = 0;
  /** Settle queue (slot, generation), in order of first frame. */
  private readonly sQ: Int32Array;
  private readonly sQGen: Uint32Array;
  private sQHead = 0;
  private sQLen = 0;

  // ---- chains (one per device hypothesis) ----
  private readonly cFirst: Float64Array;
  private readonly cLast: Float64Array;
  /** Signal per channel slot (SLOTS per chain): a phone is heard louder on some channels than others. */
  private readonly cRssi: Float32Array;
  private readonly cLastSeq: Int16Array;
  private readonly cFine: Uint32Array;
  private readonly cCoarse: Uint32Array;
  private readonly cKind: Uint8Array;
  /** Devices of this chain already counted as arrivals (0: none yet). */
  private readonly cCounted: Float32Array;
  /** Scans heard from the chain (sub-bursts closer than scanGap are one). */
  private readonly cBursts: Uint32Array;
  /** Frames heard from the chain (a chain of one frame is not counted: see MIN_FRAMES). */
  private readonly cFrames: Uint32Array;
  /** Devices of this chain counted before it was created (1: it continues a known address). */
  private readonly cKnown: Uint8Array;
  /**
   * Per channel slot, the lowest and highest peak of the addresses linked: how far one device's signal
   * swings (a phone near a radio spans 50 dB within one burst, one across a room a few dB).
   */
  private readonly cRssiLo: Float32Array;
  private readonly cRssiHi: Float32Array;
  /** Doubly linked list of chains in use (closeWindow walks it, not every slot). */
  private readonly aNext: Int32Array;
  private readonly aPrev: Int32Array;
  private aHead = -1;
  private readonly cUsed: Uint8Array;
  private readonly cGen: Uint32Array;
  private readonly cNext: Int32Array;
  private readonly cPrev: Int32Array;
  private readonly cFree: Int32Array;
  private cFreeN = 0;
  private readonly cRing: Int32Array;
  private readonly cRingGen: Uint32Array;
  private cRingHead = 0;
  private cRingLen = 0;
  /** Head of each group's chain list (key: signature hash ^ kind), most recently linked first. */
  private readonly groupHead = new Map<number, number>();

  private readonly sigScratch: WifiSignatures = { fine: 0, coarse: 0 };
  private lastMac = -1;
  private lastKind = -1;
  private lastSlot = -1;
  private now = -Infinity;
  /** Housekeeping runs every HOUSEKEEP_MS of capture time, not every frame. */
  private nextHousekeep = -Infinity;
  private nextSweep = -Infinity;
  private windowStart = NaN;
  /** Distinct devices over closed windows: arrivals less the returns of known addresses. */
  private readonly totalDistinct = [0, 0];
  /** Distinct devices counted since the last window closed (chains dropped at the cap included). */
  private readonly pendingDistinct = [0, 0];


  constructor(opts: EstimatorOptions = {}) {
    this.maxTracks = Math.max(16, opts.maxTracks ?? 32768);
    this.maxChains = Math.max(16, opts.maxChains ?? 8192);
    this.burstGap = opts.burstGapMs ?? 1000;
    this.settle = opts.settleMs ?? 3000;
    this.tailGap = opts.tailGapMs ?? 300_000;
    this.hold = opts.presentHoldMs ?? 120_000;
    this.rssiTol = opts.rssiTolDb ?? 16;
    this.seqStep = opts.seqStep ?? 64;
    this.bleHandover = opts.bleHandoverMs ?? 10_240;
    this.maxCandidates = opts.maxCandidates ?? 64;
    this.burstsPerMs = (opts.burstsPerMinute ?? 1.5) / 60_000;
    this.rateSpan = opts.rateSpanMs ?? 300_000;
    this.scanGap = opts.scanGapMs ?? this.burstGap;
    this.rssiSpan = opts.rssiSpanDb ?? 16;
    const T = this.maxTracks;
    let cap = 16;
    while (cap < 2 * T) cap *= 2;
    this.hKeyHi = new Int32Array(cap);
    this.hKeyLo = new Int32Array(cap);
    this.hVal = new Int32Array(cap);
    this.hMask = cap - 1;
    this.tMac = new Float64Array(T);
    this.tFirst = new Float64Array(T);
    this.tLast = new Float64Array(T);
    this.tPeak = new Float32Array(T);
    this.tPeakCh = new Uint8Array(T);
    this.tFirstSeq = new Int16Array(T);
    this.tLastSeq = new Int16Array(T);
    this.tFine = new Uint32Array(T);
    this.tCoarse = new Uint32Array(T);
    this.tKind = new Uint8Array(T);
    this.tKnown = new Uint8Array(T);
    this.tFrames = new Uint16Array(T);
    this.tChain = new Int32Array(T);
    this.tChainGen = new Uint32Array(T);
    this.tGen = new Uint32Array(T);
    this.tUsed = new Uint8Array(T);
    this.tFree = new Int32Array(T);
    for (let i = 0; i < T; i++) this.tFree[i] = T - 1 - i;
    this.tFreeN = T;
    this.tRing = new Int32Array(T);
    this.tRingGen = new Uint32Array(T);
    this.sQ = new Int32Array(T);
    this.sQGen = new Uint32Array(T);
    const C = this.maxChains;
    this.cFirst = new Float64Array(C);
    this.cLast = new Float64Array(C);
    this.cRssi = new Float32Array(C * SLOTS);
    this.cLastSeq = new Int16Array(C);
    this.cFine = new Uint32Array(C);
    this.cCoarse = new Uint32Array(C);
    this.cKind = new Uint8Array(C);
    this.cCounted = new Float32Array(C);
    this.cBursts = new Uint32Array(C);
    this.cFrames = new Uint32Array(C);
    this.cKnown = new Uint8Array(C);
    this.cRssiLo = new Float32Array(C * SLOTS);
    this.cRssiHi = new Float32Array(C * SLOTS);
    this.aNext = new Int32Array(C);
    this.aPrev = new Int32Array(C);
    this.cUsed = new Uint8Array(C);
    this.cGen = new Uint32Array(C);
    this.cNext = new Int32Array(C);
    this.cPrev = new Int32Array(C);
    this.cFree = new Int32Array(C);
    for (let i = 0; i < C; i++) this.cFree[i] = C - 1 - i;
    this.cFreeN = C;
    this.cRing = new Int32Array(C);
    this.cRingGen = new Uint32Array(C);
  }

  /** Addresses and device chains currently held (for tests and diagnostics: bounded by the caps). */
  size(): { tracks: number; chains: number; groups: number } {
    return { tracks: this.maxTracks - this.tFreeN, chains: this.maxChains - this.cFreeN, groups: this.groupHead.size };
  }

  /**
   * One frame. True when its address was not in the estimator's table (or is of a class it does not
   * track): a caller counting distinct addresses need only look up those (the summary does), since every
   * address in the table was new to it once.
   */
  add(o: Observation): boolean {
    const cls = o.addressClass;
    let kind: number;
    if (cls === AddressClass.WifiRandomized && o.source === Source.Wifi) kind = WIFI;
    else if ((cls === AddressClass.BleRpa || cls === AddressClass.BleNrpa) && o.source === Source.Ble) kind = BLE;
    else return true;
    const t = o.tsMs;
    if (t > this.now) this.now = t;
    if (this.windowStart !== this.windowStart) this.windowStart = t;
    const mac = o.mac;
    let s: number;
    let fresh = false;
    if (mac === this.lastMac && kind === this.lastKind) s = this.lastSlot;
    else {
      s = this.lookup(mac, kind);
      if (s < 0) {
        s = this.newTrack(o, kind);
        fresh = true;
      }
      this.lastMac = mac;
      this.lastKind = kind;
      this.lastSlot = s;
    }
    this.onFrame(s, o);
    if (this.now >= this.nextHousekeep) this.housekeep();
    return fresh;
  }

  /** Devices present in the window that ends at endMs, and how many of them are new. */
  closeWindow(endMs: number): WindowEstimate {
    // Addresses heard for less than `settle` wait for the next window (a rotation needs that long to be
    // told from a few lost frames), unless nothing was heard for that long (the end of a capture).
    const quiet = endMs - this.now >= this.settle;
    if (endMs > this.now) this.now = endMs;
    this.settleUntil(quiet ? Infinity : endMs - this.settle, endMs);
    const start = this.windowStart === this.windowStart ? this.windowStart : endMs;
    const present = [0, 0];
    for (let c = this.aHead; c >= 0; ) {
      const next = this.aNext[c]!;
      const k = this.cKind[c]!;
      const last = this.cLast[c]!;
      const first = this.cFirst[c]!;
      if (first < endMs && this.cFrames[c]! >= MIN_FRAMES) {
        const m = this.multiplicity(c);
        if (last >= start || (k === WIFI && last >= start - this.hold)) present[k]! += m;
        // A chain arrives as one device; the devices its burst rate stands for beyond the first are
        // counted when it ends, over its whole span: a rate judged early, or at a busy moment, would
        // ratchet the count up window after window.
        this.count(c, 1);
      }
      if (first < endMs && endMs - last > (k === WIFI ? this.tailGap : this.bleHandover) + this.settle) this.freeChain(c);
      c = next;
    }
    // What leaves the window is new devices only: a device recognised by an address it used before is
    // present again, not another arrival, so the windows of a day sum to its distinct devices (totals()).
    const fresh = [this.pendingDistinct[WIFI]!, this.pendingDistinct[BLE]!];
    this.totalDistinct[WIFI]! += fresh[WIFI]!;
    this.totalDistinct[BLE]! += fresh[BLE]!;
    this.pendingDistinct[WIFI] = 0;
    this.pendingDistinct[BLE] = 0;
    this.windowStart = endMs;
    return { wifi: { present: present[WIFI]!, arrivals: fresh[WIFI]! }, ble: { present: present[BLE]!, arrivals: fresh[BLE]! } };
  }

  /**
   * Estimated distinct devices since construction, over closed windows: the sum of their arrivals (a
   * device recognised by an address it used before is not counted again).
   */
  totals(): { wifi: number; ble: number } {
    return { wifi: this.totalDistinct[WIFI]!, ble: this.totalDistinct[BLE]! };
  }

  /** Counts chain c's devices not counted yet, less those known by an address they used before. */
  private count(c: number, m: number): void {
    const done = this.cCounted[c]!;
    if (m <= done) return;
    const k = this.cKind[c]!;
    const known = this.cKnown[c]!;
    this.pendingDistinct[k]! += m - (done > known ? done : known < m ? known : m);
    this.cCounted[c] = m;
  }

  // ------------------------------------------------------------------ tracks

  private newTrack(o: Observation, kind: number): number {
    const t = o.tsMs;
    if (this.tFreeN === 0) this.evictOldestTrack();
    const s = this.tFree[--this.tFreeN]!;
    const gen = (this.tGen[s]! + 1) >>> 0;
    this.tGen[s] = gen;
    this.tUsed[s] = 1;
    this.tMac[s] = o.mac;
    this.tKind[s] = kind;
    this.tFirst[s] = t;
    this.tLast[s] = t;
    this.tPeak[s] = NaN;
    this.tChain[s] = 0;
    this.tKnown[s] = 0;
    this.tFrames[s] = 0;
    if (kind === WIFI) {
      const sig = wifiSignatures(o.buf, o.ieOff, o.ieLen, this.sigScratch);
      this.tFine[s] = sig.fine;
      this.tCoarse[s] = sig.coarse;
      this.tFirstSeq[s] = o.seq;
      this.tLastSeq[s] = o.seq;
    } else {
      const h = bleSignature(o.pdu, o.buf, o.adOff, o.adLen, o.companyId, o.txPower, o.adFlags);
      this.tFine[s] = h;
      this.tCoarse[s] = h;
      this.tFirstSeq[s] = -1;
      this.tLastSeq[s] = -1;
    }
    this.insert(o.mac, kind, s);
    const T = this.maxTracks;
    let i = (this.tRingHead + this.tRingLen) % T;
    this.tRing[i] = s;
    this.tRingGen[i] = gen;
    this.tRingLen++;
    this.queueSettle(s);
    return s;
  }

  /** (Reads the time from o: a double passed to a call that is not inlined is boxed, once per frame.) */
  private onFrame(s: number, o: Observation): void {
    const t = o.tsMs;
    if (t > this.tLast[s]!) this.tLast[s] = t;
    const r = o.rssi;
    const c = this.tChain[s]! - 1;
    if (c >= 0 && (!this.cUsed[c] || this.cGen[c] !== this.tChainGen[s])) {
      // Its chain was dropped (silence or memory cap): the address starts over, as a known device.
      this.tKnown[s] = 1;
      this.tChain[s] = 0;
      this.tFirst[s] = t;
      this.tPeak[s] = NaN;
      this.tFirstSeq[s] = o.seq;
      this.tFrames[s] = 0;
      this.queueSettle(s);
    }
    if (this.tChain[s] === 0) {
      if (this.tFrames[s]! < 0xffff) this.tFrames[s]!++;
      // Not settled yet: the peak over the first burst decides the link.
      if (r === r && !(r <= this.tPeak[s]!) && r < 20) {
        this.tPeak[s] = r;
        this.tPeakCh[s] = channelSlot(o.channel);
      }
      if (o.seq >= 0) this.tLastSeq[s] = o.seq;
      return;
    }
    if (t - this.cLast[c]! > this.scanGap) this.cBursts[c]!++;
    this.cFrames[c]!++;
    if (t > this.cLast[c]!) this.cLast[c] = t;
    if (o.seq >= 0) {
      this.tLastSeq[s] = o.seq;
      this.cLastSeq[c] = o.seq;
    }
  }

  // ------------------------------------------------------------------ address table

  private bucket(hi: number, lo: number): number {
    return addressBucket(hi, lo) & this.hMask;
  }

  private lookup(mac: number, kind: number): number {
    const top = Math.floor(mac / 0x1000000);
    const hi = top | (kind << 24);
    const lo = mac - top * 0x1000000;
    const m = this.hMask;
    for (let i = this.bucket(hi, lo); ; i = (i + 1) & m) {
      const v = this.hVal[i]!;
      if (v === 0) return -1;
      if (this.hKeyLo[i] === lo && this.hKeyHi[i] === hi) return v - 1;
    }
  }

  private insert(mac: number, kind: number, s: number): void {
    const top = Math.floor(mac / 0x1000000);
    const hi = top | (kind << 24);
    const lo = mac - top * 0x1000000;
    const m = this.hMask;
    let i = this.bucket(hi, lo);
    while (this.hVal[i] !== 0) {
      if (this.hKeyLo[i] === lo && this.hKeyHi[i] === hi) break;
      i = (i + 1) & m;
    }
    this.hKeyHi[i] = hi;
    this.hKeyLo[i] = lo;
    this.hVal[i] = s + 1;
  }

  /** Removes mac's entry if it points at slot s (backward-shift deletion keeps probe chains whole). */
  private remove(mac: number, kind: number, s: number): void {
    const top = Math.floor(mac / 0x1000000);
    const hi = top | (kind << 24);
    const lo = mac - top * 0x1000000;
    const m = this.hMask;
    let i = this.bucket(hi, lo);
    for (;;) {
      const v = this.hVal[i]!;
      if (v === 0) return;
      if (this.hKeyLo[i] === lo && this.hKeyHi[i] === hi) break;
      i = (i + 1) & m;
    }
    if (this.hVal[i] !== s + 1) return;
    this.hVal[i] = 0;
    for (let j = (i + 1) & m; this.hVal[j] !== 0; j = (j + 1) & m) {
      const home = this.bucket(this.hKeyHi[j]!, this.hKeyLo[j]!);
      // Move j into the hole at i if its home is not cyclically within (i, j].
      if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
        this.hKeyHi[i] = this.hKeyHi[j]!;
        this.hKeyLo[i] = this.hKeyLo[j]!;
        this.hVal[i] = this.hVal[j]!;
        this.hVal[j] = 0;
        i = j;
      }
    }
  }

  private queueSettle(s: number): void {
    const T = this.maxTracks;
    if (this.sQLen === T) {
      // Full (a flood): the oldest entry is settled now with what is known.
      const q = this.sQ[this.sQHead]!;
      if (this.tUsed[q] && this.tGen[q] === this.sQGen[this.sQHead] && this.tChain[q] === 0) this.link(q, this.now);
      this.sQHead = (this.sQHead + 1) % T;
      this.sQLen--;
    }
    const i = (this.sQHead + this.sQLen) % T;
    this.sQ[i] = s;
    this.sQGen[i] = this.tGen[s]!;
    this.sQLen++;
  }

  private compactChainRing(): void {
    const C = this.maxChains;
    const keep: number[] = [];
    for (let k = 0; k < this.cRingLen; k++) {
      const i = (this.cRingHead + k) % C;
      const c = this.cRing[i]!;
      if (this.cUsed[c] && this.cGen[c] === this.cRingGen[i]) keep.push(c);
    }
    for (let k = 0; k < keep.length; k++) {
      this.cRing[k] = keep[k]!;
      this.cRingGen[k] = this.cGen[keep[k]!]!;
    }
    this.cRingHead = 0;
    this.cRingLen = keep.length;
  }

  private dropTrack(s: number): void {
    this.tUsed[s] = 0;
    this.remove(this.tMac[s]!, this.tKind[s]!, s);
    if (this.lastSlot === s) {
      this.lastSlot = -1;
      this.lastMac = -1;
    }
    this.tGen[s] = (this.tGen[s]! + 1) >>> 0;
    this.tFree[this.tFreeN++] = s;
  }

  private evictOldestTrack(): void {
    const T = this.maxTracks;
    for (let spared = 0; this.tRingLen > 0; ) {
      const s = this.tRing[this.tRingHead]!;
      const gen = this.tRingGen[this.tRingHead]!;
      this.tRingHead = (this.tRingHead + 1) % T;
      this.tRingLen--;
      if (this.tUsed[s] && this.tGen[s] === gen) {
        if (spared < 8 && this.now - this.tLast[s]! <= this.tailGap) {
          // Oldest but still heard: to the back of the ring (a few per eviction, so a flood cannot stall).
          const j = (this.tRingHead + this.tRingLen) % T;
          this.tRing[j] = s;
          this.tRingGen[j] = gen;
          this.tRingLen++;
          spared++;
          continue;
        }
        // An address dropped before it settled is linked first, so it is still counted.
        if (this.tChain[s] === 0) this.link(s, this.now);
        this.dropTrack(s);
        return;
      }
    }
  }

  /** Every HOUSEKEEP_MS: settles due tracks; every SWEEP_MS also expires a bounded number of silent chains. */
  private housekeep(): void {
    const now = this.now;
    this.nextHousekeep = now + HOUSEKEEP_MS;
    if (this.sQLen > 0) this.settleUntil(now - this.settle, now);
    if (now < this.nextSweep) return;
    this.nextSweep = now + SWEEP_MS;
    // Addresses are kept until the table is full (an address heard again is its device's), chains only
    // while their device may still be around.
    const C = this.maxChains;
    // Chains still heard go to the back of the ring, at most HOUSEKEEP_SPARE per pass (a clock sweep: with
    // many long-lived chains a pass would otherwise move 64 of them on every frame).
    for (let n = 0, spared = 0; n < HOUSEKEEP_STEPS && spared < HOUSEKEEP_SPARE && this.cRingLen > 0; n++) {
      const i = this.cRingHead;
      const c = this.cRing[i]!;
      const gen = this.cRingGen[i]!;
      if (!this.cUsed[c] || this.cGen[c] !== gen) {
        this.cRingHead = (i + 1) % C;
        this.cRingLen--;
        continue;
      }
      const life = (this.cKind[c] === WIFI ? this.tailGap : this.bleHandover) + this.settle;
      if (now - this.cFirst[c]! <= life) break;
      this.cRingHead = (i + 1) % C;
      this.cRingLen--;
      // A chain is freed only once counted (closeWindow), so no device is lost between windows.
      if (now - this.cLast[c]! > life && (this.cCounted[c] || this.cFrames[c]! < MIN_FRAMES)) this.freeChain(c);
      else {
        spared++;
        const j = (this.cRingHead + this.cRingLen) % C;
        this.cRing[j] = c;
        this.cRingGen[j] = gen;
        this.cRingLen++;
      }
    }
  }

  private settleUntil(firstBefore: number, now: number): void {
    const T = this.maxTracks;
    while (this.sQLen > 0) {
      const s = this.sQ[this.sQHead]!;
      const gen = this.sQGen[this.sQHead]!;
      if (this.tUsed[s] && this.tGen[s] === gen && this.tChain[s] === 0) {
        if (this.tFirst[s]! > firstBefore) return;
        this.link(s, now);
      }
      this.sQHead = (this.sQHead + 1) % T;
      this.sQLen--;
    }
  }

  // ------------------------------------------------------------------ linking

  private link(s: number, now: number): void {
    const kind = this.tKind[s]!;
    const first = this.tFirst[s]!;
    const peak = this.tPeak[s]!;
    const pch = this.tPeakCh[s]!;
    const fine = this.tFine[s]!;
    const coarse = this.tCoarse[s]!;
    const seq0 = this.tFirstSeq[s]!;
    const key = (coarse ^ (kind * 0x9e3779b1)) >>> 0;
    let best = -1;
    let bestCost = Infinity;
    // Same signature group, most recently linked first.
    let c = this.groupHead.get(key) ?? -1;
    for (let n = 0; c >= 0 && n < this.maxCandidates; n++, c = this.cNext[c]!) {
      const cost = this.linkCost(c, kind, first, peak, pch, fine, coarse, seq0);
      if (cost < bestCost) {
        bestCost = cost;
        best = c;
      }
    }
    // A leaked track's signal is not the device's: it joins the chain without moving its level.
    let leaked = false;
    if (best < 0 && kind === WIFI) {
      best = this.leakHost(s, key);
      leaked = best >= 0;
    }
    if (best < 0) {
      best = this.newChain(kind, fine, coarse, first, key);
      this.cKnown[best] = this.tKnown[s]!;
    } else {
      if (first - this.cLast[best]! > this.scanGap) this.cBursts[best]!++;
      // Fold the track into the chain.
      if (peak === peak && !leaked) {
        const i = best * SLOTS + this.tPeakCh[s]!;
        const old = this.cRssi[i]!;
        this.cRssi[i] = old === old ? old + 0.3 * (peak - old) : peak;
      }
      if (first < this.cFirst[best]!) this.cFirst[best] = first;
      this.cFine[best] = fine;
      this.moveToFront(best);
    }
    this.tChain[s] = best + 1;
    this.tChainGen[s] = this.cGen[best]!;
    this.cFrames[best]! += this.tFrames[s]!;
    const last = this.tLast[s]!;
    if (last > this.cLast[best]!) this.cLast[best] = last;
    if (this.tLastSeq[s]! >= 0) this.cLastSeq[best] = this.tLastSeq[s]!;
    if (peak === peak && !leaked) {
      const i = best * SLOTS + this.tPeakCh[s]!;
      if (this.cRssi[i] !== this.cRssi[i]) this.cRssi[i] = peak;
      foldRange(this.cRssiLo, this.cRssiHi, i, peak, this.rssiSpan);
    }
    void now;
  }

  /**
   * The chain whose burst track s leaked from, or -1. A radio on channel 1 hears a phone's probes on
   * channels 2-4 as well, 30-50 dB weaker (the labelled iPhones: -21, -50, -64, -68 dB within half a
   * second), and iOS may take a new address mid-sweep: a track of only such frames that opens a burst
   * matches no chain by signal. It belongs to the chain that a later address of the same burst (first
   * frame within burstGap, same channel, same signature group) links to within signal tolerance, when s
   * lies below that chain's level by more than the tolerance (leakage is only ever weaker). The settle
   * queue is in order of first frame; at most LEAK_MATES mates among LEAK_SCAN entries are examined.
   */
  private leakHost(s: number, key: number): number {
    const T = this.maxTracks;
    const peak = this.tPeak[s]!;
    const pch = this.tPeakCh[s]!;
    const first = this.tFirst[s]!;
    if (peak !== peak) return -1;
    const n = this.sQLen < LEAK_SCAN ? this.sQLen : LEAK_SCAN;
    for (let k = 0, seen = 0; k < n && seen < LEAK_MATES; k++) {
      const i = (this.sQHead + k) % T;
      const q = this.sQ[i]!;
      if (q === s || !this.tUsed[q] || this.tGen[q] !== this.sQGen[i] || this.tChain[q] !== 0) continue;
      const f = this.tFirst[q]!;
      if (f < first) continue;
      if (f - first > this.burstGap) break;
      if (this.tKind[q] !== WIFI || this.tPeakCh[q] !== pch || ((this.tCoarse[q]! ^ (WIFI * 0x9e3779b1)) >>> 0) !== key) continue;
      seen++;
      const qPeak = this.tPeak[q]!;
      let best = -1;
      let bestCost = Infinity;
      let c = this.groupHead.get(key) ?? -1;
      for (let n = 0; c >= 0 && n < this.maxCandidates; n++, c = this.cNext[c]!) {
        const cost = this.linkCost(c, WIFI, f, qPeak, pch, this.tFine[q]!, this.tCoarse[q]!, this.tFirstSeq[q]!);
        if (cost < bestCost) {
          bestCost = cost;
          best = c;
        }
      }
      if (best < 0 || this.signalDistance(best, qPeak, pch) > this.rssiTol) continue;
      const lo = this.cRssiLo[best * SLOTS + pch]!;
      if (lo === lo && peak < lo - this.rssiTol) return best;
    }
    return -1;
  }

  /** Cost of explaining track (first, peak, signatures, seq0) as chain c's next address; Infinity if inadmissible. */
  private linkCost(c: number, kind: number, first: number, peak: number, pch: number, fine: number, coarse: number, seq0: number): number {
    const gap = first - this.cLast[c]!;
    // Most candidates fail on time alone: judge that before the signal, which costs more.
    if (kind === BLE ? gap <= 0 || gap > this.bleHandover : gap > this.tailGap) return Infinity;
    const dr = this.signalDistance(c, peak, pch);
    const tol = this.rssiTol;
    const fineCost = fine === this.cFine[c] ? 0 : 0.5;
    if (kind === BLE) {
      if (dr > tol) return Infinity;
      return dr / tol + (0.25 * gap) / this.bleHandover + fineCost;
    }
    const sameCoarse = coarse === this.cCoarse[c];
    if (sameCoarse && seq0 >= 0 && this.cLastSeq[c]! >= 0 && gap > -this.burstGap && gap <= this.tailGap && dr <= 2 * tol) {
      const d = (seq0 - this.cLastSeq[c]!) & 4095;
      if (d >= 1 && d <= this.seqStep) return 0.1 * (dr / tol) + d / (this.seqStep * 10);
    }
    // In the chain's own burst any signal is admissible (one phone's frames in one burst spread by up to
    // 55 dB near a radio); the closest concurrent chain wins.
    if (gap <= this.burstGap && gap > -this.settle) return 1 + (dr > tol ? 1 + dr / tol : dr / tol) + fineCost;
    if (dr > tol || gap > this.tailGap) return Infinity;
    return 3 + dr / tol + fineCost;
  }

  /**
   * How far a track's peak signal is from the chain's on the same channel; against another channel the
   * distance counts half (one phone is heard 10-15 dB apart on different channels). 0 when unknown.
   */
  private signalDistance(c: number, peak: number, pch: number): number {
    if (peak !== peak) return 0;
    const base = c * SLOTS;
    const same = this.cRssi[base + pch]!;
    if (same === same) {
      // Outside the range this device was heard at on this channel, by how much.
      return rangeDistance(this.cRssiLo, this.cRssiHi, base + pch, peak);
    }
    let best = Infinity;
    for (let k = 0; k < SLOTS; k++) {
      const v = this.cRssi[base + k]!;
      if (v === v) best = Math.min(best, Math.abs(peak - v) / 2);
    }
    return best === Infinity ? 0 : best;
  }

  // ------------------------------------------------------------------ chains

  private newChain(kind: number, fine: number, coarse: number, first: number, key: number): number {
    if (this.cFreeN === 0) this.evictOldestChain();
    const c = this.cFree[--this.cFreeN]!;
    const gen = (this.cGen[c]! + 1) >>> 0;
    this.cGen[c] = gen;
    this.cUsed[c] = 1;
    this.cKind[c] = kind;
    this.cFirst[c] = first;
    this.cLast[c] = first;
    this.cRssi.fill(NaN, c * SLOTS, c * SLOTS + SLOTS);
    this.cLastSeq[c] = -1;
    this.cFine[c] = fine;
    this.cCoarse[c] = coarse;
    this.cCounted[c] = 0;
    this.cBursts[c] = 1;
    this.cFrames[c] = 0;
    this.cKnown[c] = 0;
    this.cRssiLo.fill(NaN, c * SLOTS, c * SLOTS + SLOTS);
    this.cRssiHi.fill(NaN, c * SLOTS, c * SLOTS + SLOTS);
    this.aPrev[c] = -1;
    this.aNext[c] = this.aHead;
    if (this.aHead >= 0) this.aPrev[this.aHead] = c;
    this.aHead = c;
    // Push onto its group's list.
    const head = this.groupHead.get(key) ?? -1;
    this.cPrev[c] = -1;
    this.cNext[c] = head;
    if (head >= 0) this.cPrev[head] = c;
    this.groupHead.set(key, c);
    const C = this.maxChains;
    if (this.cRingLen === C) this.compactChainRing();
    const j = (this.cRingHead + this.cRingLen) % C;
    this.cRing[j] = c;
    this.cRingGen[j] = gen;
    this.cRingLen++;
    return c;
  }

  private groupKey(c: number): number {
    return (this.cCoarse[c]! ^ (this.cKind[c]! * 0x9e3779b1)) >>> 0;
  }

  private unlinkFromGroup(c: number): void {
    const p = this.cPrev[c]!;
    const n = this.cNext[c]!;
    if (p >= 0) this.cNext[p] = n;
    else {
      const key = this.groupKey(c);
      if (n >= 0) this.groupHead.set(key, n);
      else this.groupHead.delete(key);
    }
    if (n >= 0) this.cPrev[n] = p;
    this.cPrev[c] = -1;
    this.cNext[c] = -1;
  }

  private moveToFront(c: number): void {
    if (this.cPrev[c]! < 0) return;
    this.unlinkFromGroup(c);
    const key = this.groupKey(c);
    const head = this.groupHead.get(key) ?? -1;
    this.cNext[c] = head;
    if (head >= 0) this.cPrev[head] = c;
    this.groupHead.set(key, c);
  }

  /** Devices a chain stands for: 1, or more when it bursts faster than one phone does. */
  private multiplicity(c: number): number {
    if (this.cKind[c] !== WIFI) return 1;
    const span = Math.max(this.cLast[c]! - this.cFirst[c]!, this.rateSpan);
    const m = this.cBursts[c]! / (this.burstsPerMs * span);
    return m > 1 ? m : 1;
  }

  private freeChain(c: number): void {
    if (!this.cUsed[c]) return;
    // Uncounted devices are counted before they go (their window closes later).
    if (this.cFrames[c]! >= MIN_FRAMES) this.count(c, this.multiplicity(c));
    this.unlinkFromGroup(c);
    const p = this.aPrev[c]!;
    const n = this.aNext[c]!;
    if (p >= 0) this.aNext[p] = n;
    else this.aHead = n;
    if (n >= 0) this.aPrev[n] = p;
    this.cUsed[c] = 0;
    this.cGen[c] = (this.cGen[c]! + 1) >>> 0;
    this.cFree[this.cFreeN++] = c;
  }

  private evictOldestChain(): void {
    const C = this.maxChains;
    while (this.cRingLen > 0) {
      const c = this.cRing[this.cRingHead]!;
      const gen = this.cRingGen[this.cRingHead]!;
      this.cRingHead = (this.cRingHead + 1) % C;
      this.cRingLen--;
      if (this.cUsed[c] && this.cGen[c] === gen) {
        this.freeChain(c);
        return;
      }
    }
  }
}
