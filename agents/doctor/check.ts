/**
 * What every doctor check returns: a status, one line of what was found and, when something is wrong,
 * the exact fix. Checks never throw for what they find; `guard` turns a check's own crash into a failed
 * check so one broken probe never hides the others.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  id: string;
  status: CheckStatus;
  summary: string;
  /** What to do about it: present for warn and fail. */
  fix?: string;
  /** Numbers and names for scripts (`--json`); never a secret or a raw address. */
  details?: Record<string, unknown>;
}

export function ok(id: string, summary: string, details?: Record<string, unknown>): CheckResult {
  return result(id, 'ok', summary, undefined, details);
}

export function warn(id: string, summary: string, fix: string, details?: Record<string, unknown>): CheckResult {
  return result(id, 'warn', summary, fix, details);
}

export function fail(id: string, summary: string, fix: string, details?: Record<string, unknown>): CheckResult {
  return result(id, 'fail', summary, fix, details);
}

/** Summaries and fixes are printed one line each: foreign messages (OpenSSL's) can carry newlines. */
function result(id: string, status: CheckStatus, summary: string, fix: string | undefined, details: Record<string, unknown> | undefined): CheckResult {
  const r: CheckResult = { id, status, summary: oneLine(summary) };
  if (fix !== undefined) r.fix = oneLine(fix);
  if (details) r.details = details;
  return r;
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ').trim();

/** The worse of two statuses (fail > warn > ok). */
export function worst(a: CheckStatus, b: CheckStatus): CheckStatus {
  const rank = { ok: 0, warn: 1, fail: 2 } as const;
  return rank[a] >= rank[b] ? a : b;
}

export async function guard(id: string, run: () => CheckResult | Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await run();
  } catch (err) {
    if (process.env.OMNILOOP_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    return fail(id, `the check itself failed: ${firstLine(err)}`, 'please report this (run with OMNILOOP_DEBUG=1 for details)');
  }
}

export function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}

export function errnoCode(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? 'error';
}
