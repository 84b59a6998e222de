/** How HQ's processes reach the broker: the cloud config's `broker:` block as mqtt.js options. */
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { CheckError, InputError } from '../../shared/errors.js';
import type { CloudConfig } from '../config/cloud-config.js';

export function brokerOptions(b: CloudConfig['broker'], clientId: string): IClientOptions {
  const read = (setting: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new InputError(`cannot read broker.${setting} ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  const opts: IClientOptions = {
    clientId: b.clientId ?? clientId,
    username: b.username,
    password: b.password ?? (b.passwordFile ? read('passwordFile', b.passwordFile).toString('utf8').trim() : undefined),
    protocolVersion: b.protocolVersion,
    rejectUnauthorized: b.rejectUnauthorized,
  };
  if (b.caFile) opts.ca = read('caFile', b.caFile);
  if (b.certFile) opts.cert = read('certFile', b.certFile);
  if (b.keyFile) opts.key = read('keyFile', b.keyFile);
  return opts;
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
