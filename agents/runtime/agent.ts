/**
 * The running agent: capture (live or a replayed file) → decode → pseudonymize → sighting windows →
 * outbox → publisher. Closed windows are written to the outbox in one transaction each; the publisher
 * is nudged and sends what the broker will take. Stopping flushes the open windows first, so a SIGTERM
 * loses nothing.
 */
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { readBrokerFile } from '../../shared/broker/broker-files.js';
import { readCaptureFileAsync, type ReadResult } from '../capture/file-reader.js';
import type { AgentConfig } from '../config/agent-config.js';
import { SightingAggregator, type BeaconIds, type ClosedWindow } from '../aggregate/sightings.js';
import { windowBodies } from '../aggregate/window-bodies.js';
import { ENVELOPE_MAX_BYTES } from '../../shared/wire/batch.js';
import { EdgePipeline } from '../pipeline/edge-pipeline.js';
import type { Pseudonymizer } from '../pseudonymize/pseudonymizer.js';
import { Outbox } from '../outbox/outbox.js';
import { Publisher } from '../publish/publisher.js';
import { AddressClass, macToBytes, type Observation } from '../decode/observation.js';
import { StoreNetworkWatcher } from '../pipeline/store-networks.js';
import { networkToken } from '../../shared/identity/link-keys.js';
import { parseMac } from '../../shared/identity/mac.js';
import { Presence } from '../activation/presence.js';
import { SegmentBook } from '../activation/audience-mix.js';
import { identify, type IdentifyOutcome } from '../identify/identify.js';
import { readOptoutCache, writeOptoutCache } from './optout-cache.js';
import { optoutTopic } from '../../shared/wire/topics.js';
import { validateOptoutList, validateSegmentsPush } from '../../shared/wire/control-schema.js';
import { ControlVerifier, parseControlPublicKey } from '../../shared/wire/control-signing.js';

export interface AgentOptions {
  /** Tokens from the local opt-out file (optoutFile), applied together with HQ's list. */
  staticOptout?: ReadonlySet<string>;
  /** The tenant's link key, for identify events (loyalty ids). */
  linkKey?: Uint8Array;
  /** Tests: SQLite's max_page_count for the outbox, a full disk on demand. */
  outboxMaxPageCount?: number;
}

export interface AgentCounters {
  windows: number;
  sightings: number;
  batches: number;
  /** Identify events turned into links (in the outbox). */
  links: number;
  /** Connected devices linked to their network token (once per device and store-day). */
  connectedLinks: number;
  /** Sightings left out because one alone exceeds outbox.maxBatchBytes (never expected). */
  oversized: number;
}

export class Agent {
  readonly pipeline: EdgePipeline;
  readonly aggregator: SightingAggregator;
  readonly outbox: Outbox;
  readonly publisher: Publisher | null;
  readonly counters: AgentCounters = { windows: 0, sightings: 0, batches: 0, links: 0, connectedLinks: 0, oversized: 0 };
  /** The store's own networks (capture.wifi.networks): who is connected to them. */
  readonly networks: StoreNetworkWatcher | null;
  /** Consumer-IDs of connected devices already linked today (one link per device and store-day). */
  private connectedToday = { day: '', cids: new Set<string>() };
  /** Who is here now (only when the store API is on: signage asks for it). */
  readonly presence: Presence | null;
  /** The segments HQ pushed for the Consumer-IDs present in this store. */
  readonly segments = new SegmentBook();
  /** Version (HQ's ms) of the opt-out list in force; 0 for none. */
  optoutVersion = 0;
  /** HQ's control public keys (config `control`); null: no downlink is applied at all. */
  private readonly verifier: ControlVerifier | null;
  /** Control messages refused (unsigned, badly signed, invalid, stale or dated ahead), and when one was last logged. */
  controlRejected = 0;
  private controlLoggedMs = -Infinity;
  private controlUnlogged = 0;
  private readonly beacons: BeaconIds;

  constructor(
    readonly config: AgentConfig,
    private readonly pseudo: Pseudonymizer,
    private readonly log: Logger,
    private readonly opts: AgentOptions = {},
  ) {
    this.presence = config.storeApi ? new Presence(config.storeApi.presenceSeconds * 1000) : null;
    this.verifier = config.control ? new ControlVerifier(config.control.publicKeys.map(parseControlPublicKey)) : null;
    if (!this.verifier && config.broker) log.warn('no control.publicKeys in the config: opt-out lists and segments from HQ are not applied (HQ signs them; see `omniloop key control`)');
    this.applyCachedOptout();
    this.aggregator = new SightingAggregator(config.windows.seconds * 1000, config.windows.lateSeconds * 1000);
    this.beacons = {
      ibeacon: (o: Observation) => pseudo.cidForIBeacon(o.buf, o.ibeaconUuidOff, o.ibeaconMajor, o.ibeaconMinor, o.tsMs),
      eddystone: (o: Observation) => pseudo.cidForEddystone(o.buf, o.eddystoneNsOff, o.tsMs),
    };
    const presence = this.presence;
    const wifi = config.capture.wifi;
    // The store's networks from monitor mode, and/or the AP's own station list: who is connected.
    this.networks = wifi?.networks || wifi?.stations ? new StoreNetworkWatcher(wifi.networks ?? [], { holdMs: wifi.associatedHoldHours * 3_600_000 }) : null;
    const linkConnected = wifi?.linkConnected === true && opts.linkKey !== undefined;
    this.pipeline = new EdgePipeline(
      pseudo,
      (o, cid) => {
        const d = pseudo.dayInterval(o.tsMs);
        this.aggregator.add(o, cid, d.day, d.startMs, d.endMs, this.beacons);
        if (presence && cid !== null) presence.note(cid, o.tsMs, Number.isNaN(o.rssi) ? null : o.rssi);
        if (linkConnected && cid !== null && o.addressClass === AddressClass.WifiAssociated) this.linkConnected(o, cid, d.day);
      },
      this.networks,
    );
    this.outbox = new Outbox(
      config.outbox.path,
      { maxRows: config.outbox.maxRows, maxBytes: config.outbox.maxMegabytes * 1024 * 1024, maxAgeMs: config.outbox.maxAgeHours * 3_600_000 },
      { log, moveAsideCorrupt: true, maxPageCount: opts.outboxMaxPageCount },
    );
    const b = config.broker;
    this.publisher = b
      ? new Publisher(
          this.outbox,
          {
            broker: { ...b, password: b.password ?? (b.passwordFile ? readBrokerFile('passwordFile', b.passwordFile).toString('utf8').trim() : undefined) },
            identity: { tenant: config.tenant, store: config.store, agent: config.agent },
            maxInFlight: b.maxInFlight,
            describe: () => this.describe(),
            onControl: (topic, payload) => this.onControl(topic, payload),
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

  /**
   * An identify event from a store system: hashed on arrival, queued as a link in the outbox (one
   * transaction, published like any batch). Nothing raw is kept.
   */
  identify(body: unknown, maxAgeMs?: number): IdentifyOutcome {
    const api = this.config.storeApi;
    if (!api || !this.opts.linkKey) throw new Error('identify events need the store API and the link key');
    const networks = this.networks;
    const r = identify(body, {
      pseudonymizer: this.pseudo,
      linkKey: this.opts.linkKey,
      defaultCountryCode: api.defaultCountryCode,
      maxAgeMs,
      isConnected: (mac, ts) => networks?.isAssociated(mac, ts) ?? false,
    });
    if (!r.ok) return r;
    // The portal's word that the device is connected: its frames are associated from now on (the body
    // was validated: its address parses).
    if (r.connected && networks) networks.noteConnected(parseMac((body as { mac: string }).mac), r.link.ts);
    this.outbox.append('links', r.epoch, [JSON.stringify({ links: [r.link] })]);
    this.counters.links++;
    this.publisher?.pump();
    return r;
  }

  /**
   * A connected device's first frame of the store-day: its Consumer-ID of the day is linked to its network
   * token (the per-network address keyed with the link key), so HQ joins its days and stores. No person
   * is named and no consent decided: the link only says that the day's device is that connected device.
   */
  private linkConnected(o: Observation, cid: string, day: string): void {
    const today = this.connectedToday;
    if (today.day !== day) {
      if (day < today.day) return; // a straggler of yesterday: its device was linked then
      this.connectedToday = { day, cids: new Set() };
    }
    if (this.connectedToday.cids.has(cid)) return;
    this.connectedToday.cids.add(cid);
    const link = { ts: Math.floor(o.tsMs), cid, net: networkToken(this.opts.linkKey!, macToBytes(o.mac)) };
    this.outbox.append('links', day, [JSON.stringify({ links: [link] })]);
    this.counters.connectedLinks++;
  }

  /**
   * Downlink from HQ: the opt-out list (applied at once and cached) and this store's segments. Only what
   * HQ signed for this very topic is applied, and only forward in time: an older version is a replay, one
   * dated far ahead would lock out HQ's next lists. Everything else is counted and ignored.
   */
  onControl(topic: string, payload: Buffer): void {
    const c = this.config;
    if (payload.length === 0) return; // a cleared retained message is no message
    const optout = topic === optoutTopic(c.tenant);
    const segments = !optout && topic.endsWith('/control/segments');
    if (!optout && !segments) return this.log.debug({ topic }, 'control message ignored');
    if (!this.verifier || !c.control) return this.refuseControl(topic, 'no control.publicKeys configured');
    const opened = this.verifier.open(topic, payload);
    if (!opened.ok) return this.refuseControl(topic, opened.reason);
    const latest = Date.now() + c.control.maxFutureMinutes * 60_000;
    if (optout) {
      const v = validateOptoutList(opened.body);
      if (!v.ok) return this.refuseControl(topic, v.reason);
      if (v.value.tenant !== c.tenant) return this.refuseControl(topic, "another tenant's list");
      if (v.value.version > latest) return this.refuseControl(topic, 'version dated in the future');
      if (v.value.version <= this.optoutVersion) return; // a redelivery or a replay of an older list
      try {
        writeOptoutCache(this.optoutCacheFile, payload.toString('utf8'));
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'cannot cache the opt-out list; applied in memory only');
      }
      this.applyOptout(v.value.tokens, v.value.version);
      return;
    }
    const v = validateSegmentsPush(opened.body);
    if (!v.ok) return this.refuseControl(topic, v.reason);
    if (v.value.tenant !== c.tenant || v.value.store !== c.store) return this.refuseControl(topic, 'a segments push for another store');
    if (v.value.ts > latest) return this.refuseControl(topic, 'dated in the future');
    this.segments.set(v.value);
  }

  /** Counted always; logged at most every 10 s (a flood of forged messages must not flood the journal). */
  private refuseControl(topic: string, reason: string): void {
    this.controlRejected++;
    const now = Date.now();
    if (now - this.controlLoggedMs < 10_000) {
      this.controlUnlogged++;
      return;
    }
    this.log.warn({ topic, reason, alsoRefusedSinceLast: this.controlUnlogged }, 'ignored a control message');
    this.controlLoggedMs = now;
    this.controlUnlogged = 0;
  }

  private get optoutCacheFile(): string {
    return this.config.optoutCacheFile ?? join(dirname(this.config.outbox.path), 'optout-cache.json');
  }

  private applyCachedOptout(): void {
    const r = readOptoutCache(this.optoutCacheFile, this.config.tenant, this.verifier);
    if (r.list) this.applyOptout(r.list.tokens, r.list.version);
    else {
      if (r.problem) this.log.warn(r.problem);
      if (this.opts.staticOptout?.size) this.applyOptout([], 0);
    }
  }

  private applyOptout(tokens: readonly string[], version: number): void {
    const all = new Set(tokens);
    for (const t of this.opts.staticOptout ?? []) all.add(t);
    this.pseudo.setOptoutTokens(all);
    this.optoutVersion = version;
    this.log.info({ tokens: all.size, version }, 'opt-out list in force');
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
      links: this.counters.links,
      connected: this.networks ? { ...this.networks.counts(), linked: this.counters.connectedLinks } : null,
      optout: { version: this.optoutVersion },
      control: { signed: this.verifier !== null, rejected: this.controlRejected },
      outbox: { rows: s.rows, bytes: s.bytes, oldestAgeSeconds: s.oldestMs === null ? null : Math.round((Date.now() - s.oldestMs) / 1000), dropped: s.dropped, corruptMovedAside: s.corruptMovedAside, deleteFailures: s.deleteFailures },
    };
  }

  private store(w: ClosedWindow): void {
    const ob = this.config.outbox;
    // Bounded by count and by bytes: the publisher's envelope on top must stay under HQ's and the broker's limit.
    const { bodies, oversized } = windowBodies(w, ob.batchSize, ob.maxBatchBytes - ENVELOPE_MAX_BYTES);
    if (oversized) {
      this.counters.oversized += oversized;
      this.log.warn({ epoch: w.epoch, start: w.start, oversized, maxBatchBytes: ob.maxBatchBytes }, 'sightings larger than outbox.maxBatchBytes alone left out');
    }
    this.outbox.append('sightings', w.epoch, bodies);
    this.counters.windows++;
    this.counters.sightings += w.sightings.length - oversized;
    this.counters.batches += bodies.length;
    this.log.debug({ epoch: w.epoch, start: w.start, sightings: w.sightings.length, batches: bodies.length }, 'window closed');
  }
}
