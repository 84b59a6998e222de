/**
 * Preloaded with `node --import` by the start-up benchmark: at exit, writes the CPU time this process
 * used since it started (user + system, microseconds) to $CPU_LOG.
 */
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  const log = process.env.CPU_LOG;
  if (log) writeFileSync(log, JSON.stringify(process.cpuUsage()));
});
