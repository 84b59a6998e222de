/**
 * `omniloop whoami --mac M`: the Consumer-ID a device has today, so a technician can find their own test
 * phone in the stream. The address is read from the command line and never printed back or stored.
 */
import type { Command } from 'commander';
import { notice, printJson, printLine } from '../../shared/cli/output.js';
import { InputError } from '../../shared/errors.js';
import { parseMac } from '../../shared/identity/mac.js';
import { cidForAddress } from '../../shared/identity/consumer-id.js';
import { deriveDayKey } from '../../shared/identity/keys.js';
import { macFirstOctet, macToBytes } from '../decode/observation.js';
import { addIdentityOptions, pseudonymizerFor, resolveIdentity, type IdentityFlags } from './identity-options.js';

interface WhoamiFlags extends IdentityFlags {
  mac?: string;
  date?: string;
  json?: boolean;
}

export function configureWhoami(cmd: Command): void {
  cmd
    .requiredOption('-m, --mac <address>', 'the WiFi or Bluetooth address, e.g. f0:18:98:01:02:03')
    .option('--date <YYYY-MM-DD>', 'the store-day (default: today in the store time zone)')
    .option('--json', 'machine-readable output');
  addIdentityOptions(cmd).action(async (flags: WhoamiFlags) => runWhoami(flags));
}

async function runWhoami(flags: WhoamiFlags): Promise<void> {
  const mac = parseMac(flags.mac ?? '');
  const id = await resolveIdentity(flags, false);
  for (const w of id.warnings) notice(w);
  const p = pseudonymizerFor(id);
  const day = flags.date ?? p.storeDay(Date.now());
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00Z`))) {
    throw new InputError(`--date must be a calendar date YYYY-MM-DD, not ${JSON.stringify(day)}`);
  }
  const cid = cidForAddress(deriveDayKey(id.secret, id.tenant, day), macToBytes(mac));
  const first = macFirstOctet(mac);
  const wifiRandomized = (first & 0x02) !== 0;
  const bleKind = ['non-resolvable private', 'resolvable private', 'reserved', 'random static'][first >> 6]!;
  const optedOut = p.isOptedOut(mac);
  const result = {
    cid,
    storeDay: day,
    tenant: id.tenant,
    timezone: id.timezone,
    optedOut,
    wifi: { addressClass: wifiRandomized ? 'randomized' : 'global', visibleAsCid: !wifiRandomized },
    bleIfRandom: { addressClass: bleKind, visibleAsCid: bleKind === 'random static' },
  };
  if (flags.json) {
    printJson(result);
    return;
  }
  printLine(`Consumer-ID on ${day} (${id.tenant}, ${id.timezone}): ${cid}`);
  if (optedOut) printLine('This device is on the opt-out list: agents drop it, it never appears in the stream.');
  if (wifiRandomized) {
    printLine('As a WiFi address it is randomized (locally administered): agents count it but give it no Consumer-ID.');
    printLine("To follow a test phone, turn off the phone's private/random WiFi address for this network, or use its Bluetooth address.");
  }
}
