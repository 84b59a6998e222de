/**
 * The agent's config file (YAML). One file per agent, written by store IT; every mistake is reported
 * with its path in the file and what is expected, before anything starts.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { InputError } from '../../shared/errors.js';
import { isValidTimeZone } from '../../shared/identity/store-day.js';

const idPattern = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const id = (what: string) => z.string().regex(idPattern, `${what} must be 1-64 characters of a-z, 0-9, _ and -, starting with a letter or digit (it becomes part of MQTT topics)`);

const channelList = z.array(z.number().int().positive()).min(1, 'list at least one channel');

export const agentConfigSchema = z
  .object({
    tenant: id('tenant'),
    store: id('store').default('store'),
    agent: id('agent').default('agent'),
    timezone: z.string().refine(isValidTimeZone, 'not an IANA time zone (for example Europe/Berlin)').default('UTC'),
    rolloverHours: z.number().int().min(0).max(23).default(0),
    keyFile: z.string().min(1),
    optoutFile: z.string().min(1).optional(),
    capture: z
      .object({
        wifi: z
          .object({
            interface: z.string().min(1),
            channels: channelList.default([1, 6, 11]),
            dwellMs: z.number().int().min(50).max(60_000).default(250),
          })
          .strict()
          .optional(),
        ble: z.object({ interface: z.string().min(1) }).strict().optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

export type AgentConfig = z.infer<typeof agentConfigSchema>;

/** Reads and validates a config file; relative paths inside it are relative to the file. */
export function loadAgentConfig(path: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? `config file ${path} does not exist` : `cannot read config file ${path} (${code ?? 'error'})`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new InputError(`config file ${path} is not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError(`config file ${path} must be a YAML mapping (key: value lines)`);
  const parsed = agentConfigSchema.safeParse(raw);
  if (!parsed.success) throw new InputError(`config file ${path}: ${formatIssues(parsed.error)}`);
  const cfg = parsed.data;
  const base = dirname(resolve(path));
  cfg.keyFile = resolve(base, cfg.keyFile);
  if (cfg.optoutFile) cfg.optoutFile = resolve(base, cfg.optoutFile);
  return cfg;
}

/** "capture.wifi.dwellMs: Too small ..." for every problem, joined on one line. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.join('.') || '(top level)';
      if (i.code === 'unrecognized_keys') return `${path === '(top level)' ? '' : path + ': '}unknown setting ${i.keys.map((k) => `"${k}"`).join(', ')}`;
      return `${path}: ${i.message}`;
    })
    .join('; ');
}
