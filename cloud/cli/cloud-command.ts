/** HQ's commands: run the consumer, look at what it stored. */
import { consumerClientId } from '../ingest/client-id.js';
import type { Command } from 'commander';
import { createLogger } from '../../shared/log.js';
import { formatTable, notice, printJson, printLine } from '../../shared/cli/output.js';
import { graphRules, loadCloudConfig, tenantKey, type CloudConfig } from '../config/cloud-config.js';
import { hostname } from 'node:os';
import { registerOptoutCommands } from './optout-command.js';
import { readTokenFile } from '../../shared/http/json-api.js';
import { openCloudStore } from '../store/open-store.js';
import { dayFigures } from '../analytics/day-figures.js';
import { reportStats } from '../reports/rollups.js';
import { returningProfiles } from '../analytics/returning.js';
import { periodProblem } from '../analytics/period.js';
import { CheckError, InputError } from '../../shared/errors.js';
import { hashEmail, hashPhone, loyaltyKey } from '../../shared/identity/link-keys.js';
import { eraseProfile, findProfile } from '../identity/profiles.js';
import { registerSegmentCommands } from './segments-command.js';

export function configureCloud(cloud: Command): void {
  registerOptoutCommands(cloud);
  cloud
    .command('run')
    .description('consume the stream (shared subscription) into the database until SIGTERM/SIGINT')
    .requiredOption('-c, --config <file>', 'cloud config (YAML)')
    .option('-i, --instance <name>', 'this consumer among several on one host; a restart with the same name resumes its session', '1')
    .action(async (flags: { config: string; instance: string }) => {
      if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(flags.instance)) throw new InputError('--instance is 1-32 characters of a-z, 0-9, _ and -');
      const cfg = loadCloudConfig(flags.config);
      const log = createLogger('omniloop-cloud');
      // The consumer's parts load here, not for every `cloud` command (stats, footfall... need none of them).
      const [{ Consumer }, { ActivationPusher }, { connectBroker }, { ApiServer }, { ControlSigners }] = await Promise.all([import('../ingest/consumer.js'), import('../control/activation.js'), import('../control/broker.js'), import('../api/server.js'), import('../control/signers.js')]);
      // Every control key is read now: a bad or world-readable key file stops the start, not a push later.
      const signers = new ControlSigners(cfg.tenants);
      for (const tenant of Object.keys(cfg.tenants)) signers.maybe(tenant);
      // The API token too: a missing, open or malformed token file stops the start before anything runs.
      const apiToken = cfg.api ? readTokenFile(cfg.api.tokenFile, 'api.tokenFile') : null;
      const store = await openCloudStore(cfg);
      // A chain's JetStream cluster (one durable shared by every HQ process), or the broker's shared subscription.
      const consumer =
        cfg.stream.kind === 'jetstream'
          ? new (await import('../ingest/jetstream-consumer.js')).JetStreamConsumer(cfg.stream, store, log, `omniloop-cloud-${hostname()}-${flags.instance}`)
          : new Consumer(cfg, store, log, cfg.broker.clientId ?? consumerClientId(cfg.group, hostname(), flags.instance, await store.profileKey()));
      try {
        await consumer.start();
      } catch (err) {
        await store.close();
        throw err;
      }
      let activation: InstanceType<typeof ActivationPusher> | null = null;
      if (cfg.activation.intervalSeconds > 0) {
        const client = await connectBroker(cfg, `activation-${flags.instance}`, true);
        client.on('error', (err) => log.warn({ err: err.message }, 'activation: broker connection error'));
        activation = new ActivationPusher(store, client, { intervalMs: cfg.activation.intervalSeconds * 1000, presenceMs: cfg.activation.presenceMinutes * 60_000, graphReuseMs: cfg.activation.graphRefreshSeconds * 1000, rules: cfg.segments, graphRules: graphRules(cfg) }, log, signers);
        activation.start();
      }
      let api: InstanceType<typeof ApiServer> | null = null;
      if (cfg.api && apiToken) {
        api = new ApiServer(store, { token: apiToken, k: cfg.api.k, rules: graphRules(cfg), segments: cfg.segments, reports: { maxStaleMs: cfg.api.reportsMaxStaleSeconds * 1000 }, reportsRefreshMs: cfg.api.reportsRefreshSeconds * 1000 }, log);
        const port = await api.start(cfg.api.port, cfg.api.host);
        log.info({ port }, 'HTTP API listening');
      }
      log.info(cfg.stream.kind === 'jetstream' ? { durable: cfg.stream.durable } : { group: cfg.group }, 'consuming');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await activation?.stop();
      await consumer.stop();
      await api?.stop();
      await store.close();
      log.info(consumer.counts, 'stopped');
    });
  cloud
    .command('stats')
    .description('what the database holds: batches, sightings, Consumer-IDs, duplicates, dead letters, agents')
    .requiredOption('-c, --config <file>', 'cloud config (YAML)')
    .option('--json', 'machine-readable output')
    .action(async (flags: { config: string; json?: boolean }) => {
      const store = await openCloudStore(loadCloudConfig(flags.config));
      const s = await reportStats(store);
      const agents = await store.agents();
      await store.close();
      if (flags.json) return printJson({ ...s, agentList: agents.map(({ status: _s, ...a }) => a) });
      printLine(formatTable(['', 'count'], Object.entries(s).map(([k, v]) => [k, v])));
      if (agents.length) printLine('\n' + formatTable(['tenant', 'store', 'agent', 'state', 'last seen'], agents.map((a) => [a.tenant, a.store, a.agent, a.state, new Date(a.lastSeenMs).toISOString()])));
    });
  cloud
    .command('footfall')
    .description("a store-day's visitors, passers-by, footfall per hour, dwell and cross-store visitors (k-anonymous)")
    .requiredOption('-c, --config <file>', 'cloud config (YAML)')
    .requiredOption('-t, --tenant <name>', 'tenant')
    .requiredOption('-d, --day <YYYY-MM-DD>', 'store-day')
    .option('-s, --store <name>', 'one store (default: all)')
    .option('-k, --k <n>', 'k-anonymity: counts of people below k are not shown', '5')
    .option('--json', 'machine-readable output')
    .action(async (flags: { config: string; tenant: string; day: string; store?: string; k: string; json?: boolean }) => {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(flags.day)) throw new InputError(`--day must be YYYY-MM-DD, not ${JSON.stringify(flags.day)}`);
      const k = Number(flags.k);
      if (!Number.isInteger(k) || k < 1) throw new InputError(`--k must be a whole number of at least 1, not ${JSON.stringify(flags.k)}`);
      const store = await openCloudStore(loadCloudConfig(flags.config));
      const figures = await dayFigures(store, flags.tenant, flags.day, k, flags.store);
      await store.close();
      if (flags.json) return printJson({ tenant: flags.tenant, day: flags.day, k, stores: figures });
      if (!figures.length) return notice(`no sightings for ${flags.tenant} on ${flags.day}`);
      const show = (n: number | null) => (n === null ? `<${k}` : n);
      const share = (x: number | null) => (x === null ? '-' : `${Math.round(100 * x)} %`);
      printLine(formatTable(['store', 'people (estimated)', 'known', 'connected (guest WiFi)', 'known share', 'visitors (known)', 'passers-by (known)', 'visits', 'median dwell min', 'cross-store'], figures.map((f) => [f.store, show(f.people.estimated), show(f.people.known), show(f.people.connected), share(f.people.knownShare), show(f.uniqueVisitors), show(f.passersBy), show(f.visits), f.medianDwellMinutes ?? '-', show(f.crossStore)])));
      printLine('people: every phone heard, inside and passing, estimated where it randomizes its address; visitors, passers-by, dwell and cross-store: the phones known by a stable address only.');
    });
  addIdentifierOptions(cloud.command('profile').description('one anonymous profile: its hashed identifiers, days, stores, visits and consent'))
    .action(async (profile: string | undefined, flags: IdentifierFlags & { config: string; json?: boolean }) => {
      const cfg = loadCloudConfig(flags.config);
      const node = identifierNode(profile, flags, cfg);
      const store = await openCloudStore(cfg);
      const found = await findProfile(store, flags.tenant, node, graphRules(cfg));
      await store.close();
      if (!found) throw new CheckError('no profile for that identifier');
      if (flags.json) return printJson(found);
      printLine(`profile ${found.profile}: ${found.identifiers.length} identifiers, seen on ${found.days.length} days in ${found.stores.length} stores, ${found.visitorVisits} visits (${found.visits - found.visitorVisits} pass-bys), marketing consent: ${found.marketingConsent ? 'yes' : 'no'}`);
      printLine(formatTable(['kind', 'identifier (hashed)'], found.identifiers.map((i) => [i.kind, i.value])));
    });
  addIdentifierOptions(cloud.command('erase').description('erase a person: the whole profile of an identifier, its sightings, and a suppression entry against replays'))
    .action(async (profile: string | undefined, flags: IdentifierFlags & { config: string; json?: boolean }) => {
      const cfg = loadCloudConfig(flags.config);
      const node = identifierNode(profile, flags, cfg);
      const store = await openCloudStore(cfg);
      const r = await eraseProfile(store, flags.tenant, node, graphRules(cfg));
      await store.close();
      if (flags.json) return printJson(r);
      printLine(`erased ${r.identifiers} identifiers, ${r.edges} links and ${r.sightings} sightings; replays of them will be dropped`);
    });
  cloud
    .command('returning')
    .description('profiles seen on two or more days, or in two or more stores, in a period (k-anonymous)')
    .requiredOption('-c, --config <file>', 'cloud config (YAML)')
    .requiredOption('-t, --tenant <name>', 'tenant')
    .requiredOption('--from <YYYY-MM-DD>', 'first store-day')
    .requiredOption('--to <YYYY-MM-DD>', 'last store-day (at most a year after --from)')
    .option('-k, --k <n>', 'k-anonymity threshold', '5')
    .option('--json', 'machine-readable output')
    .action(async (flags: { config: string; tenant: string; from: string; to: string; k: string; json?: boolean }) => {
      const problem = periodProblem(flags.from, flags.to);
      if (problem) throw new InputError(`--from/--to: ${problem}`);
      const k = Number(flags.k);
      if (!Number.isInteger(k) || k < 1) throw new InputError(`--k must be a whole number of at least 1, not ${JSON.stringify(flags.k)}`);
      const cfg = loadCloudConfig(flags.config);
      const store = await openCloudStore(cfg);
      const r = await returningProfiles(store, flags.tenant, flags.from, flags.to, k, graphRules(cfg));
      await store.close();
      if (flags.json) return printJson(r);
      const show = (n: number | null) => (n === null ? `<${k}` : String(n));
      printLine(`${flags.from}..${flags.to}: ${show(r.profiles)} profiles, ${show(r.returning)} returning, ${show(r.multiStore)} in several stores`);
    });
  cloud
    .command('unmerge')
    .description('revoke the links one link batch brought (wrong evidence); profiles are rebuilt without them')
    .requiredOption('-c, --config <file>', 'cloud config (YAML)')
    .requiredOption('-t, --tenant <name>', 'tenant')
    .requiredOption('-s, --store <name>', 'the store the link event came from')
    .requiredOption('--batch <id>', 'the batch id of the link event (agent:instance:seq)')
    .action(async (flags: { config: string; tenant: string; store: string; batch: string }) => {
      if (!/^[a-z0-9][a-z0-9_-]{0,63}:[0-9a-z]{1,36}:\d{1,15}$/.test(flags.batch)) throw new InputError('--batch is agent:instance:seq');
      const store = await openCloudStore(loadCloudConfig(flags.config));
      const n = await store.revokeBatch(flags.tenant, flags.store, flags.batch);
      await store.close();
      if (n === 0) throw new CheckError(`no links of batch ${flags.batch} from store ${flags.store}`);
      printLine(`revoked ${n} links of batch ${flags.batch} from store ${flags.store}`);
    });
  cloud
    .command('dead-letters')
    .description('messages that failed validation, newest first, with the reason')
    .requiredOption('-c, --config <file>', 'cloud config (YAML)')
    .option('-n, --limit <n>', 'how many', '20')
    .option('--json', 'one JSON object per line')
    .action(async (flags: { config: string; limit: string; json?: boolean }) => {
      const store = await openCloudStore(loadCloudConfig(flags.config));
      const rows = await store.deadLetters(Math.max(1, Number(flags.limit) || 20));
      await store.close();
      if (!rows.length) return notice('no dead letters');
      for (const r of rows) {
        if (flags.json) printJson(r);
        else printLine(`${new Date(r.receivedMs).toISOString()}  ${r.topic}  ${r.reason}`);
      }
    });
  registerSegmentCommands(cloud);
}

/** How a person is named on the command line, for profile and erase alike. */
function addIdentifierOptions(cmd: Command): Command {
  return cmd
    .argument('[profile]', 'a profile id (p_...)')
    .requiredOption('-c, --config <file>', 'cloud config (YAML)')
    .requiredOption('-t, --tenant <name>', 'tenant')
    .option('--cid <hex>', "a device's Consumer-ID (with --day)")
    .option('--day <YYYY-MM-DD>', 'the store-day of --cid')
    .option('--email <address>', 'an e-mail address (hashed here, never stored)')
    .option('--phone <number>', 'a phone number (hashed here, never stored)')
    .option('--loyalty <id>', "a loyalty id (keyed here with the tenant's link key, never stored)")
    .option('--country <code>', 'default country code for national phone numbers', '49')
    .option('--json', 'machine-readable output');
}

interface IdentifierFlags {
  tenant: string;
  loyalty?: string;
  cid?: string;
  day?: string;
  email?: string;
  phone?: string;
  country: string;
}

/** The graph node a person is named by on the command line; e-mails and phones are hashed right here. */
function identifierNode(profile: string | undefined, flags: IdentifierFlags, cfg: CloudConfig): string {
  if (profile) {
    if (!/^p_[0-9a-f]{16}$/.test(profile)) throw new InputError('a profile id looks like p_ followed by 16 hex characters');
    return profile;
  }
  if (flags.cid) {
    if (!/^[0-9a-f]{32}$/.test(flags.cid) || !flags.day || !/^\d{4}-\d{2}-\d{2}$/.test(flags.day)) throw new InputError('--cid takes 32 hex characters and needs --day YYYY-MM-DD');
    return `cid:${flags.day}:${flags.cid}`;
  }
  if (flags.email) return `hem:${hashEmail(flags.email)}`;
  if (flags.phone) return `hph:${hashPhone(flags.phone, flags.country)}`;
  if (flags.loyalty) return `loy:${loyaltyKey(tenantKey(cfg, flags.tenant, 'link'), flags.loyalty)}`;
  throw new InputError('name the person: a profile id, --cid with --day, --email, --phone or --loyalty');
}
