/**
 * Which database errors are the message's fault (its content refused) and which are the database's (down,
 * full, busy): the first make a dead letter, the second are thrown so the message comes again.
 */

/** SQLSTATE classes 22 (data exception), 23 (integrity constraint), 54 (limit exceeded); SQLite's equivalents. */
export function isMessageFault(err: unknown): boolean {
  const code = faultCode(err);
  return /^(22|23|54)[0-9A-Z]{3}$/.test(code) || code === 'SQLITE_TOOBIG' || code === 'SQLITE_MISMATCH' || code.startsWith('SQLITE_CONSTRAINT');
}

export function faultCode(err: unknown): string {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : '';
}
