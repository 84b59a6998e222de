/** How to reach the broker: the `broker:` block that the agent's and HQ's config files share. */
import { resolve } from 'node:path';
import { z } from 'zod';

export const brokerSchema = z
  .object({
    url: z.string().regex(/^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/, 'must be a URL such as mqtts://broker.example.com:8883'),
    clientId: z.string().min(1).max(128).optional(),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    caFile: z.string().min(1).optional(),
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    rejectUnauthorized: z.boolean().default(true),
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(5),
    maxInFlight: z.number().int().min(1).max(1000).default(16),
  })
  .strict();

export type BrokerConfig = z.infer<typeof brokerSchema>;

/** The block's file settings are relative to the config file that names them. */
export function resolveBrokerFiles(broker: BrokerConfig, base: string): void {
  for (const k of ['passwordFile', 'caFile', 'certFile', 'keyFile'] as const) if (broker[k]) broker[k] = resolve(base, broker[k]!);
}
