/** The database a cloud config names: SQLite embedded by default, PostgreSQL in production. */
import type { CloudConfig } from '../config/cloud-config.js';
import type { CloudStore } from './cloud-store.js';
import { PostgresCloudStore } from './postgres-store.js';
import { SqliteCloudStore } from './sqlite-store.js';

export async function openCloudStore(cfg: CloudConfig): Promise<CloudStore> {
  const db = cfg.database;
  if ('postgres' in db && db.postgres) return PostgresCloudStore.open(db.postgres.url, db.postgres.schema);
  return new SqliteCloudStore((db as { sqlite: string }).sqlite);
}
