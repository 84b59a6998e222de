/**
 * The broker roster: who may connect to the broker. Store IT and HQ keep it as YAML:
 *
 *   hq: [hq]                       # HQ's users (default: one, "hq")
 *   tenants:
 *     acme:                        # tenant
 *       berlin-1: [ap-1, ap-2]     # store: its agents
 *
 * Names become MQTT topic levels and broker usernames, so they get the same strict alphabet as the
 * agent's config.
 */
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { formatIssues } from '../../shared/config/format-issues.js';
import { InputError } from '../../shared/errors.js';

export interface Roster {
  hq: string[];
  /** tenant → store → agents */
  tenants: Record<string, Record<string, string[]>>;
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const NAME_RULE = 'must be 1-64 characters of a-z, 0-9, _ and -, starting with a letter or digit';
/** Far above any fleet; bounds the files and the work. */
export const MAX_AGENTS = 100_000;

const names = (what: string) => z.array(z.string().regex(NAME, `a name ${NAME_RULE}`), { error: what }).min(1, 'lists at least one name');

const rosterSchema = z
  .object({
    hq: names('hq is a list of HQ user names, e.g. hq: [hq]').max(64).default(['hq']),
    tenants: z.record(
      z.string(),
      z.record(z.string(), names('a store lists its agents, e.g. berlin-1: [ap-1]').max(10_000), { error: 'a tenant maps its stores to their agents, e.g. acme: { berlin-1: [ap-1] }' }),
      { error: 'tenants maps each tenant to its stores' },
    ),
  })
  .strict()
  .superRefine((r, ctx) => {
    const issue = (path: (string | number)[], message: string): void => void ctx.addIssue({ code: 'custom', path, message });
    const duplicates = (list: string[]): string[] => list.filter((n, i) => list.indexOf(n) !== i);
    for (const d of duplicates(r.hq)) issue(['hq'], `${d} is listed twice`);
    let agents = 0;
    const tenants = Object.entries(r.tenants);
    if (tenants.length === 0) issue(['tenants'], 'lists no tenant');
    for (const [tenant, stores] of tenants) {
      if (!NAME.test(tenant)) issue(['tenants', tenant], `the tenant name ${NAME_RULE}`);
      if (Object.keys(stores).length === 0) issue(['tenants', tenant], 'lists no store');
      for (const [store, list] of Object.entries(stores)) {
        if (!NAME.test(store)) issue(['tenants', tenant, store], `the store name ${NAME_RULE}`);
        // The agent level "control" is where HQ's downlink lives (MQTT contract §2.2).
        if (list.includes('control')) issue(['tenants', tenant, store], '"control" is reserved for HQ\'s control topics');
        for (const d of duplicates(list)) issue(['tenants', tenant, store], `${d} is listed twice`);
        agents += list.length;
      }
    }
    if (agents > MAX_AGENTS) issue(['tenants'], `${agents} agents; at most ${MAX_AGENTS}`);
  });

/** Pure: the roster in `text`, or an InputError naming `source` and every problem on one line. */
export function parseRoster(text: string, source: string): Roster {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new InputError(`agents file ${source} is not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError(`agents file ${source} must be a YAML mapping with hq: and tenants:`);
  const parsed = rosterSchema.safeParse(raw);
  if (!parsed.success) throw new InputError(`agents file ${source}: ${formatIssues(parsed.error)}`);
  return parsed.data;
}
