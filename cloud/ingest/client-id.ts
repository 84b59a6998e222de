/**
 * HQ's consumer client id. It must be stable (the broker keeps the session and its queued messages for
 * that id while HQ is away) and it must not be guessable: MQTT lets any client with valid credentials
 * connect under any id, and connecting under HQ's takes over its session and empties its queue (a store's
 * credentials did: 100 of 100 queued messages gone). So the id ends in a keyed tag that only the holder
 * of HQ's database can compute (its profile key, domain-separated), the same on every restart.
 */
import { createHmac } from 'node:crypto';

export function consumerClientId(group: string, host: string, instance: string, databaseKey: Uint8Array): string {
  const tag = createHmac('sha256', databaseKey).update(`omniloop/v1/mqtt-client-id|${group}|${host}|${instance}`).digest('hex').slice(0, 16);
  // Host names may hold characters some brokers refuse in a client id.
  return `omniloop-cloud-${group}-${host.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 32)}-${instance}-${tag}`;
}
