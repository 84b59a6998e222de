/**
 * Connected stations from the access point itself (OpenWrt, or Debian with hostapd): no monitor
 * interface needed. Two real processes:
 *   - `iw dev <if> station dump`, every pollSeconds: each associated station with its signal — the
 *     station's presence, as a sighting;
 *   - `hostapd_cli -i <if> -a /bin/echo`: hostapd's events (AP-STA-CONNECTED / AP-STA-DISCONNECTED), so a
 *     station counts from the moment it connects, not from the next poll.
 * Stations of the store's own AP are connected by definition: a randomized (per-network) address is
 * `associated`. The parsers are pure; the process edge reports failures with the fix, like libpcap's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CheckError } from '../../shared/errors.js';
import { parseMac } from '../../shared/identity/mac.js';

const MAX_DUMP = 4 << 20;

export interface StationReport {
  mac: number;
  /** dBm (the signal, or its average when the driver gives no last-frame signal); NaN when unknown. */
  rssi: number;
  /** Milliseconds since the station's last frame (inactive time); 0 when unknown. */
  inactiveMs: number;
}

export type StationEvent = { kind: 'connected' | 'disconnected'; mac: number };

/** Parses `iw dev <if> station dump` (iw 5.x / 6.x): one block per "Station <mac> (on <if>)". Unknown lines are skipped. */
export function parseStationDump(text: string): StationReport[] {
  const out: StationReport[] = [];
  let cur: StationReport | null = null;
  let avg = NaN;
  const done = () => {
    if (cur) {
      if (Number.isNaN(cur.rssi)) cur.rssi = avg;
      out.push(cur);
    }
  };
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    const st = /^Station ([0-9a-fA-F:]{17})\b/.exec(line);
    if (st) {
      done();
      cur = null;
      avg = NaN;
      try {
        cur = { mac: parseMac(st[1]!), rssi: NaN, inactiveMs: 0 };
      } catch {
        cur = null; // not an address: the block is skipped
      }
      continue;
    }
    if (!cur) continue;
    const kv = /^\s+([a-z][a-z /]*?):\s*(.*)$/i.exec(line);
    if (!kv) continue;
    const [, key, value] = kv;
    if (key === 'signal') cur.rssi = dbm(value!);
    else if (key === 'signal avg') avg = dbm(value!);
    else if (key === 'inactive time') cur.inactiveMs = Number.parseInt(value!, 10) || 0;
  }
  done();
  return out;
}

function dbm(v: string): number {
  const m = /^(-?\d{1,3})\b/.exec(v.trim());
  const n = m ? Number(m[1]) : NaN;
  return n >= -127 && n <= 20 ? n : NaN;
}

/**
 * Parses a line hostapd_cli's action program printed: `<ifname> AP-STA-CONNECTED <mac> [...]` (with
 * `-a /bin/echo`), or an interactive-mode event `<3>AP-STA-CONNECTED <mac>`. Null for anything else.
 */
export function parseHostapdEvent(line: string): StationEvent | null {
  const m = /(?:^|\s|>)AP-STA-(CONNECTED|DISCONNECTED) ([0-9a-fA-F:]{17})(?:\s|$)/.exec(line.trim());
  if (!m) return null;
  try {
    return { kind: m[1] === 'CONNECTED' ? 'connected' : 'disconnected', mac: parseMac(m[2]!) };
  } catch {
    return null;
  }
}

export interface StationSourceOptions {
  iface: string;
  pollSeconds: number;
  /** Also follow hostapd's events (default true). */
  hostapd: boolean;
  /** Program names (tests point them elsewhere; PATH is searched). */
  iwPath?: string;
  hostapdCliPath?: string;
}

export interface StationSink {
  /** A station heard at tsMs: `connected` on an event, else from the poll. */
  (report: StationReport, tsMs: number): void;
}

/** The advice for a failed tool, by what it said (never a stack trace). */
export function stationToolAdvice(tool: 'iw' | 'hostapd_cli', iface: string, code: string | null, stderr: string): string {
  if (code === 'ENOENT') {
    return tool === 'iw'
      ? `iw is not installed: apt-get install iw (OpenWrt: opkg install iw)`
      : `hostapd_cli is not installed: apt-get install hostapd (OpenWrt: opkg install hostapd-utils), or set capture.wifi.stations.hostapd: false to poll the station list only`;
  }
  const msg = stderr.trim().split('\n').slice(-1)[0] ?? '';
  if (/permission|not permitted|EPERM|EACCES|Operation not permitted/i.test(msg)) {
    return tool === 'iw'
      ? `${tool} may not read ${iface}'s stations (${msg}): run the agent with CAP_NET_ADMIN (the installed service has it) or as root`
      : `hostapd_cli may not open hostapd's control socket (${msg}): add the agent's user to the group of ctrl_interface_group in hostapd.conf, or run as root`;
  }
  if (/nl80211 not found/i.test(msg)) return `iw finds no WiFi driver here (${msg}): capture.wifi.stations needs the access point's own machine, with its WiFi interface up`;
  if (/Failed to connect to hostapd|Could not connect/i.test(msg)) return `hostapd_cli cannot reach hostapd on ${iface} (${msg}): is hostapd running, with ctrl_interface set in hostapd.conf?`;
  if (/No such device|does not exist/i.test(msg)) return `${tool}: there is no interface ${iface} (${msg}): set capture.wifi.stations.interface to the AP's interface (see \`iw dev\`)`;
  return `${tool} failed on ${iface}${msg ? `: ${msg}` : ''}`;
}

/** Runs the poller and the event follower; `stop()` ends both. Errors go to onError with their advice. */
export class StationSource {
  private timer: NodeJS.Timeout | null = null;
  private events: ChildProcess | null = null;
  private stopped = false;

  constructor(
    private readonly opts: StationSourceOptions,
    private readonly sink: StationSink,
    private readonly onError: (err: CheckError) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Polls once (so a broken setup fails at start, with its advice), then keeps polling and following. */
  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => {
      this.poll().catch((err: CheckError) => this.onError(err));
    }, this.opts.pollSeconds * 1000);
    if (this.opts.hostapd) this.follow();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.events?.kill();
  }

  /** One `iw dev <if> station dump`. */
  poll(): Promise<void> {
    const o = this.opts;
    return new Promise((resolve, reject) => {
      const child = spawn(o.iwPath ?? 'iw', ['dev', o.iface, 'station', 'dump'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      // A station list is a few KB per station: 4 MB is far more than any AP holds.
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        if (out.length < MAX_DUMP) out += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d.slice(0, 4096)));
      child.once('error', (e: NodeJS.ErrnoException) => reject(new CheckError(stationToolAdvice('iw', o.iface, e.code ?? null, ''))));
      child.once('close', (code) => {
        if (code !== 0) return reject(new CheckError(stationToolAdvice('iw', o.iface, null, err)));
        const t = this.now();
        for (const s of parseStationDump(out)) this.sink(s, t - Math.min(s.inactiveMs, o.pollSeconds * 1000));
        resolve();
      });
    });
  }

  private follow(): void {
    const o = this.opts;
    const child = spawn(o.hostapdCliPath ?? 'hostapd_cli', ['-i', o.iface, '-a', '/bin/echo'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.events = child;
    let buf = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const e = parseHostapdEvent(line);
        if (e?.kind === 'connected') this.sink({ mac: e.mac, rssi: NaN, inactiveMs: 0 }, this.now());
      }
      if (buf.length > 65_536) buf = '';
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d.slice(0, 4096)));
    child.once('error', (e: NodeJS.ErrnoException) => this.onError(new CheckError(stationToolAdvice('hostapd_cli', o.iface, e.code ?? null, ''))));
    child.once('close', (code) => {
      if (!this.stopped) this.onError(new CheckError(stationToolAdvice('hostapd_cli', o.iface, null, err || `exited with ${code}`)));
    });
  }
}
