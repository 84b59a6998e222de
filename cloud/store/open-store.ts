/** The database a cloud config names: SQLite embedded by default, PostgreSQL in production. */
import { graphRules, type CloudConfig } from '../config/cloud-config.js';
import type { CloudStore } from './cloud-store.js';

/**
 * Only the named database's driver is loaded: a command on SQLite never pays for pg, nor the reverse.
 * The database keeps the identity graph for the config's rules (a change of rules recomputes it).
 */
export async function openCloudStore(cfg: CloudConfig): Promise<CloudStore> {
  const db = cfg.database;
  if ('postgres' in db && db.postgres) return (await import('./postgres-store.js')).PostgresCloudStore.open(db.postgres.url, db.postgres.schema, graphRules(cfg));
  return new (await import('./sqlite-store.js')).SqliteCloudStore((db as { sqlite: string }).sqlite, graphRules(cfg));
}
