/** What every JSON endpoint of ours shares: errors with a status, JSON answers, a bearer token. */
import { timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';

/** A failure the client caused or may see: answered as `{error}` with this status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body) + '\n');
}

/** A bearer token compared in constant time. */
export class BearerToken {
  private readonly token: Buffer;

  constructor(token: string, what: string) {
    if (token.length < 16) throw new Error(`the ${what} token must be at least 16 characters`);
    this.token = Buffer.from(token);
  }

  /** Throws 401 (with the challenge header) unless the Authorization header carries the token. */
  check(header: string | undefined, res: ServerResponse): void {
    const m = /^Bearer (.+)$/.exec(header ?? '');
    const given = m ? Buffer.from(m[1]!) : null;
    if (given && given.length === this.token.length && timingSafeEqual(given, this.token)) return;
    res.setHeader('www-authenticate', 'Bearer');
    throw new HttpError(401, 'a valid bearer token is required');
  }
}
