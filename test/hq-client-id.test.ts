/**
 * HQ's consumer client id (a finding of the broker work): it was `omniloop-cloud-<group>-<host>-<instance>`,
 * guessable, and any client with valid broker credentials may connect under any id — connecting under
 * HQ's took over its persistent session and emptied its queue. Now it ends in a tag keyed with HQ's
 * database key: stable across restarts (the broker keeps the session for it), unguessable without the
 * database. And the session outlives a long outage (a week by default, not an hour).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cloudConfigSchema } from '../cloud/config/cloud-config.js';
import { consumerClientId } from '../cloud/ingest/client-id.js';
import { SqliteCloudStore } from '../cloud/store/sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'omniloop-clientid-'));

describe("HQ's consumer client id", () => {
  it('is stable for one database, different for another, and not the guessable name', async () => {
    const a = new SqliteCloudStore(join(dir, 'a.db'));
    const id = consumerClientId('hq', 'hq-host-1', '1', await a.profileKey());
    await a.close();
    const again = new SqliteCloudStore(join(dir, 'a.db'));
    expect(consumerClientId('hq', 'hq-host-1', '1', await again.profileKey())).toBe(id);
    await again.close();
    const b = new SqliteCloudStore(join(dir, 'b.db'));
    expect(consumerClientId('hq', 'hq-host-1', '1', await b.profileKey())).not.toBe(id);
    await b.close();
    expect(id).toMatch(/^omniloop-cloud-hq-hq-host-1-1-[0-9a-f]{16}$/);
    expect(id).not.toBe('omniloop-cloud-hq-hq-host-1-1');
    // Another instance of the same HQ gets its own session.
    expect(consumerClientId('hq', 'hq-host-1', '2', new Uint8Array(32))).not.toBe(consumerClientId('hq', 'hq-host-1', '1', new Uint8Array(32)));
    expect(consumerClientId('hq', 'host with spaces/and:colons', '1', new Uint8Array(32))).toMatch(/^omniloop-cloud-hq-host_with_spaces_and_colons-1-[0-9a-f]{16}$/);
  });

  it('asks the broker to keep its session a week by default (an hour lost a longer outage)', () => {
    const cfg = cloudConfigSchema.parse({ broker: { url: 'mqtt://127.0.0.1:1883' }, database: { sqlite: 'x.db' } });
    expect(cfg.sessionExpiryHours).toBe(168);
    expect(cloudConfigSchema.safeParse({ broker: { url: 'mqtt://127.0.0.1:1883' }, database: { sqlite: 'x.db' }, sessionExpiryHours: 0 }).success).toBe(false);
  });
});
