/**
 * A radio hears one channel at a time; phones probe on all of them. The hopper cycles a monitor
 * interface over a channel list with a dwell time, through `iw`. A channel the regulatory domain
 * refuses is reported once and dropped from the cycle; if none is left, the hopper stops with an error.
 */
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { CheckError, InputError } from '../../shared/errors.js';

/** Runs a command; rejects with an Error whose message is the command's stderr (or spawn error). */
export type CommandRunner = (cmd: string, args: string[]) => Promise<void>;

export const execRunner: CommandRunner = (cmd, args) =>
  new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 2000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const e = err as NodeJS.ErrnoException;
      reject(Object.assign(new Error(String(stderr).trim() || e.message), { code: e.code }));
    });
  });

const CH_2G = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
const CH_5G = new Set([32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 96, 100, 104, 108, 112, 116, 120, 124, 128, 132, 136, 140, 144, 149, 153, 157, 161, 165, 169, 173, 177]);

/** Channel numbers (2.4/5 GHz) or frequencies in MHz (needed for 6 GHz, where numbers repeat). */
export function validateChannels(list: readonly number[]): number[] {
  if (list.length === 0) throw new InputError('the channel list is empty');
  for (const c of list) {
    const ok = Number.isInteger(c) && (CH_2G.has(c) || CH_5G.has(c) || (c >= 2412 && c <= 7115));
    if (!ok) throw new InputError(`channel ${c} is not a WiFi channel (2.4 GHz 1-14, 5 GHz 36-177, or a frequency in MHz)`);
  }
  return [...list];
}

export function validateDwell(ms: number): number {
  if (!Number.isInteger(ms) || ms < 50 || ms > 60_000) throw new InputError(`dwell must be 50 to 60000 ms, not ${ms}`);
  return ms;
}

export interface HopperEvents {
  hop: [channel: number];
  refused: [channel: number, reason: string];
  error: [err: CheckError];
}

export class ChannelHopper extends EventEmitter<HopperEvents> {
  private readonly channels: number[];
  private readonly dwellMs: number;
  private readonly refused = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private index = 0;
  private running = false;
  current: number | null = null;
  hops = 0;

  constructor(
    private readonly iface: string,
    channels: readonly number[],
    dwellMs: number,
    private readonly run: CommandRunner = execRunner,
  ) {
    super();
    this.channels = validateChannels(channels);
    this.dwellMs = validateDwell(dwellMs);
  }

  /** Tunes to the first usable channel, then keeps hopping (unless there is only one). */
  async start(): Promise<void> {
    this.running = true;
    await this.step();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  get usableChannels(): number[] {
    return this.channels.filter((c) => !this.refused.has(c));
  }

  private async step(): Promise<void> {
    if (!this.running) return;
    const usable = this.usableChannels;
    if (usable.length === 0) {
      this.stop();
      this.emit('error', new CheckError(`${this.iface}: the radio refused every channel in the list (${this.channels.join(', ')}); check the regulatory domain (\`iw reg get\`) and the channel list`));
      return;
    }
    const ch = usable[this.index % usable.length]!;
    this.index++;
    try {
      await this.tune(ch);
      this.current = ch;
      this.hops++;
      this.emit('hop', ch);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') {
        this.stop();
        this.emit('error', new CheckError('`iw` not found: apt-get install iw'));
        return;
      }
      this.refused.add(ch);
      this.emit('refused', ch, e.message.split('\n')[0]!);
      return this.step(); // try the next channel right away
    }
    if (!this.running || usable.length === 1) return; // one channel: set once, no hopping
    this.timer = setTimeout(() => void this.step(), this.dwellMs);
    this.timer.unref();
  }

  private tune(ch: number): Promise<void> {
    return ch >= 2412 ? this.run('iw', ['dev', this.iface, 'set', 'freq', String(ch)]) : this.run('iw', ['dev', this.iface, 'set', 'channel', String(ch)]);
  }
}
