/**
 * Accuracy of the ephemeral device estimator on store scenes built from the labelled one-phone
 * captures (scripts/lib/scenes.ts): truth, distinct addresses (what was counted before), estimate and
 * error per scene, then mean absolute error over all scenes and over crowd scenes, and the worst scene.
 * `--loo` adds leave-one-out: for each phone, the parameters of a small physically bounded grid that do
 * best on the scenes without that phone, evaluated on the scenes with it.
 *
 *   npx tsx scripts/bench/estimate-accuracy.ts [--seed 1] [--scenes 240] [--loo] [--quiet]
 *   node dist/scripts/bench/estimate-accuracy.js ...      (after npm run build)
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { EphemeralDeviceEstimator, ESTIMATOR_VERSION, type EstimatorOptions } from '../../agents/estimate/device-estimator.js';
import { mulberry32 } from '../lib/prng.js';
import { buildScenes, loadLabelledPhones, pickNames, replay, sceneFrames, sceneTruth, wholeFileFrames, type PhoneTrace, type Scene, type SceneFrame } from '../lib/scenes.js';

const WINDOW_MS = 60_000;

export interface SceneResult {
  id: number;
  kind: Scene['kind'];
  channel: number;
  phones: string[];
  clones: number;
  truth: number;
  addresses: number;
  estimate: number;
  /** |estimate - truth| / truth, in percent. */
  errorPct: number;
  /** The same for the estimate rounded to a whole device (as `decode` prints it). */
  roundedErrorPct: number;
}

export interface AccuracyReport {
  version: string;
  seed: number;
  scenes: SceneResult[];
  meanErrorPct: number;
  crowdMeanErrorPct: number;
  mixedMeanErrorPct: number;
  /** Mean signed error (bias), percent. */
  biasPct: number;
  worst: SceneResult;
  /** Worst scene by the rounded estimate. */
  worstRounded: SceneResult;
  /** Mean error of today's count (distinct addresses). */
  addressesMeanErrorPct: number;
}

/** Feeds one scene through the estimator as `decode` would: every frame in order, a window every minute. */
export function estimateScene(frames: SceneFrame[], startMs: number, opts?: EstimatorOptions): number {
  const est = new EphemeralDeviceEstimator(opts);
  let windowEnd = startMs + WINDOW_MS;
  replay(frames, (o) => {
    while (o.tsMs >= windowEnd) {
      est.closeWindow(windowEnd);
      windowEnd += WINDOW_MS;
    }
    est.add(o);
  });
  est.closeWindow(windowEnd);
  // The store goes on after the scene: later windows close the devices that left (and count the extra
  // devices a chain's burst rate stands for, which are counted when it ends).
  est.closeWindow(windowEnd + 3_600_000);
  return est.totals().wifi;
}

interface Prepared {
  scene: Scene;
  frames: SceneFrame[];
  truth: number;
  addresses: number;
}

function prepare(phones: PhoneTrace[], seed: number, count: number): Prepared[] {
  return buildScenes(phones, { seed, count }).map((scene) => {
    const frames = sceneFrames(scene, phones);
    return { scene, frames, truth: sceneTruth(frames), addresses: new Set(frames.map((f) => f.mac)).size };
  });
}

function summarize(seed: number, results: SceneResult[]): AccuracyReport {
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const crowd = results.filter((r) => r.kind === 'crowd');
  const mixed = results.filter((r) => r.kind === 'mixed');
  return {
    version: ESTIMATOR_VERSION,
    seed,
    scenes: results,
    meanErrorPct: mean(results.map((r) => r.errorPct)),
    crowdMeanErrorPct: mean(crowd.map((r) => r.errorPct)),
    mixedMeanErrorPct: mean(mixed.map((r) => r.errorPct)),
    biasPct: mean(results.map((r) => ((r.estimate - r.truth) / r.truth) * 100)),
    worst: results.reduce((a, b) => (b.errorPct > a.errorPct ? b : a)),
    worstRounded: results.reduce((a, b) => (b.roundedErrorPct > a.roundedErrorPct ? b : a)),
    addressesMeanErrorPct: mean(results.map((r) => (Math.abs(r.addresses - r.truth) / r.truth) * 100)),
  };
}

function run(prepared: Prepared[], opts?: EstimatorOptions): SceneResult[] {
  return prepared
    .filter((p) => p.truth > 0)
    .map(({ scene, frames, truth, addresses }) => {
      const estimate = estimateScene(frames, scene.startMs, opts);
      return {
        id: scene.id,
        kind: scene.kind,
        channel: scene.channel,
        phones: scene.parts.map((p) => p.phone + (p.clone ? '*' : '')),
        clones: scene.parts.filter((p) => p.clone).length,
        truth,
        addresses,
        estimate,
        errorPct: (Math.abs(estimate - truth) / truth) * 100,
        roundedErrorPct: (Math.abs(Math.round(estimate) - truth) / truth) * 100,
      };
    });
}

/** Runs the benchmark; the test calls this with a fixed seed and a moderate number of scenes. */
export function runAccuracyBenchmark(opts: { seed?: number; scenes?: number; phones?: PhoneTrace[]; estimator?: EstimatorOptions } = {}): AccuracyReport {
  const seed = opts.seed ?? 1;
  const phones = opts.phones ?? loadLabelledPhones();
  return summarize(seed, run(prepare(phones, seed, opts.scenes ?? 240), opts.estimator));
}

/** Feeds a whole capture as `decode --summary` does: every frame, then one window closed an hour after the last. */
export function estimateCapture(frames: SceneFrame[], opts?: EstimatorOptions): number {
  const est = new EphemeralDeviceEstimator(opts);
  let last = 0;
  replay(frames, (o) => {
    est.add(o);
    last = o.tsMs;
  });
  est.closeWindow(last + 3_600_000);
  return est.totals().wifi;
}

export interface WholeFileResult {
  phones: string[];
  channel: number;
  truth: number;
  addresses: number;
  /** One window over the capture (decode --summary). */
  estimate: number;
  /** Sum of arrivals over one-minute windows (the agent). */
  windowedEstimate: number;
  /** Rounded estimates' errors, percent. */
  errorPct: number;
  windowedErrorPct: number;
}

/**
 * Whole labelled files, uncut (up to 53 minutes, one file holds two sessions 21 days apart): each file
 * alone on all three channels and on each one, then `merges` merges of k files for k = 2..11, time-shifted
 * so that they overlap.
 */
export function runWholeFiles(opts: { seed?: number; merges?: number; phones?: PhoneTrace[]; estimator?: EstimatorOptions } = {}): WholeFileResult[] {
  const phones = opts.phones ?? loadLabelledPhones();
  const rnd = mulberry32(opts.seed ?? 1);
  const names = phones.map((p) => p.name);
  const cases: { names: string[]; channel: number }[] = [];
  for (const n of names) for (const channel of [0, 1, 6, 11]) cases.push({ names: [n], channel });
  for (let k = 2; k <= names.length; k++) for (let m = 0; m < (opts.merges ?? 3); m++) cases.push({ names: pickNames(names, k, rnd), channel: rnd() < 0.5 ? 0 : [1, 6, 11][Math.floor(rnd() * 3)]! });
  const out: WholeFileResult[] = [];
  for (const c of cases) {
    const frames = wholeFileFrames(phones, c.names, rnd, c.channel);
    const truth = sceneTruth(frames);
    if (truth === 0) continue;
    const estimate = estimateCapture(frames, opts.estimator);
    const windowedEstimate = estimateScene(frames, frames[0]!.t, opts.estimator);
    out.push({
      phones: c.names,
      channel: c.channel,
      truth,
      addresses: new Set(frames.map((f) => f.mac)).size,
      estimate,
      windowedEstimate,
      errorPct: (Math.abs(Math.round(estimate) - truth) / truth) * 100,
      windowedErrorPct: (Math.abs(Math.round(windowedEstimate) - truth) / truth) * 100,
    });
  }
  return out;
}

/** The grid leave-one-out chooses from: each value within published phone behaviour. */
export const LOO_GRID: EstimatorOptions[] = (() => {
  const g: EstimatorOptions[] = [];
  for (const rssiTolDb of [12, 16, 20])
    for (const burstsPerMinute of [1.5, 2, 2.5])
      for (const tailGapMs of [180_000, 300_000]) for (const burstGapMs of [1000, 2000]) g.push({ rssiTolDb, burstsPerMinute, tailGapMs, burstGapMs });
  return g;
})();

export interface LooFold {
  heldOut: string;
  chosen: EstimatorOptions;
  /** Mean error on scenes with the held-out phone: chosen parameters, and the defaults. */
  heldOutErrorPct: number;
  defaultErrorPct: number;
  trainErrorPct: number;
  scenes: number;
}

/** Leave-one-out across phones: choose the grid point on scenes without the phone, evaluate on scenes with it. */
export function leaveOneOut(opts: { seed?: number; scenes?: number; phones?: PhoneTrace[] } = {}): LooFold[] {
  const seed = opts.seed ?? 1;
  const phones = opts.phones ?? loadLabelledPhones();
  const prepared = prepare(phones, seed, opts.scenes ?? 240).filter((p) => p.truth > 0);
  const perGrid = LOO_GRID.map((g) => run(prepared, g));
  const defaults = run(prepared);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  const has = (p: Prepared, name: string) => p.scene.parts.some((x) => x.phone === name);
  return phones.map((ph) => {
    const test = prepared.map((p, i) => (has(p, ph.name) ? i : -1)).filter((i) => i >= 0);
    const train = prepared.map((p, i) => (has(p, ph.name) ? -1 : i)).filter((i) => i >= 0);
    let best = 0;
    let bestErr = Infinity;
    perGrid.forEach((res, g) => {
      const e = mean(train.map((i) => res[i]!.errorPct));
      if (e < bestErr) {
        bestErr = e;
        best = g;
      }
    });
    return {
      heldOut: ph.name,
      chosen: LOO_GRID[best]!,
      heldOutErrorPct: mean(test.map((i) => perGrid[best]![i]!.errorPct)),
      defaultErrorPct: mean(test.map((i) => defaults[i]!.errorPct)),
      trainErrorPct: bestErr,
      scenes: test.length,
    };
  });
}

function fmt(n: number, d = 1): string {
  return n.toFixed(d);
}

function main(argv: string[]): void {
  const arg = (name: string, dflt: number) => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const seed = arg('--seed', 1);
  const count = arg('--scenes', 240);
  const quiet = argv.includes('--quiet');
  const phones = loadLabelledPhones();
  const t0 = performance.now();
  const rep = runAccuracyBenchmark({ seed, scenes: count, phones });
  const ms = performance.now() - t0;
  console.log(`estimator ${rep.version}, seed ${seed}, ${rep.scenes.length} scenes (${fmt(ms, 0)} ms)`);
  if (!quiet) {
    console.log('scene kind   ch  truth addrs   est  err%  phones');
    for (const r of rep.scenes) {
      console.log(
        `${String(r.id).padStart(5)} ${r.kind.padEnd(6)} ${String(r.channel || 'all').padStart(3)} ${String(r.truth).padStart(6)} ${String(r.addresses).padStart(5)} ${fmt(r.estimate).padStart(5)} ${fmt(r.errorPct).padStart(5)}  ${r.phones.join(' ')}`,
      );
    }
  }
  // Per k and kind.
  const groups = new Map<string, SceneResult[]>();
  for (const r of rep.scenes) {
    const key = `${r.kind} k=${String(r.truth).padStart(2)} ${r.channel ? '1ch' : '3ch'}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  console.log('\ngroup             scenes  truth  addrs    est  mean err%  max err%');
  for (const key of [...groups.keys()].sort()) {
    const rs = groups.get(key)!;
    const m = (f: (r: SceneResult) => number) => rs.reduce((a, r) => a + f(r), 0) / rs.length;
    console.log(
      `${key.padEnd(18)} ${String(rs.length).padStart(5)} ${fmt(m((r) => r.truth)).padStart(6)} ${fmt(m((r) => r.addresses)).padStart(6)} ${fmt(m((r) => r.estimate)).padStart(6)} ${fmt(m((r) => r.errorPct)).padStart(10)} ${fmt(Math.max(...rs.map((r) => r.errorPct))).padStart(9)}`,
    );
  }
  console.log(`\nmean absolute error: ${fmt(rep.meanErrorPct)}% (goal <= 20)`);
  console.log(`  mixed scenes:      ${fmt(rep.mixedMeanErrorPct)}%`);
  console.log(`  crowd scenes:      ${fmt(rep.crowdMeanErrorPct)}% (goal <= 25)`);
  console.log(`bias (signed):       ${fmt(rep.biasPct)}%`);
  console.log(`worst (rounded):     #${rep.worstRounded.id} ${rep.worstRounded.kind} truth ${rep.worstRounded.truth} est ${fmt(rep.worstRounded.estimate)} err ${fmt(rep.worstRounded.roundedErrorPct)}% (goal <= 50) ${rep.worstRounded.phones.join(' ')}`);
  console.log(`scenes > 50% off (rounded): ${rep.scenes.filter((r) => r.roundedErrorPct > 50).length}`);
  console.log(`worst scene:         #${rep.worst.id} ${rep.worst.kind} truth ${rep.worst.truth} est ${fmt(rep.worst.estimate)} err ${fmt(rep.worst.errorPct)}% (goal <= 50) ${rep.worst.phones.join(' ')}`);
  console.log(`distinct addresses:  mean error ${fmt(rep.addressesMeanErrorPct)}% (today's count)`);
  const whole = runWholeFiles({ seed, phones });
  console.log('\nwhole files (one window as decode; one-minute windows as the agent):');
  console.log('k   ch  truth addrs   est  win-est  phones');
  for (const w of whole) {
    if (!quiet || w.truth === 1 || w.errorPct > 50 || w.windowedErrorPct > 50)
      console.log(`${String(w.truth).padStart(2)} ${String(w.channel || 'all').padStart(4)} ${String(w.truth).padStart(5)} ${String(w.addresses).padStart(5)} ${fmt(w.estimate).padStart(5)} ${fmt(w.windowedEstimate).padStart(8)}  ${w.phones.join(' ')}${w.errorPct > 50 || w.windowedErrorPct > 50 ? '  <-- > 50%' : ''}`);
  }
  const singles = whole.filter((w) => w.truth === 1);
  const merges = whole.filter((w) => w.truth > 1);
  const mw = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`single files: rounded estimate 1: ${singles.filter((w) => Math.round(w.estimate) === 1).length}/${singles.length}, <= 2: ${singles.filter((w) => Math.round(w.estimate) <= 2).length}/${singles.length}, max ${Math.max(...singles.map((w) => Math.round(w.estimate)))} (windowed max ${Math.max(...singles.map((w) => Math.round(w.windowedEstimate)))})`);
  console.log(`merges: mean err ${fmt(mw(merges.map((w) => w.errorPct)))}%, worst ${fmt(Math.max(...merges.map((w) => w.errorPct)))}% (windowed mean ${fmt(mw(merges.map((w) => w.windowedErrorPct)))}%, worst ${fmt(Math.max(...merges.map((w) => w.windowedErrorPct)))}%)`);
  if (argv.includes('--loo')) {
    console.log('\nleave-one-out (grid chosen on scenes without the phone, error on scenes with it):');
    console.log('held out            scenes  train err%  held-out err%  default err%  chosen');
    const folds = leaveOneOut({ seed, scenes: count, phones });
    for (const f of folds) {
      console.log(
        `${f.heldOut.padEnd(18)} ${String(f.scenes).padStart(7)} ${fmt(f.trainErrorPct).padStart(11)} ${fmt(f.heldOutErrorPct).padStart(14)} ${fmt(f.defaultErrorPct).padStart(13)}  rssiTol ${f.chosen.rssiTolDb} dB, ${f.chosen.burstsPerMinute} bursts/min, tail ${f.chosen.tailGapMs! / 1000} s, burst gap ${f.chosen.burstGapMs} ms`,
      );
    }
    const m = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(`mean over folds: held-out ${fmt(m(folds.map((f) => f.heldOutErrorPct)))}%, defaults ${fmt(m(folds.map((f) => f.defaultErrorPct)))}%`);
  }
}

const invoked = process.argv[1] ? pathToFileURL(realpathSync(process.argv[1])).href : '';
if (import.meta.url === invoked) main(process.argv.slice(2));
