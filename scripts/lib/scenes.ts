/**
 * Store scenes with exact ground truth, built from the labelled one-phone captures
 * (test/fixtures/captures/probes-labelled): k phones, each a 10-minute slice of its own trace shifted to
 * a random start within the scene's first two minutes, merged in time order; three-channel or
 * single-channel (only what one radio heard); and crowd scenes of one model and OS, where a phone's
 * trace from another time slice, its addresses remapped by a random XOR mask that keeps the locally
 * administered bit, plays another phone. Seeded (mulberry32): the same seed gives the same scenes.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readCaptureFile } from '../../agents/capture/file-reader.js';
import { AddressClass, Source, newObservation, type Observation } from '../../agents/decode/observation.js';
import { EdgePipeline } from '../../agents/pipeline/edge-pipeline.js';
import { Pseudonymizer } from '../../agents/pseudonymize/pseudonymizer.js';
import { mulberry32 } from './prng.js';

/** One labelled phone's probe requests, in time order (copied out of the decoder's reused Observation). */
export interface PhoneTrace {
  name: string;
  t: Float64Array;
  mac: Float64Array;
  rssi: Float32Array;
  channel: Uint8Array;
  seq: Int16Array;
  /** Tagged elements of each frame (views into one buffer). */
  ie: Uint8Array[];
}

/** The iPhone 11/12 captures on iOS 16.4.1 that send one information-element set. */
export const SAME_ELEMENTS_GROUP = ['iPhone11-B', 'iPhone11-C', 'iPhone11-F', 'iPhone11-M', 'iPhone12-M'];
/** The four iPhone 11s (one model, one OS). */
export const IPHONE11_GROUP = ['iPhone11-B', 'iPhone11-C', 'iPhone11-F', 'iPhone11-M'];

/** Decodes every labelled capture through the edge pipeline (as `decode` does). */
export function loadLabelledPhones(dir = resolveLabelledDir()): PhoneTrace[] {
  const out: PhoneTrace[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.pcap')).sort()) {
    const rows: { t: number; mac: number; rssi: number; ch: number; seq: number; ie: Uint8Array }[] = [];
    const pseudo = new Pseudonymizer({ secret: new Uint8Array(32), tenant: 'test', timezone: 'UTC' });
    const pipeline = new EdgePipeline(pseudo, (o) => {
      if (o.source !== Source.Wifi) return;
      rows.push({ t: o.tsMs, mac: o.mac, rssi: o.rssi, ch: o.channel, seq: o.seq, ie: o.buf.slice(o.ieOff, o.ieOff + o.ieLen) });
    });
    readCaptureFile(join(dir, f), pipeline.onRecord);
    // Three radios wrote one file each before they were merged: restore time order.
    rows.sort((a, b) => a.t - b.t);
    const n = rows.length;
    const p: PhoneTrace = {
      name: f.replace(/\.pcap$/, ''),
      t: new Float64Array(n),
      mac: new Float64Array(n),
      rssi: new Float32Array(n),
      channel: new Uint8Array(n),
      seq: new Int16Array(n),
      ie: [],
    };
    rows.forEach((r, i) => {
      p.t[i] = r.t;
      p.mac[i] = r.mac;
      p.rssi[i] = r.rssi;
      p.channel[i] = r.ch;
      p.seq[i] = r.seq;
      p.ie.push(r.ie);
    });
    out.push(p);
  }
  return out;
}

/** The labelled captures' folder, from the source tree (vitest, tsx) or the built one (dist/scripts/lib). */
export function resolveLabelledDir(): string {
  // Source tree (tsx, vitest) or built tree (dist/scripts/lib): find the fixtures either way.
  for (const up of [['..', '..'], ['..', '..', '..']]) {
    const d = join(import.meta.dirname, ...up, 'test', 'fixtures', 'captures', 'probes-labelled');
    try {
      readdirSync(d);
      return d;
    } catch {
      // not here: try one level up
    }
  }
  throw new Error('test/fixtures/captures/probes-labelled not found');
}

export type SceneKind = 'mixed' | 'crowd';

export interface ScenePart {
  phone: string;
  /** Index range [from, to) into the phone's trace. */
  from: number;
  to: number;
  /** Added to every timestamp. */
  shiftMs: number;
  /** XOR applied to every address (0 for the phone's own addresses). */
  macMask: number;
  clone: boolean;
}

export interface Scene {
  id: number;
  kind: SceneKind;
  /** 0: all three channels; else the one channel heard. */
  channel: number;
  parts: ScenePart[];
  startMs: number;
  endMs: number;
}

export interface SceneFrame {
  t: number;
  mac: number;
  rssi: number;
  channel: number;
  seq: number;
  ie: Uint8Array;
  /** Index into scene.parts: the true device. */
  part: number;
}

const SLICE_MS = 10 * 60_000;
const SPREAD_MS = 2 * 60_000;
/** A silence this long splits a trace into sessions (one file holds two sessions 21 days apart). */
const SESSION_GAP_MS = 30 * 60_000;
const SCENE_EPOCH = Date.UTC(2024, 0, 15, 10, 0, 0);

/** A random 10-minute slice of a phone's trace that holds at least one frame, or null. */
function pickSlice(p: PhoneTrace, rnd: () => number, channel: number, avoid?: { from: number; to: number }): { from: number; to: number } | null {
  // Sessions: [startIndex, endIndex).
  const sessions: [number, number][] = [];
  let s = 0;
  for (let i = 1; i <= p.t.length; i++) {
    if (i === p.t.length || p.t[i]! - p.t[i - 1]! > SESSION_GAP_MS) {
      sessions.push([s, i]);
      s = i;
    }
  }
  const weights = sessions.map(([a, b]) => Math.max(1, p.t[b - 1]! - p.t[a]!));
  const total = weights.reduce((x, y) => x + y, 0);
  for (let attempt = 0; attempt < 50; attempt++) {
    let r = rnd() * total;
    let k = 0;
    while (k < sessions.length - 1 && r >= weights[k]!) r -= weights[k++]!;
    const [a, b] = sessions[k]!;
    const t0 = p.t[a]!;
    const t1 = p.t[b - 1]!;
    const start = t0 + rnd() * Math.max(0, t1 - t0 - SLICE_MS);
    let from = a;
    while (from < b && p.t[from]! < start) from++;
    let to = from;
    while (to < b && p.t[to]! < start + SLICE_MS) to++;
    let heard = 0;
    for (let i = from; i < to; i++) if (channel === 0 || p.channel[i] === channel) heard++;
    if (heard === 0) continue;
    if (avoid && from < avoid.to && avoid.from < to && attempt < 40) {
      // Prefer another time slice for a clone; overlapping ones are accepted only when the trace is short.
      const overlap = Math.min(to, avoid.to) - Math.max(from, avoid.from);
      if (overlap > (to - from) / 2) continue;
    }
    return { from, to };
  }
  return null;
}

function randomMask(rnd: () => number): number {
  // Keeps the first octet's locally administered (0x02) and group (0x01) bits as they are.
  const first = Math.floor(rnd() * 256) & 0xfc;
  const rest = Math.floor(rnd() * 0x10000000000);
  return first * 0x10000000000 + rest;
}

function xor48(a: number, b: number): number {
  const ah = Math.floor(a / 0x1000000);
  const al = a % 0x1000000;
  const bh = Math.floor(b / 0x1000000);
  const bl = b % 0x1000000;
  return ((ah ^ bh) >>> 0) * 0x1000000 + ((al ^ bl) >>> 0);
}

function pickDistinct<T>(arr: readonly T[], k: number, rnd: () => number): T[] {
  const a = arr.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, k);
}

export interface SceneOptions {
  seed?: number;
  /** Number of scenes (default 240): two thirds mixed (k = 2..11), one third crowd. */
  count?: number;
}

/** Builds the scenes (parts only; frames are materialized by sceneFrames). */
export function buildScenes(phones: PhoneTrace[], opts: SceneOptions = {}): Scene[] {
  const rnd = mulberry32(opts.seed ?? 1);
  const count = opts.count ?? 240;
  const byName = new Map(phones.map((p) => [p.name, p]));
  const scenes: Scene[] = [];
  for (let id = 0; id < count; id++) {
    const crowd = id % 3 === 2;
    // Half the scenes hear all three channels, the others one radio's channel.
    const channel = rnd() < 0.5 ? 0 : [1, 6, 11][Math.floor(rnd() * 3)]!;
    const parts: ScenePart[] = [];
    const addPart = (name: string, clone: boolean, avoid?: { from: number; to: number }): ScenePart | null => {
      const p = byName.get(name)!;
      const sl = pickSlice(p, rnd, channel, avoid);
      if (!sl) return null;
      const shiftMs = SCENE_EPOCH + rnd() * SPREAD_MS - p.t[sl.from]!;
      const part = { phone: name, from: sl.from, to: sl.to, shiftMs, macMask: clone ? randomMask(rnd) : 0, clone };
      parts.push(part);
      return part;
    };
    if (!crowd) {
      const k = 2 + (id % 10);
      for (const name of pickDistinct(phones.map((p) => p.name), k, rnd)) addPart(name, false);
    } else {
      // One model and OS: the four iPhone 11s (sometimes with the iPhone 12 that sends the same
      // elements), plus 0..4 clones: the same phones at other times under other addresses.
      const originals = rnd() < 0.5 ? IPHONE11_GROUP : SAME_ELEMENTS_GROUP;
      const own = new Map<string, ScenePart>();
      for (const name of originals) {
        const part = addPart(name, false);
        if (part) own.set(name, part);
      }
      const clones = Math.floor(rnd() * 5);
      for (let c = 0; c < clones; c++) {
        const name = originals[Math.floor(rnd() * originals.length)]!;
        addPart(name, true, own.get(name));
      }
    }
    let endMs = SCENE_EPOCH;
    for (const part of parts) {
      const p = byName.get(part.phone)!;
      endMs = Math.max(endMs, p.t[part.to - 1]! + part.shiftMs);
    }
    scenes.push({ id, kind: crowd ? 'crowd' : 'mixed', channel, parts, startMs: SCENE_EPOCH, endMs: endMs + 1 });
  }
  return scenes;
}

/** The scene's frames merged in time order. */
export function sceneFrames(scene: Scene, phones: PhoneTrace[]): SceneFrame[] {
  const byName = new Map(phones.map((p) => [p.name, p]));
  const out: SceneFrame[] = [];
  scene.parts.forEach((part, k) => {
    const p = byName.get(part.phone)!;
    for (let i = part.from; i < part.to; i++) {
      if (scene.channel !== 0 && p.channel[i] !== scene.channel) continue;
      out.push({
        t: p.t[i]! + part.shiftMs,
        mac: part.macMask ? xor48(p.mac[i]!, part.macMask) : p.mac[i]!,
        rssi: p.rssi[i]!,
        channel: p.channel[i]!,
        seq: p.seq[i]!,
        ie: p.ie[i]!,
        part: k,
      });
    }
  });
  out.sort((a, b) => a.t - b.t || a.part - b.part);
  return out;
}

/** True devices in a scene: parts with at least one frame heard. */
export function sceneTruth(frames: SceneFrame[]): number {
  return new Set(frames.map((f) => f.part)).size;
}

/** Replays scene frames as the decoder's reused Observation would carry them. */
export function replay(frames: SceneFrame[], sink: (o: Observation) => void): void {
  const o = newObservation();
  for (const f of frames) {
    o.source = Source.Wifi;
    o.tsMs = f.t;
    o.mac = f.mac;
    o.addressClass = Math.floor(f.mac / 0x10000000000) & 0x02 ? AddressClass.WifiRandomized : AddressClass.WifiGlobal;
    o.rssi = f.rssi;
    o.channel = f.channel;
    o.freqMhz = 0;
    o.seq = f.seq;
    o.buf = f.ie;
    o.ssidOff = -1;
    o.ssidLen = 0;
    o.ieOff = 0;
    o.ieLen = f.ie.length;
    sink(o);
  }
}

/**
 * Whole labelled files merged as one capture: each phone's entire trace (every session) shifted so that
 * its first frame falls within the first `spreadMs` after the epoch (the traces overlap in time); all
 * three channels, or only the given one.
 */
export function wholeFileFrames(phones: PhoneTrace[], names: readonly string[], rnd: () => number, channel = 0, spreadMs = SPREAD_MS): SceneFrame[] {
  const byName = new Map(phones.map((p) => [p.name, p]));
  const out: SceneFrame[] = [];
  names.forEach((name, k) => {
    const p = byName.get(name)!;
    const shift = SCENE_EPOCH + rnd() * spreadMs - p.t[0]!;
    for (let i = 0; i < p.t.length; i++) {
      if (channel !== 0 && p.channel[i] !== channel) continue;
      out.push({ t: p.t[i]! + shift, mac: p.mac[i]!, rssi: p.rssi[i]!, channel: p.channel[i]!, seq: p.seq[i]!, ie: p.ie[i]!, part: k });
    }
  });
  out.sort((a, b) => a.t - b.t || a.part - b.part);
  return out;
}

/** Shuffled copy of the first k entries (Fisher-Yates with the given generator). */
export function pickNames(names: readonly string[], k: number, rnd: () => number): string[] {
  return pickDistinct(names, k, rnd);
}
