/** `omniloop agent run|replay`: the agent process, fed by the radios or by a capture file. */
import type { Command } from 'commander';
import { CheckError, InputError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { printJson, printLine } from '../../shared/cli/output.js';
import { openLiveCapture, type LiveCapture } from '../capture/live.js';
import { ChannelHopper } from '../capture/channel-hopper.js';
import { StationSource } from '../capture/station-source.js';
import type { AgentConfig } from '../config/agent-config.js';
import { Agent } from '../runtime/agent.js';
import { StatusServer } from '../runtime/status-server.js';
import { StoreApi } from '../runtime/store-api.js';
import { readTokenFile } from '../../shared/http/json-api.js';
import { pseudonymizerFor, resolveIdentity } from './identity-options.js';
import { deriveLinkKey } from '../../shared/identity/keys.js';

export function configureAgent(agent: Command): void {
  agent
    .command('run')
    .description('run the agent from its config: live capture → MQTT, until SIGTERM/SIGINT')
    .requiredOption('-c, --config <file>', 'agent config (YAML)')
    .action(async (flags: { config: string }) => runAgent(flags.config));
  agent
    .command('replay')
    .description('feed a capture file through the whole agent instead of a radio, then flush and exit')
    .argument('<file>', 'capture file')
    .requiredOption('-c, --config <file>', 'agent config (YAML)')
    .option('--speed <speed>', 'max (as fast as possible) or realtime (at the pace it was recorded)', 'max')
    .option('--drain-seconds <n>', 'how long to wait for the broker to acknowledge everything at the end', '30')
    .option('--json', 'print a JSON summary at the end')
    .action(async (file: string, flags: { config: string; speed: string; drainSeconds: string; json?: boolean }) => replay(file, flags));

}

async function setup(configPath: string): Promise<{ cfg: AgentConfig; agent: Agent }> {
  const id = await resolveIdentity({ config: configPath }, false);
  const cfg = id.config!;
  // Checked before the outbox opens: a missing, open or malformed token file stops the start at once.
  if (cfg.storeApi) readTokenFile(cfg.storeApi.tokenFile, 'storeApi.tokenFile');
  const log = createLogger('omniloop-agent');
  for (const w of id.warnings) log.warn(w);
  if (!cfg.broker) log.warn('no broker in the config: sightings stay in the outbox');
  return { cfg, agent: new Agent(cfg, pseudonymizerFor(id), log, { staticOptout: id.optoutTokens, linkKey: deriveLinkKey(id.secret, id.tenant) }) };
}

async function replay(file: string, flags: { config: string; speed: string; drainSeconds: string; json?: boolean }): Promise<void> {
  if (flags.speed !== 'max' && flags.speed !== 'realtime') throw new InputError(`--speed must be max or realtime, not ${JSON.stringify(flags.speed)}`);
  const drainMs = Number(flags.drainSeconds) * 1000;
  if (!Number.isFinite(drainMs) || drainMs < 0) throw new InputError('--drain-seconds must be a number of seconds');
  const { cfg, agent } = await setup(flags.config);
  const status = await startStatus(agent, cfg);
  const storeApi = await startStoreApi(agent, cfg);
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  agent.start();
  let read;
  try {
    read = await agent.replay(file, flags.speed, ac.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const drained = agent.publisher ? await agent.publisher.drain(drainMs) : false;
  const left = agent.outbox.stats();
  const summary = {
    frames: agent.pipeline.counters.frames,
    malformed: agent.pipeline.counters.malformed,
    optedOut: agent.pipeline.counters.optedOut,
    ...agent.counters,
    published: agent.publisher?.published ?? 0,
    outbox: { rows: left.rows, dropped: left.dropped },
    drained,
    interrupted: ac.signal.aborted,
    truncated: read.truncated !== null,
  };
  await storeApi?.stop();
  await agent.stop(Math.min(drainMs, 5000));
  await status?.stop();
  if (flags.json) printJson(summary);
  else printLine(`replayed ${summary.frames} frames: ${summary.windows} windows, ${summary.sightings} sightings in ${summary.batches} batches; ${summary.published} published, ${summary.outbox.rows} left in the outbox`);
  if (agent.publisher && !drained) throw new CheckError(`the broker did not acknowledge everything within ${flags.drainSeconds} s (${agent.publisher.lastError ?? 'no connection'}); the rest stays in the outbox`);
}

async function runAgent(configPath: string): Promise<void> {
  const { cfg, agent } = await setup(configPath);
  const log = createLogger('omniloop-agent');
  const captures: LiveCapture[] = [];
  let hopper: ChannelHopper | null = null;
  const wifi = cfg.capture.wifi;
  if (wifi?.interface) {
    hopper = new ChannelHopper(wifi.interface, wifi.channels, wifi.dwellMs);
    captures.push(await openLiveCapture({ iface: wifi.interface, kind: 'wifi' }, agent.pipeline.onRecord));
  }
  if (cfg.capture.ble) captures.push(await openLiveCapture({ iface: cfg.capture.ble.interface, kind: 'ble' }, agent.pipeline.onRecord));
  // On the access point itself: its connected stations (fails at start with the fix when iw or hostapd_cli cannot).
  let stations: StationSource | null = null;
  if (wifi?.stations) {
    const st = wifi.stations;
    stations = new StationSource(
      { iface: st.interface, pollSeconds: st.pollSeconds, hostapd: st.hostapd },
      (r, ts) => agent.pipeline.onStation(r.mac, r.rssi, ts),
      (err) => log.warn({ reason: err.message }, 'station list'),
    );
    await stations.start();
  }
  if (captures.length === 0 && !stations) throw new InputError('the config names no capture interface (capture.wifi.interface, capture.wifi.stations or capture.ble.interface)');
  const status = await startStatus(agent, cfg);
  const storeApi = await startStoreApi(agent, cfg);
  agent.start();
  hopper?.on('refused', (ch, why) => log.warn({ channel: ch, why }, 'channel refused; skipping it'));
  await hopper?.start();
  const tick = setInterval(() => agent.flushWindows(Date.now()), 1000);
  log.info({ interfaces: captures.map((c) => c.iface), stations: wifi?.stations?.interface ?? null }, 'agent running');
  await new Promise<void>((resolve, reject) => {
    hopper?.on('error', reject);
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  }).finally(async () => {
    clearInterval(tick);
    hopper?.stop();
    for (const c of captures) c.close();
    stations?.stop();
    await storeApi?.stop();
    await agent.stop();
    await status?.stop();
    log.info('agent stopped');
  });
}

/** The local status endpoint, unless the config turns it off (port 0); a taken port is a clear error. */
async function startStatus(agent: Agent, cfg: AgentConfig): Promise<StatusServer | null> {
  if (!cfg.status.port) return null;
  const server = new StatusServer(agent, cfg.status.port);
  try {
    await server.start();
  } catch (err) {
    agent.outbox.close();
    throw new CheckError(`cannot serve the status endpoint on 127.0.0.1:${cfg.status.port} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): another agent running? set status.port`);
  }
  return server;
}

/** The endpoint for store systems (identify events, signage), when the config has one. */
async function startStoreApi(agent: Agent, cfg: AgentConfig): Promise<StoreApi | null> {
  const api = cfg.storeApi;
  if (!api) return null;
  const server = new StoreApi(agent, readTokenFile(api.tokenFile, 'storeApi.tokenFile'), createLogger('omniloop-agent'));
  try {
    await server.start();
  } catch (err) {
    throw new CheckError(`cannot serve the store API on ${api.host}:${api.port} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): set storeApi.port`);
  }
  return server;
}
