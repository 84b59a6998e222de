/** `omniloop decode FILE`: a capture file through decode and pseudonymize, to the terminal or a script. */
import type { Command } from 'commander';
import { InputError } from '../../shared/errors.js';
import { BufferedStdout, formatTable, notice, printJson, printLine } from '../../shared/cli/output.js';
import { readCaptureFile, type ReadResult } from '../capture/file-reader.js';
import { isSupportedLinkType, linkTypeLabel, unsupportedLinkTypeError } from '../decode/frame-decoders.js';
import { EdgePipeline, type PseudonymizedSink } from '../pipeline/edge-pipeline.js';
import { SummaryCollector, type CaptureSummary } from '../pipeline/capture-summary.js';
import { StoreNetworkWatcher } from '../pipeline/store-networks.js';
import { addIdentityOptions, pseudonymizerFor, resolveIdentity, type IdentityFlags } from './identity-options.js';
import { observationToJson, observationToText } from './observation-format.js';

interface DecodeFlags extends IdentityFlags {
  json?: boolean;
  summary?: boolean;
  showNames?: boolean;
  network?: string[];
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function configureDecode(cmd: Command): void {
  cmd
    .argument('<file>', 'capture file')
    .option('--json', 'machine-readable output: one JSON object per observation (with --summary: one object)')
    .option('-s, --summary', 'print counts instead of observations')
    .option('--show-names', 'also show SSIDs and BLE device names (local diagnostics only: they can name a person)')
    .option('--network <ssid>', "the store's own WiFi network (repeatable): addresses connected to it are `associated` and get Consumer-IDs", collect);
  addIdentityOptions(cmd).action(async (file: string, flags: DecodeFlags) => runDecode(file, flags));
}

export async function runDecode(file: string, flags: DecodeFlags): Promise<void> {
  const id = await resolveIdentity(flags, true);
  for (const w of id.warnings) notice(w);
  const pseudo = pseudonymizerFor(id);
  const summary = new SummaryCollector();
  const out = new BufferedStdout();
  let sink: PseudonymizedSink;
  if (flags.summary) sink = (o) => summary.add(o);
  else if (flags.json) sink = (o, cid) => out.write(JSON.stringify(observationToJson(o, cid, pseudo, !!flags.showNames)) + '\n');
  else sink = (o, cid) => out.write(observationToText(observationToJson(o, cid, pseudo, !!flags.showNames)) + '\n');

  const networks = flags.network?.length ? new StoreNetworkWatcher(flags.network.map((ssid) => ({ ssid }))) : null;
  const pipeline = new EdgePipeline(pseudo, sink, networks);
  const read = readCaptureFile(file, pipeline.onRecord);
  out.flushSync();

  if (!read.linktypes.some(isSupportedLinkType)) throw unsupportedLinkTypeError(file, read.linktypes);
  const unsupported = read.linktypes.filter((lt) => !isSupportedLinkType(lt));
  if (unsupported.length) notice(`${file}: skipped ${pipeline.counters.unsupported} frames of unsupported link type ${unsupported.map(linkTypeLabel).join(', ')}`);
  if (read.truncated) notice(`${file}: the last record is cut short at byte ${read.truncated.offset} (${read.truncated.have} of ${read.truncated.need} bytes): ignored`);

  if (flags.summary) {
    const s = summary.result(pipeline.counters, read.linktypes);
    if (flags.json) printJson({ ...s, truncated: read.truncated !== null });
    else printLine(summaryText(file, read, s));
  }
  if (read.corrupt) throw new InputError(`${file} is corrupt at byte ${read.corrupt.offset}: ${read.corrupt.reason}; the ${read.records} records before it were decoded`);
}

function summaryText(file: string, read: ReadResult, s: CaptureSummary): string {
  const rows: (string | number)[][] = [
    ['frames', s.frames],
    ['malformed', s.malformed],
    ['ignored', s.ignored],
    ['opted out', s.optedOut],
    ['wifi probe requests', s.wifi.probeRequests],
    ['wifi frames to store APs', s.wifi.connectedFrames],
    ['wifi devices: global', s.wifi.devices.global],
    ['wifi devices: randomized', s.wifi.devices.randomized],
    ['wifi devices: associated', s.wifi.devices.associated],
    ['wifi devices: estimated', s.wifi.devices.estimated],
    ['ble advertisements', s.ble.advertisements],
    ['ble devices: public', s.ble.devices.public],
    ['ble devices: random static', s.ble.devices.static],
    ['ble devices: resolvable private', s.ble.devices.rpa],
    ['ble devices: non-resolvable', s.ble.devices.nrpa],
    ['ble devices: estimated', s.ble.devices.estimated],
    ['iBeacons', s.ble.ibeacons],
    ['Eddystone-UIDs', s.ble.eddystones],
  ];
  if (s.unsupported) rows.splice(3, 0, ['unsupported link type', s.unsupported]);
  return `${file}: ${read.format}, link type ${s.linktypes.map(linkTypeLabel).join(', ')}\n${formatTable(['', 'count'], rows)}`;
}
