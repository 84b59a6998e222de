/**
 * The running agent: capture (live or a replayed file) → decode → pseudonymize → sighting windows →
 * outbox → publisher. Closed windows are written to the outbox in one transaction each; the publisher
 * is nudged and sends what the broker will take. Stopping flushes the open windows first, so a SIGTERM
 * loses nothing.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { InputError } from '../../shared/errors.js';
import { readCaptureFileAsync, type ReadResult } from '../capture/file-reader.js';
import type { AgentConfig } from '../config/agent-config.js';
import { SightingAggregator, type BeaconIds, type ClosedWindow } from '../aggregate/sightings.js';
import { EdgePipeline } from '../pipeline/edge-pipeline.js';
import type { Pseudonymizer } from '../pseudonymize/pseudonymizer.js';
import { Outbox } from '../outbox/outbox.js';
import { Publisher } from '../publish/publisher.js';
import type { Observation } from '../decode/observation.js';

export interface AgentCounters {
  windows: number;
  sightings: number;
  batches: number;
}

export class Agent {
  readonly pipeline: EdgePipeline;
  readonly aggregator: SightingAggregator;
  readonly outbox: Outbox;
  readonly publisher: Publisher | null;
  readonly counters: AgentCounters = { windows: 0, sightings: 0, batches: 0 };
  private readonly beacons: BeaconIds;

  constructor(
    readonly config: AgentConfig,
    pseudo: Pseudonymizer,
    private readonly log: Logger,
  ) {
    this.aggregator = new SightingAggregator(config.windows.seconds * 1000, config.windows.lateSeconds * 1000);
    this.beacons = {
      ibeacon: (o: Observation) => pseudo.cidForIBeacon(o.buf, o.ibeaconUuidOff, o.ibeaconMajor, o.ibeaconMinor, o.tsMs),
      eddystone: (o: Observation) => pseudo.cidForEddystone(o.buf, o.eddystoneNsOff, o.tsMs),
    };
    this.pipeline = new EdgePipeline(pseudo, (o, cid) => {
      const d = pseudo.dayInterval(o.tsMs);
      this.aggregator.add(o, cid, d.day, d.startMs, d.endMs, this.beacons);
    });
    this.outbox = new Outbox(config.outbox.path, {
      maxRows: config.outbox.maxRows,
      maxBytes: config.outbox.maxMegabytes * 1024 * 1024,
      maxAgeMs: config.outbox.maxAgeHours * 3_600_000,
    });
    const b = config.broker;
    this.publisher = b
      ? new Publisher(
          this.outbox,
          {
            broker: { ...b, password: b.password ?? (b.passwordFile ? readPassword(b.passwordFile) : undefined) },
            identity: { tenant: config.tenant, store: config.store, agent: config.agent },
            maxInFlight: b.maxInFlight,
            describe: () => this.describe(),
          },
          log,
        )
      : null;
  }

  start(): void {
    this.publisher?.start();
  }

  /** Moves complete windows into the outbox; `all` at the end of a replay or on shutdown. */
  flushWindows(nowMs = -Infinity, all = false): void {
    const closed = this.aggregator.takeClosed(nowMs, all);
    for (const w of closed) this.store(w);
    if (closed.length) this.publisher?.pump();
  }

  /** A capture file through the whole agent, as fast as it goes or at the pace it was recorded. */
  async replay(path: string, speed: 'max' | 'realtime', signal?: AbortSignal): Promise<ReadResult> {
    let firstTs = NaN;
    let lastTs = NaN;
    const t0 = Date.now();
    const onRecord = this.pipeline.onRecord;
    const result = await readCaptureFileAsync(
      path,
      (lt, buf, off, caplen, orig, ts) => {
        if (Number.isNaN(firstTs)) firstTs = ts;
        lastTs = ts;
        onRecord(lt, buf, off, caplen, orig, ts);
      },
      {
        chunkBytes: speed === 'realtime' ? 16 * 1024 : 1024 * 1024,
        signal,
        onChunk: async () => {
          this.flushWindows();
          if (speed === 'realtime') {
            const ahead = lastTs - firstTs - (Date.now() - t0);
            if (ahead > 0) await new Promise((r) => setTimeout(r, Math.min(ahead, 1000)));
          }
        },
      },
    );
    this.flushWindows(-Infinity, true);
    return result;
  }

  /** Flushes open windows, finishes in-flight publishes, disconnects, closes the outbox. */
  async stop(drainMs = 5000): Promise<void> {
    this.flushWindows(-Infinity, true);
    if (this.publisher) {
      await this.publisher.drain(drainMs);
      await this.publisher.stop(drainMs);
    }
    this.outbox.close();
  }

  describe(): Record<string, unknown> {
    const s = this.outbox.stats();
    const c = this.pipeline.counters;
    return {
      // HQ buckets footfall by the store's local hours: it learns the zone from here.
      timezone: this.config.timezone,
      frames: c.frames,
      malformed: c.malformed,
      optedOut: c.optedOut,
      windows: this.counters.windows,
      sightings: this.counters.sightings,
      outbox: { rows: s.rows, bytes: s.bytes, oldestAgeSeconds: s.oldestMs === null ? null : Math.round((Date.now() - s.oldestMs) / 1000), dropped: s.dropped },
    };
  }

  private store(w: ClosedWindow): void {
    const size = this.config.outbox.batchSize;
    const bodies: string[] = [];
    const window = { start: w.start, end: w.end, seconds: (w.end - w.start) / 1000 };
    // One message per batchSize sightings; the ephemeral counts ride with the first.
    for (let i = 0; i === 0 || i < w.sightings.length; i += size) {
      bodies.push(JSON.stringify({ window, sightings: w.sightings.slice(i, i + size), ephemeral: i === 0 ? w.ephemeral : [] }));
    }
    this.outbox.append('sightings', w.epoch, bodies);
    this.counters.windows++;
    this.counters.sightings += w.sightings.length;
    this.counters.batches += bodies.length;
    this.log.debug({ epoch: w.epoch, start: w.start, sightings: w.sightings.length, batches: bodies.length }, 'window closed');
  }
}

function readPassword(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new InputError(`cannot read broker.passwordFile ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
