/**
 * Link events (MQTT contract v1, `links` topic): an identifiable moment at a store — a captive-portal
 * login, a loyalty card at the till — that ties a device's Consumer-ID of the day to hashed e-mail,
 * hashed phone and keyed loyalty id; and a device connected to the store's network, whose Consumer-ID
 * of the day is tied to its network token (no person named, so no consent decision). Everything in it
 * is already hashed on the agent.
 */
import { z } from 'zod';
import { LINKS_SCHEMA } from './batch.js';
import { batchEnvelopeShape, batchIdMatches, validateBatchMessage, withinEpoch, type Validated } from './sightings-schema.js';

export { LINKS_SCHEMA };

const hex = (n: number, what: string) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`), `${what} is ${n} lowercase hex characters`);

export const linkSchema = z
  .object({
    ts: z.number().int().min(946_684_800_000).max(4_102_444_800_000),
    cid: hex(32, 'a Consumer-ID').optional(),
    hem: hex(64, 'a hashed e-mail').optional(),
    hph: hex(64, 'a hashed phone').optional(),
    loyalty: hex(64, 'a loyalty key').optional(),
    /** A connected device's network token (its per-network address keyed with the link key). */
    net: hex(64, 'a network token').optional(),
    /** The customer's decision, where the event carried one (a connection alone carries none). */
    consent: z.object({ marketing: z.boolean() }).strict().optional(),
  })
  .strict()
  .refine((l) => [l.cid, l.hem, l.hph, l.loyalty, l.net].filter(Boolean).length >= 2, 'a link joins at least two identifiers')
  .refine((l) => l.consent !== undefined || !(l.hem || l.hph || l.loyalty), { message: 'a link that names a person carries its consent decision', path: ['consent'] });

export const linksBatchSchema = z
  .object({
    schema: z.literal(LINKS_SCHEMA),
    ...batchEnvelopeShape,
    links: z.array(linkSchema).min(1).max(10_000),
  })
  .strict()
  // A link's Consumer-ID is keyed with the epoch's day key: its moment is on that store-day.
  .refine((b) => b.links.every((l) => withinEpoch(b.epoch, l.ts)), { message: 'a link is not on the key epoch\'s store-day', path: ['links'] })
  .refine(batchIdMatches.check, { message: batchIdMatches.message, path: ['batchId'] });

export type LinksBatch = z.infer<typeof linksBatchSchema>;

export function validateLinksMessage(topic: string, payload: Buffer | string): Validated<LinksBatch> {
  return validateBatchMessage(topic, payload, linksBatchSchema);
}

/** The graph nodes of one link: the device's cid is only a node for its store-day. */
export function linkNodes(epoch: string, l: LinksBatch['links'][number]): string[] {
  const nodes: string[] = [];
  if (l.hem) nodes.push(`hem:${l.hem}`);
  if (l.hph) nodes.push(`hph:${l.hph}`);
  if (l.loyalty) nodes.push(`loy:${l.loyalty}`);
  if (l.net) nodes.push(`net:${l.net}`);
  if (l.cid) nodes.push(`cid:${epoch}:${l.cid}`);
  return nodes;
}
