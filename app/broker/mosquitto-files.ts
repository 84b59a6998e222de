/**
 * The files a broker runs on, rendered from the users and their rights (pure): Mosquitto's password
 * file, ACL file and a mosquitto.conf snippet with the settings of broker-settings.ts, and the same
 * rights as an EMQX acl.conf.
 */
import type { BrokerUser } from './broker-rights.js';
import { SHIPPED } from './broker-settings.js';

const GENERATED = 'written by `omniloop broker provision`: run it again rather than editing';

export function renderPasswordFile(entries: readonly { username: string; hash: string }[]): string {
  return entries.map((e) => `${e.username}:${e.hash}\n`).join('');
}

export function renderAclFile(users: readonly BrokerUser[]): string {
  const blocks = users.map((u) => [`# ${u.label}`, `user ${u.username}`, ...u.write.map((t) => `topic write ${t}`), ...u.read.map((t) => `topic read ${t}`)].join('\n'));
  const header = `# omniloop: Mosquitto acl_file, ${GENERATED}.\n# Nothing comes before the first \`user\` line, so a client without a username may do nothing.`;
  return [header, ...blocks].join('\n\n') + '\n';
}

export function renderMosquittoConf(files: { passwordFile: string; aclFile: string }): string {
  return `# omniloop: Mosquitto settings, ${GENERATED}.
# Include it from mosquitto.conf (Debian: copy it to /etc/mosquitto/conf.d/omniloop.conf). It sets no
# listener and no persistence_location: those stay in the main file. See docs/broker.md.

# Who may connect, and what each user may do.
allow_anonymous false
password_file ${files.passwordFile}
acl_file ${files.aclFile}

# A lagging or offline HQ: its persistent session queues what it has not taken yet. With Mosquitto's
# default of 1000 messages per client the rest is dropped silently, already acknowledged to the agents.
max_queued_messages ${SHIPPED.maxQueuedMessages}
# Bytes queued per client, held in memory: size to the broker's RAM. Mosquitto 2.0 keeps this in 32 bits.
max_queued_bytes ${SHIPPED.maxQueuedBytes}
# QoS 0 messages (metrics) take no place in that queue.
queue_qos0_messages false
# Uplink batches are at most 1 MiB; a tenant's signed opt-out list (64 MiB of JSON, escaped) sets the limit.
max_packet_size ${SHIPPED.maxPacketSize}

# Queued messages, sessions and retained messages survive a restart; a crash loses at most
# autosave_interval seconds of them.
persistence true
autosave_interval ${SHIPPED.autosaveInterval}
# A persistent MQTT 3.1.1 session (a retired HQ instance) left this long is dropped with its queue.
persistent_client_expiration ${SHIPPED.persistentClientExpiration}
`;
}

/** The same rights for EMQX's file authorizer (etc/acl.conf); rules are matched top to bottom. */
export function renderEmqxAcl(users: readonly BrokerUser[]): string {
  const list = (topics: readonly string[]): string => `[${topics.map((t) => JSON.stringify(t)).join(', ')}]`;
  const rules = users.map((u) => {
    const who = `{username, ${JSON.stringify(u.username)}}`;
    // EMQX checks subscriptions, not deliveries: a user's read filters are what it may subscribe to
    // (HQ's `$share/<group>/…` is checked without its prefix).
    return [`%% ${u.label}`, `{allow, ${who}, publish, ${list(u.write)}}.`, `{allow, ${who}, subscribe, ${list(u.read)}}.`].join('\n');
  });
  return [`%% omniloop: EMQX file authorization, ${GENERATED}.`, ...rules, '%% Everything else, for everyone.\n{deny, all}.'].join('\n\n') + '\n';
}
