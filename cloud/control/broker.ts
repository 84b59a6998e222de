/** How HQ's processes reach the broker: the cloud config's `broker:` block as mqtt.js options. */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { CheckError } from '../../shared/errors.js';
import { brokerSecrets } from '../../shared/broker/broker-files.js';
import type { CloudConfig } from '../config/cloud-config.js';

export function brokerOptions(b: CloudConfig['broker'], clientId: string): IClientOptions {
  return {
    clientId: b.clientId ?? clientId,
    username: b.username,
    protocolVersion: b.protocolVersion,
    rejectUnauthorized: b.rejectUnauthorized,
    ...brokerSecrets(b),
  };
}

/**
 * A connection for publishing HQ's downlink: short-lived for a command (publish and go), or `lasting`
 * (reconnects) for the consumer process. A clear error when the broker is not there at first.
 */
export async function connectBroker(cfg: CloudConfig, purpose: string, lasting = false, timeoutMs = 10_000): Promise<MqttClient> {
  const clientId = `omniloop-${purpose}-${process.pid}`;
  const client = mqtt.connect(cfg.broker.url, { ...brokerOptions(cfg.broker, clientId), clientId, reconnectPeriod: lasting ? 2000 : 0, connectTimeout: timeoutMs });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
      client.once('close', () => reject(new Error('connection closed')));
    });
  } catch (err) {
    client.end(true);
    throw new CheckError(`cannot reach the broker at ${cfg.broker.url.replace(/\/\/[^@/]*@/, '//***@')}: ${(err as Error).message}`);
  }
  return client;
}
