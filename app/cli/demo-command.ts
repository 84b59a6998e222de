/**
 * `omniloop demo`: the whole product on one machine with no hardware and no services — an embedded
 * broker, HQ on SQLite with its dashboard, and three stores' agents replaying a customer population's
 * traffic (two weeks of history, then live). Progress on stderr, a summary table on stdout, then the
 * dashboard stays up until Ctrl-C (or the demo exits with --exit / --json).
 */
import type { Command } from 'commander';
import { InputError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import type { DemoSummary } from '../demo/run-demo.js';
import { formatTable, printJson, printLine } from '../../shared/cli/output.js';

interface DemoFlags {
  stores: string;
  duration: string;
  historyDays: string;
  customers: string;
  data: string;
  port: string;
  seed: string;
  exit?: boolean;
  json?: boolean;
}

export function configureDemo(cmd: Command): void {
  cmd
    .option('--stores <n>', 'number of stores (1-10)', '3')
    .option('--duration <seconds>', 'seconds of live traffic after the history (0-3600)', '60')
    .option('--history-days <n>', 'days of history before today (0-60)', '14')
    .option('--customers <n>', 'customers per store (50-5000)', '1000')
    .option('--data <dir>', 'folder for the demo key, tokens, captures and databases', '.omniloop-demo')
    .option('--port <port>', 'port of the HQ API and dashboard on 127.0.0.1 (0: any free one)', '8788')
    .option('--seed <n>', 'seed of the generated population', '7')
    .option('--exit', 'exit after the summary instead of keeping the dashboard up')
    .option('--json', 'print the summary as JSON (implies --exit)')
    .action(async (flags: DemoFlags) => demo(flags));
}

function int(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) throw new InputError(`${flag} must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`);
  return n;
}

async function demo(flags: DemoFlags): Promise<void> {
  const opts = {
    stores: int('--stores', flags.stores, 1, 10),
    durationSeconds: int('--duration', flags.duration, 0, 3600),
    historyDays: int('--history-days', flags.historyDays, 0, 60),
    customersPerStore: int('--customers', flags.customers, 50, 5000),
    port: int('--port', flags.port, 0, 65535),
    seed: int('--seed', flags.seed, 0, 2 ** 31),
    data: flags.data,
  };
  const ac = new AbortController();
  const stopRequested = new Promise<void>((resolve) => {
    const onSignal = () => {
      if (!ac.signal.aborted) process.stderr.write('\ndemo: stopping ...\n');
      ac.abort();
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  const progress = (line: string) => process.stderr.write(`demo: ${line}\n`);
  const { runDemo } = await import('../demo/run-demo.js');
  const { world, summary } = await runDemo({ ...opts, log: createLogger('omniloop-demo', process.env.OMNILOOP_LOG_LEVEL ?? 'warn'), progress, signal: ac.signal });
  try {
    if (flags.json) return printJson(summary);
    printSummary(summary);
    if (flags.exit || ac.signal.aborted) return;
    progress('the dashboard stays up with live activation; Ctrl-C stops everything');
    await stopRequested;
  } finally {
    await world.stop();
  }
}

function printSummary(s: DemoSummary): void {
  const k = (n: number | null) => (n === null ? '<5' : n.toLocaleString('en-US'));
  printLine('');
  printLine('Counts of people below 5 are not shown (k-anonymity).');
  if (s.wholeDay) {
    printLine('');
    printLine(`People heard on ${s.wholeDay} (the last whole day; inside and passing), estimated from what survives address randomization, against the truth:`);
    printLine(
      formatTable(
        ['store', 'people (estimated)', 'truth (phones)', 'error', 'known by Consumer-ID', 'of them on guest WiFi', 'WiFi addresses (naive count)'],
        s.stores.map((f) => {
          const w = f.wholeDay!;
          const e = w.people.estimated;
          const err = e === null || w.truth.phones === 0 ? '-' : `${e >= w.truth.phones ? '+' : ''}${Math.round((100 * (e - w.truth.phones)) / w.truth.phones)} %`;
          const share = w.people.knownShare === null ? '' : ` (${Math.round(100 * w.people.knownShare)} %)`;
          return [f.store, k(e), w.truth.phones.toLocaleString('en-US'), err, `${k(w.people.known)}${share}`, k(w.people.connected), w.truth.wifiAddresses.toLocaleString('en-US')];
        }),
      ),
    );
  }
  const a = s.accuracy;
  if (a.storeDays > 0) printLine(`Over the ${a.storeDays} whole store-days of the history: people estimated ${a.meanErrorPct} % off the truth on average (worst ${a.worstErrorPct} %); counting addresses would be ${a.addressesMeanErrorPct} % off.`);
  printLine('');
  printLine(`Today (${s.day}) so far: people heard (estimated) ${s.stores.map((f) => `${f.store} ${k(f.people.estimated)}`).join(', ')}; the visits of the phones known by Consumer-ID (a stable address, or a per-network one on the guest WiFi):`);
  printLine(
    formatTable(
      ['store', 'frames', 'visitors', 'passers-by', 'median dwell', 'also in another store', 'opted-out frames dropped', 'identify events'],
      s.stores.map((f) => [f.store, f.frames.toLocaleString('en-US'), k(f.uniqueVisitors), k(f.passersBy), f.medianDwellMinutes === null ? '-' : `${f.medianDwellMinutes} min`, k(f.crossStore), f.optedOut.toLocaleString('en-US'), f.links]),
    ),
  );
  const r = s.returning;
  printLine('');
  printLine(`Profiles stitched from identify events and guest WiFi connections, ${r.from}..${r.to}: ${k(r.profiles)}, of which ${k(r.returning)} came back on another day and ${k(r.multiStore)} shopped in several stores.`);
  printLine(`Segments today: ${s.segments.map((x) => `${x.name} ${k(x.profiles)}`).join(', ')}.`);
  printLine(`HQ stored ${s.cloud.batches.toLocaleString('en-US')} batches (${s.cloud.sightings.toLocaleString('en-US')} sightings, ${s.cloud.consumerIds.toLocaleString('en-US')} daily Consumer-IDs); ${s.cloud.duplicates} duplicates dropped, ${s.cloud.deadLetters} dead letters. No MAC address, e-mail or phone left a store.`);
  printLine('');
  printLine(`HQ dashboard:  ${s.dashboardUrl}`);
  printLine(`Store signage: ${s.signageUrl}`);
  if (s.interrupted) printLine('(stopped early: the figures cover what was replayed)');
}
