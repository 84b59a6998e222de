/** HQ's segment commands: counts per segment, and a segment's audience as an ad platform's upload file. */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { formatTable, notice, printJson, printLine } from '../../shared/cli/output.js';
import { CheckError, InputError } from '../../shared/errors.js';
import { graphRules, loadCloudConfig } from '../config/cloud-config.js';
import { openCloudStore } from '../store/open-store.js';
import { dayProblem } from '../segments/activity.js';
import { latestDay, segmentCounts, segmentMembers } from '../segments/evaluate.js';
import { profileLookup } from '../identity/graph-reads.js';
import { audienceCsv, buildAudience, PLATFORMS, type Platform } from '../audience/audience.js';
import { writeFileAtomic } from '../audience/write-file.js';

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

function checkTenant(tenant: string): void {
  if (!NAME.test(tenant)) throw new InputError('--tenant is 1-64 characters of a-z, 0-9, _ and -');
}

function checkDay(day: string | undefined): void {
  const problem = day === undefined ? null : dayProblem(day);
  if (problem) throw new InputError(`--day: ${problem}`);
}

export function registerSegmentCommands(cloud: Command): void {
  cloud
    .command('segments')
    .description("profiles per segment (cloud.yaml's segments:) on a store-day, k-anonymous")
    .requiredOption('-c, --config <file>', 'cloud config (YAML)')
    .requiredOption('-t, --tenant <name>', 'tenant')
    .option('-d, --day <YYYY-MM-DD>', "store-day (default: the tenant's latest with data)")
    .option('-k, --k <n>', 'k-anonymity: counts of people below k are not shown (default: api.k, else 5)')
    .option('--json', 'machine-readable output')
    .action(async (flags: { config: string; tenant: string; day?: string; k?: string; json?: boolean }) => {
      checkTenant(flags.tenant);
      checkDay(flags.day);
      const cfg = loadCloudConfig(flags.config);
      const k = flags.k === undefined ? (cfg.api?.k ?? 5) : Number(flags.k);
      if (!Number.isInteger(k) || k < 1) throw new InputError(`--k must be a whole number of at least 1, not ${JSON.stringify(flags.k)}`);
      const store = await openCloudStore(cfg);
      try {
        const day = flags.day ?? (await latestDay(store, flags.tenant));
        const segments = segmentCounts(await segmentMembers(store, flags.tenant, day, cfg.segments, graphRules(cfg)), k);
        if (flags.json) return printJson({ tenant: flags.tenant, day, k, segments });
        if (!segments.length) return notice('the config defines no segments');
        printLine(`${flags.tenant} on ${day} (counts below ${k} not shown):`);
        printLine(formatTable(['segment', 'profiles'], segments.map((s) => [s.name, s.profiles === null ? `<${k}` : s.profiles])));
      } finally {
        await store.close();
      }
    });

  const audience = cloud.command('audience').description("a segment's audience for ad platforms' customer lists");
  audience
    .command('export')
    .description('write a segment as a Meta or Google customer-list file: hashed e-mails/phones of profiles with marketing consent')
    .requiredOption('-c, --config <file>', 'cloud config (YAML)')
    .requiredOption('-t, --tenant <name>', 'tenant')
    .requiredOption('-s, --segment <name>', "a segment of cloud.yaml's segments:")
    .requiredOption('-f, --format <platform>', 'meta or google')
    .option('-o, --out <file>', 'the file to write (default: audience-<tenant>-<segment>-<format>-<day>.csv)')
    .option('-d, --day <YYYY-MM-DD>', "store-day the segment is evaluated on (default: the tenant's latest with data)")
    .option('--min-size <n>', "refuse below this many people (only raises the platform's minimum)")
    .option('--force', 'overwrite an existing file')
    .option('--json', 'machine-readable summary')
    .action(async (flags: { config: string; tenant: string; segment: string; format: string; out?: string; day?: string; minSize?: string; force?: boolean; json?: boolean }) => {
      checkTenant(flags.tenant);
      checkDay(flags.day);
      if (flags.format !== 'meta' && flags.format !== 'google') throw new InputError(`--format is meta or google, not ${JSON.stringify(flags.format)}`);
      const platform: Platform = flags.format;
      const f = PLATFORMS[platform];
      let minSize = f.minSize;
      if (flags.minSize !== undefined) {
        const n = Number(flags.minSize);
        if (!Number.isInteger(n) || n < f.minSize) throw new InputError(`--min-size must be a whole number of at least ${f.minSize} (${f.label}'s minimum list size); it can only raise it`);
        minSize = n;
      }
      const cfg = loadCloudConfig(flags.config);
      const rule = cfg.segments.find((s) => s.name === flags.segment);
      if (!rule) throw new InputError(`no segment ${JSON.stringify(flags.segment)} in the config (segments: ${cfg.segments.map((s) => s.name).join(', ') || 'none'})`);
      const store = await openCloudStore(cfg);
      try {
        const day = flags.day ?? (await latestDay(store, flags.tenant));
        const rules = graphRules(cfg);
        const ids = (await segmentMembers(store, flags.tenant, day, [rule], rules)).get(rule.name)!;
        // The segment's profiles' members, then their people's edges: only what is exported is read. Edges
        // read after the members: a withdrawal or erasure in between leaves a profile out, never in.
        const look = await profileLookup(store, flags.tenant, rules);
        const members = await look.members(ids);
        const consent = await look.consent([...members.values()].flat());
        const a = buildAudience(platform, ids.map((id) => ({ id, members: members.get(id) ?? [] })), consent);
        const out = resolve(flags.out ?? `audience-${flags.tenant}-${rule.name}-${platform}-${day}.csv`);
        const summary = { tenant: flags.tenant, segment: rule.name, day, format: platform, out, profiles: ids.length, rows: a.rows.length, exported: a.exported, noConsent: a.noConsent, noIdentifier: a.noIdentifier };
        const left = `left out: ${a.noConsent} without marketing consent, ${a.noIdentifier} without an identifier ${f.label} can use`;
        if (a.exported < minSize) throw new CheckError(`segment ${rule.name} on ${day} has ${a.exported} exportable profiles (${left}); ${f.label} needs at least ${minSize}: nothing written`);
        writeFileAtomic(out, audienceCsv(a), flags.force === true);
        if (flags.json) return printJson(summary);
        printLine(`exported ${a.exported} of ${ids.length} profiles of segment ${rule.name} on ${day} to ${out} (${a.rows.length} rows, ${f.label} format); ${left}`);
      } finally {
        await store.close();
      }
    });
}
