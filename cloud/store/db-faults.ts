/**
 * Which database errors are the message's fault (its content refused) and which are the database's (down,
 * full, busy): the first make a dead letter, the second are thrown so the message comes again.
 */

import { isMissingPartition } from './postgres-partitions.js';

/** SQLSTATE classes 22 (data exception), 23 (integrity constraint), 54 (limit exceeded); SQLite's equivalents. */
export function isMessageFault(err: unknown): boolean {
  const code = faultCode(err);
  // A row without its day's partition is the database's state, not the message's: tried again.
  if (isMissingPartition(err)) return false;
  return /^(22|23|54)[0-9A-Z]{3}$/.test(code) || code === 'SQLITE_TOOBIG' || code === 'SQLITE_MISMATCH' || code.startsWith('SQLITE_CONSTRAINT');
}

export function faultCode(err: unknown): string {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : '';
}
