/** HQ's commands: run the consumer, look at what it stored. */
import type { Command } from 'commander';
import { createLogger } from '../../shared/log.js';
import { formatTable, notice, printJson, printLine } from '../../shared/cli/output.js';
import { loadCloudConfig } from '../config/cloud-config.js';
import { Consumer } from '../ingest/consumer.js';
import { SqliteCloudStore } from '../store/sqlite-store.js';

export function registerCloudCommands(program: Command): void {
  const cloud = program.command('cloud').description("HQ's consumer of every store's stream");
  cloud
    .command('run')
    .description('consume the stream (shared subscription) into the database until SIGTERM/SIGINT')
    .requiredOption('-c, --config <file>', 'cloud config (YAML)')
    .action(async (flags: { config: string }) => {
      const cfg = loadCloudConfig(flags.config);
      const log = createLogger('omniloop-cloud');
      const store = new SqliteCloudStore(cfg.database.sqlite);
      const consumer = new Consumer(cfg, store, log);
      await consumer.start();
      log.info({ group: cfg.group }, 'consuming');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await consumer.stop();
      store.close();
      log.info(consumer.counts, 'stopped');
    });
  cloud
    .command('stats')
    .description('what the database holds: batches, sightings, Consumer-IDs, duplicates, dead letters, agents')
    .requiredOption('-c, --config <file>', 'cloud config (YAML)')
    .option('--json', 'machine-readable output')
    .action((flags: { config: string; json?: boolean }) => {
      const store = new SqliteCloudStore(loadCloudConfig(flags.config).database.sqlite);
      const s = store.stats();
      const agents = store.agents();
      store.close();
      if (flags.json) return printJson({ ...s, agentList: agents.map(({ status: _s, ...a }) => a) });
      printLine(formatTable(['', 'count'], Object.entries(s).map(([k, v]) => [k, v])));
      if (agents.length) printLine('\n' + formatTable(['tenant', 'store', 'agent', 'state', 'last seen'], agents.map((a) => [a.tenant, a.store, a.agent, a.state, new Date(a.lastSeenMs).toISOString()])));
    });
  cloud
    .command('dead-letters')
    .description('messages that failed validation, newest first, with the reason')
    .requiredOption('-c, --config <file>', 'cloud config (YAML)')
    .option('-n, --limit <n>', 'how many', '20')
    .option('--json', 'one JSON object per line')
    .action((flags: { config: string; limit: string; json?: boolean }) => {
      const store = new SqliteCloudStore(loadCloudConfig(flags.config).database.sqlite);
      const rows = store.deadLetters(Math.max(1, Number(flags.limit) || 20));
      store.close();
      if (!rows.length) return notice('no dead letters');
      for (const r of rows) {
        if (flags.json) printJson(r);
        else printLine(`${new Date(r.receivedMs).toISOString()}  ${r.topic}  ${r.reason}`);
      }
    });
}
