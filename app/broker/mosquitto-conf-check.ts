/**
 * `omniloop broker check`: a Mosquitto config held to what omniloop needs (pure; reading the files,
 * includes and all, is mosquitto-conf-files.ts). One result per concern, each with the fix: who may
 * connect, the ACL, HQ's queue, message size, persistence.
 */
import { fail, ok, warn, worst, type CheckResult } from '../../agents/doctor/check.js';
import { MOSQUITTO_32_BIT_LIMIT, PACKET_OVERHEAD, REQUIRED, SHIPPED } from './broker-settings.js';

export interface ConfLine {
  file: string;
  line: number;
  key: string;
  value: string;
}

/** `key value` lines; comments and blank lines dropped. */
export function parseMosquittoConf(text: string, file: string): ConfLine[] {
  const out: ConfLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(\S+)\s*(.*)$/.exec(line)!;
    out.push({ file, line: i + 1, key: m[1]!, value: m[2]!.trim() });
  });
  return out;
}

/** The settings as Mosquitto reads them: for the options checked here, the last one given wins. */
class Settings {
  constructor(private readonly lines: readonly ConfLine[]) {}
  get(key: string): ConfLine | undefined {
    return this.lines.findLast((l) => l.key === key);
  }
  flag(key: string): boolean | undefined {
    const v = this.get(key)?.value;
    return v === undefined ? undefined : v === 'true';
  }
  /** A whole number, null when the value is not one. */
  int(key: string): number | null | undefined {
    const v = this.get(key)?.value;
    if (v === undefined) return undefined;
    return /^\d{1,16}$/.test(v) ? Number(v) : null;
  }
}

const where = (l: ConfLine): string => `${l.file}:${l.line}`;
const notNumber = (id: string, l: ConfLine): CheckResult => fail(id, `${l.key} ${JSON.stringify(l.value)} (${where(l)}) is not a whole number`, 'Mosquitto refuses to start with it: give a number');

export function judgeMosquittoConf(lines: readonly ConfLine[]): CheckResult[] {
  const s = new Settings(lines);
  const checks = [judgeUsers(s), judgeAcl(s), judgeClientIds(lines), judgeQueue(s), judgeMessageSize(s), judgePersistence(s), judgeSessionExpiry(s)];
  if (s.flag('per_listener_settings')) {
    checks.push(warn('per-listener', 'per_listener_settings true: users and ACLs are set for each listener, and this check reads them as if global', 'check that every listener agents and HQ use has allow_anonymous false, the password_file and the acl_file'));
  }
  return checks;
}

const PLUGIN_KEYS = ['plugin', 'auth_plugin'];

function judgeUsers(s: Settings): CheckResult {
  const id = 'users';
  const anonymous = s.get('allow_anonymous');
  if (anonymous?.value === 'true') return fail(id, `allow_anonymous true (${where(anonymous)}): anyone who reaches the broker may connect without credentials`, 'set allow_anonymous false');
  const passwd = s.get('password_file');
  const plugin = PLUGIN_KEYS.map((k) => s.get(k)).find(Boolean);
  if (!passwd && !plugin) return fail(id, 'no password_file and no authentication plugin: no agent or HQ user can log in', 'include the mosquitto.conf of `omniloop broker provision` (password_file, acl_file)');
  return ok(id, passwd ? `users from ${passwd.value}, no anonymous access` : `users from the plugin ${plugin!.value}, no anonymous access`);
}

function judgeAcl(s: Settings): CheckResult {
  const id = 'acl';
  const acl = s.get('acl_file');
  if (acl) return ok(id, `topic rights from ${acl.value}`);
  const plugin = PLUGIN_KEYS.map((k) => s.get(k)).find(Boolean);
  if (plugin) return ok(id, `topic rights from the plugin ${plugin.value}: run \`omniloop doctor\` on an agent to see what its credentials may do`);
  return fail(id, 'no acl_file: every user may read and write every topic, so one store can forge another store\'s or tenant\'s data and read every tenant\'s', 'include the mosquitto.conf of `omniloop broker provision` (acl_file)');
}

/**
 * Mosquitto binds no client id to a user: any user may connect with another's id and take over its
 * session. With HQ's id an agent's credentials drop everything queued for HQ (docs/broker.md). A
 * listener option, so it is enough on the agents' listener.
 */
function judgeClientIds(lines: readonly ConfLine[]): CheckResult {
  const bound = lines.filter((l) => l.key === 'use_username_as_clientid' && l.value === 'true');
  if (bound.length > 0) return ok('client-ids', `use_username_as_clientid true on ${bound.length} listener${bound.length === 1 ? '' : 's'} (${bound.map(where).join(', ')}): clients there cannot take over another user's session`);
  return warn(
    'client-ids',
    "no listener has use_username_as_clientid true: any user may connect with another's client id and take over its session; with HQ's consumer id, one store's credentials drop everything queued for HQ",
    "serve agents on a listener with use_username_as_clientid true and HQ on a listener of its own (docs/broker.md, \"Client ids\")",
  );
}

function judgeQueue(s: Settings): CheckResult {
  const id = 'queue';
  const count = s.int('max_queued_messages');
  const bytes = s.int('max_queued_bytes');
  const countLine = s.get('max_queued_messages');
  const bytesLine = s.get('max_queued_bytes');
  if (count === null) return notNumber(id, countLine!);
  if (bytes === null) return notNumber(id, bytesLine!);
  const fix = `set max_queued_messages ${SHIPPED.maxQueuedMessages} and max_queued_bytes ${SHIPPED.maxQueuedBytes} (as the mosquitto.conf of \`omniloop broker provision\` does)`;
  const lost = 'a lagging or offline HQ loses every message beyond it, already acknowledged to the agents (which have deleted them)';
  if (count === undefined) return fail(id, `max_queued_messages not set: Mosquitto's default queue is 1000 messages per client; ${lost}`, fix);
  if (count > 0 && count < REQUIRED.minQueuedMessages) return fail(id, `max_queued_messages ${count} (${where(countLine!)}): ${lost}`, fix);
  if (bytes !== undefined && bytes >= MOSQUITTO_32_BIT_LIMIT) {
    return fail(id, `max_queued_bytes ${bytes} (${where(bytesLine!)}): Mosquitto 2.0 keeps it in 32 bits, so from ${MOSQUITTO_32_BIT_LIMIT} up it is not what it says (4294968296 acts as 1000)`, `use at most ${MOSQUITTO_32_BIT_LIMIT - 1}; ${fix}`);
  }
  if (bytes !== undefined && bytes > 0 && bytes < REQUIRED.minQueuedBytes) return fail(id, `max_queued_bytes ${bytes} (${where(bytesLine!)}): ${lost}`, fix);
  const qos0 = s.get('queue_qos0_messages');
  const details = { maxQueuedMessages: count, maxQueuedBytes: bytes ?? 0 };
  const summary = `HQ's queue holds ${count === 0 ? 'any number of' : count} messages${bytes ? ` or ${bytes} bytes` : ''} per session`;
  if (count === 0 && !bytes) return warn(id, `${summary}: nothing bounds the broker's memory`, `set max_queued_bytes to what the broker's RAM allows (e.g. ${SHIPPED.maxQueuedBytes})`, details);
  if (qos0?.value === 'true') return warn(id, `${summary}, but queue_qos0_messages true (${where(qos0)}): metrics take places in it`, 'set queue_qos0_messages false', details);
  return ok(id, summary, details);
}

function judgeMessageSize(s: Settings): CheckResult {
  const id = 'message-size';
  const packet = s.int('max_packet_size');
  const payload = s.int('message_size_limit');
  if (packet === null) return notNumber(id, s.get('max_packet_size')!);
  if (payload === null) return notNumber(id, s.get('message_size_limit')!);
  // Both bound the largest message: max_packet_size with its header, message_size_limit the payload alone.
  const limit = Math.min(packet ? packet : Infinity, payload ? payload + PACKET_OVERHEAD : Infinity);
  const fix = `set max_packet_size ${SHIPPED.maxPacketSize}`;
  if (limit === Infinity) return warn(id, 'no max_packet_size: any client may send messages of up to 256 MB into HQ\'s queue', fix);
  const what = packet && (!payload || packet <= payload) ? `max_packet_size ${packet}` : `message_size_limit ${payload}`;
  if (limit < REQUIRED.minPacketForBatches) return fail(id, `${what}: a valid sightings batch (up to 1 MiB) can be refused`, fix);
  if (limit < REQUIRED.minPacketForControl) return warn(id, `${what}: a signed opt-out list over ${limit - PACKET_OVERHEAD} bytes never reaches the agents (a valid one can be up to ${REQUIRED.minPacketForControl - PACKET_OVERHEAD})`, fix);
  return ok(id, `messages up to ${limit} bytes`, { limit });
}

function judgePersistence(s: Settings): CheckResult {
  const id = 'persistence';
  if (s.flag('persistence') !== true) return fail(id, 'persistence is off: a broker restart loses HQ\'s queued messages and the retained status and opt-out lists', `set persistence true, persistence_location /var/lib/mosquitto/ and autosave_interval ${SHIPPED.autosaveInterval}`);
  const autosave = s.int('autosave_interval');
  if (autosave === null) return notNumber(id, s.get('autosave_interval')!);
  const location = s.get('persistence_location');
  const every = s.flag('autosave_on_changes') ? undefined : (autosave ?? 1800);
  const summary = `persistence on${location ? ` in ${location.value}` : ''}${every === undefined ? ', saved after autosave_interval changes' : `, saved every ${every} s`}`;
  if (every !== undefined && every > REQUIRED.maxAutosaveSeconds) return warn(id, `${summary}: a crash loses up to ${Math.round(every / 60)} minutes of queued messages that agents already deleted`, `set autosave_interval ${SHIPPED.autosaveInterval}`);
  if (!location) return warn(id, `${summary}, in the broker's working folder (no persistence_location)`, 'set persistence_location /var/lib/mosquitto/');
  return ok(id, summary);
}

const UNIT_SECONDS: Record<string, number> = { h: 3600, d: 86_400, w: 604_800, m: 2_592_000, y: 31_536_000 };

function judgeSessionExpiry(s: Settings): CheckResult {
  const id = 'session-expiry';
  const l = s.get('persistent_client_expiration');
  const fix = `set persistent_client_expiration ${SHIPPED.persistentClientExpiration}`;
  if (!l) return warn(id, 'no persistent_client_expiration: the session of a retired MQTT 3.1.1 HQ consumer is kept forever, and in a shared subscription it keeps receiving its share of messages', `${fix}; and end a retired consumer's session (docs/broker.md)`);
  const m = /^(\d{1,6})([hdwmy])$/.exec(l.value);
  if (!m) return fail(id, `persistent_client_expiration ${JSON.stringify(l.value)} (${where(l)}) is not a number followed by h, d, w, m or y`, fix);
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  if (seconds < REQUIRED.minClientExpirationSeconds) return warn(id, `persistent_client_expiration ${l.value}: an MQTT 3.1.1 HQ consumer away longer loses its session and every message queued for it`, fix);
  return ok(id, `persistent MQTT 3.1.1 sessions expire after ${l.value} away`);
}

/** The whole report's status: a failing check fails it. */
export function overall(checks: readonly CheckResult[]): CheckResult['status'] {
  return checks.reduce<CheckResult['status']>((a, c) => worst(a, c.status), 'ok');
}
