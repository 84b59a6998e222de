/**
 * Both cloud databases for one suite (`describe.each(backends(...))`): SQLite files in a temporary
 * folder, and fresh PostgreSQL schemas on the test server, dropped by `dropAll()` at the end.
 */
import { join } from 'node:path';
import type { CloudStore } from '../../cloud/store/cloud-store.js';
import { PostgresCloudStore } from '../../cloud/store/postgres-store.js';
import { SqliteCloudStore } from '../../cloud/store/sqlite-store.js';

export const PG = process.env.OMNILOOP_TEST_PG ?? 'postgres://root@127.0.0.1:5432/test';

export interface Backend {
  open(name: string): Promise<CloudStore>;
  /** The `database:` block of a cloud config for the same database. */
  yaml(name: string): string;
}

export function backends(dir: string, prefix: string): { list: [string, Backend][]; dropAll(): Promise<void> } {
  const schemas = new Map<string, string>();
  const schema = (name: string) => {
    if (!schemas.has(name)) schemas.set(name, `t_${prefix}_${name.replace(/[^a-z0-9]/g, '_')}_${process.pid}`);
    return schemas.get(name)!;
  };
  return {
    list: [
      ['sqlite', { open: async (name) => new SqliteCloudStore(join(dir, `${name}.db`)), yaml: (name) => `database:\n  sqlite: ${join(dir, `${name}.db`)}\n` }],
      ['postgres', { open: (name) => PostgresCloudStore.open(PG, schema(name)), yaml: (name) => `database:\n  postgres:\n    url: ${PG}\n    schema: ${schema(name)}\n` }],
    ],
    async dropAll() {
      for (const s of schemas.values()) {
        const store = await PostgresCloudStore.open(PG, s);
        await store.dropSchema();
        await store.close();
      }
    },
  };
}
