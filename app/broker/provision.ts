/**
 * Provisioning, as a pure plan: the roster and what an earlier run left give every file's content.
 * Users who had a password keep it (and their hash line, when it still matches), new users get a new
 * one, and users no longer in the roster are dropped. So running it twice changes nothing, and adding
 * a store never re-keys the others.
 */
import { brokerUsers, type BrokerUser } from './broker-rights.js';
import { renderAclFile, renderEmqxAcl, renderMosquittoConf, renderPasswordFile } from './mosquitto-files.js';
import { generatePassword, hashPassword, verifyPassword } from './mosquitto-password.js';
import type { Roster } from './roster.js';

/** What an earlier run left in the output folder. */
export interface ProvisionState {
  /** username → password (the credentials files) */
  passwords: ReadonlyMap<string, string>;
  /** username → `$7$` hash (the password file) */
  hashes: ReadonlyMap<string, string>;
}

export interface ProvisionPlan {
  users: BrokerUser[];
  /** Every user's password, for its credentials file. */
  passwords: Map<string, string>;
  files: { passwd: string; acl: string; conf: string; emqxAcl: string };
  added: string[];
  kept: string[];
  removed: string[];
}

export interface Secrets {
  password(): string;
  hash(password: string): string;
}

const randomSecrets: Secrets = { password: generatePassword, hash: (p) => hashPassword(p) };

/** `paths`: where the password and ACL files will be on the broker host (written into the conf). */
export function planProvision(roster: Roster, state: ProvisionState, paths: { passwordFile: string; aclFile: string }, secrets: Secrets = randomSecrets): ProvisionPlan {
  const users = brokerUsers(roster);
  const passwords = new Map<string, string>();
  const entries: { username: string; hash: string }[] = [];
  const added: string[] = [];
  const kept: string[] = [];
  for (const u of users) {
    const old = state.passwords.get(u.username);
    const password = old ?? secrets.password();
    (old === undefined ? added : kept).push(u.username);
    passwords.set(u.username, password);
    const oldHash = state.hashes.get(u.username);
    entries.push({ username: u.username, hash: old !== undefined && oldHash !== undefined && verifyPassword(password, oldHash) ? oldHash : secrets.hash(password) });
  }
  const current = new Set(users.map((u) => u.username));
  const removed = [...new Set([...state.passwords.keys(), ...state.hashes.keys()])].filter((u) => !current.has(u)).sort();
  return {
    users,
    passwords,
    files: { passwd: renderPasswordFile(entries), acl: renderAclFile(users), conf: renderMosquittoConf(paths), emqxAcl: renderEmqxAcl(users) },
    added,
    kept,
    removed,
  };
}
