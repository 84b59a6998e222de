/**
 * `omniloop capture`: live capture on site, decoded and pseudonymized, printed as it arrives — what a
 * technician runs to see that the radio hears phones (and to find their own test phone by its
 * Consumer-ID, from `omniloop whoami`). (`omniloop interfaces` lists what can be captured from).
 */
import type { Command } from 'commander';
import { BufferedStdout, formatTable, notice, printJson, printLine } from '../../shared/cli/output.js';
import { InputError } from '../../shared/errors.js';
import { ChannelHopper } from '../capture/channel-hopper.js';
import { openLiveCapture, type LiveCapture } from '../capture/live.js';
import { SummaryCollector } from '../pipeline/capture-summary.js';
import { EdgePipeline, type PseudonymizedSink } from '../pipeline/edge-pipeline.js';
import { addIdentityOptions, pseudonymizerFor, resolveIdentity, type IdentityFlags } from './identity-options.js';
import { observationToJson, observationToText } from './observation-format.js';

interface CaptureFlags extends IdentityFlags {
  wifi?: string;
  ble?: string;
  channels?: string;
  dwell?: string;
  duration?: string;
  rfmon?: boolean;
  json?: boolean;
  summary?: boolean;
  showNames?: boolean;
}

export function configureCapture(cmd: Command): void {
  cmd
    .option('-w, --wifi <iface>', 'monitor-mode WiFi interface, e.g. mon0 (default: capture.wifi.interface of --config)')
    .option('-b, --ble <iface>', 'Bluetooth capture interface: bluetooth0 or bluetooth-monitor')
    .option('--channels <list>', 'WiFi channels to hop over, comma-separated (default 1,6,11)')
    .option('--dwell <ms>', 'time on each channel in milliseconds (default 250)')
    .option('--duration <seconds>', 'stop after this many seconds (default: until Ctrl-C)')
    .option('--rfmon', 'let libpcap put the WiFi interface into monitor mode')
    .option('--json', 'one JSON object per observation (with --summary: one object at the end)')
    .option('-s, --summary', 'print counts at the end instead of observations')
    .option('--show-names', 'also show SSIDs and BLE device names (local diagnostics only)');
  addIdentityOptions(cmd).action(async (flags: CaptureFlags) => runCapture(flags));
}

function parseIntList(text: string, what: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw new InputError(`${what} must be comma-separated whole numbers, not ${JSON.stringify(text)}`);
  return parts.map(Number);
}

function parsePositive(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InputError(`${what} must be a positive number, not ${JSON.stringify(text)}`);
  return n;
}

async function runCapture(flags: CaptureFlags): Promise<void> {
  const id = await resolveIdentity(flags, true);
  const wifiCfg = id.config?.capture.wifi;
  const wifiIface = flags.wifi ?? wifiCfg?.interface;
  const bleIface = flags.ble ?? id.config?.capture.ble?.interface;
  if (!wifiIface && !bleIface) throw new InputError('nothing to capture from: pass --wifi IFACE and/or --ble IFACE (see `omniloop interfaces`)');
  const channels = flags.channels ? parseIntList(flags.channels, '--channels') : (wifiCfg?.channels ?? [1, 6, 11]);
  const dwell = flags.dwell ? parsePositive(flags.dwell, '--dwell') : (wifiCfg?.dwellMs ?? 250);
  const durationMs = flags.duration ? parsePositive(flags.duration, '--duration') * 1000 : 0;
  for (const w of id.warnings) notice(w);

  const pseudo = pseudonymizerFor(id);
  const summary = new SummaryCollector();
  const out = new BufferedStdout(flags.json || flags.summary ? 1 << 14 : 1);
  let sink: PseudonymizedSink;
  if (flags.summary) sink = (o) => summary.add(o);
  else if (flags.json) sink = (o, cid) => out.write(JSON.stringify(observationToJson(o, cid, pseudo, !!flags.showNames)) + '\n');
  else sink = (o, cid) => out.write(observationToText(observationToJson(o, cid, pseudo, !!flags.showNames)) + '\n');
  const pipeline = new EdgePipeline(pseudo, sink);

  const captures: LiveCapture[] = [];
  let hopper: ChannelHopper | null = null;
  const stopAll = () => {
    hopper?.stop();
    for (const c of captures) c.close();
    out.flushSync();
  };
  try {
    if (wifiIface) {
      hopper = new ChannelHopper(wifiIface, channels, dwell); // validates before anything opens
      captures.push(await openLiveCapture({ iface: wifiIface, kind: 'wifi', rfmon: !!flags.rfmon }, pipeline.onRecord));
    }
    if (bleIface) captures.push(await openLiveCapture({ iface: bleIface, kind: 'ble' }, pipeline.onRecord));
  } catch (err) {
    stopAll();
    throw err;
  }
  notice(`capturing on ${captures.map((c) => `${c.iface} (link type ${c.linktype})`).join(' and ')}${hopper ? `, hopping ${channels.join(',')} every ${dwell} ms` : ''}; Ctrl-C to stop`);

  await new Promise<void>((resolve, reject) => {
    const flushTimer = setInterval(() => out.flushSync(), 500);
    const finish = (err?: Error) => {
      clearInterval(flushTimer);
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      stopAll();
      if (err) reject(err);
      else resolve();
    };
    const onSignal = () => finish();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const timer = durationMs ? setTimeout(() => finish(), durationMs) : null;
    if (hopper) {
      hopper.on('refused', (ch, why) => notice(`${wifiIface}: channel ${ch} refused (${why}); skipping it`));
      hopper.on('error', (err) => finish(err));
      hopper.start().catch(finish);
    }
  });

  const stats = captures.map((c) => ({ iface: c.iface, ...c.stats() }));
  if (flags.summary) {
    const s = summary.result(pipeline.counters, captures.map((c) => c.linktype));
    if (flags.json) printJson({ ...s, interfaces: stats });
    else printLine(formatTable(['', 'count'], [['frames', s.frames], ['malformed', s.malformed], ['wifi probe requests', s.wifi.probeRequests], ['ble advertisements', s.ble.advertisements], ['opted out', s.optedOut]]));
  }
  for (const st of stats) if (st.dropped) notice(`${st.iface}: the kernel dropped ${st.dropped} frames (capture could not keep up)`);
}
