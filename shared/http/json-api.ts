/** What every JSON endpoint of ours shares: errors with a status, JSON answers, a bearer token. */
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { InputError } from '../errors.js';
import { checkPrivateFile } from '../private-file.js';

/** Shorter bearer tokens are refused: they could be guessed. */
export const MIN_TOKEN_LENGTH = 16;

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

/**
 * The token a config's `tokenFile` names (`setting` says which, for the error): a private file (0600, or
 * 0640 for a service's group) holding one token of at least MIN_TOKEN_LENGTH visible ASCII characters.
 */
export function readTokenFile(path: string, setting: string): string {
  checkPrivateFile(path, { what: setting, groupMayRead: true, missingHint: `put a token of at least ${MIN_TOKEN_LENGTH} characters there, e.g. openssl rand -hex 24` });
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new InputError(`cannot read ${setting} ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (token.length < MIN_TOKEN_LENGTH) throw new InputError(`${setting} ${path} must hold a token of at least ${MIN_TOKEN_LENGTH} characters`);
  // A space, a second line or a control character is a mangled file; no client could send it in a header.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new InputError(`${setting} ${path} must hold one token of visible ASCII characters (no spaces, line breaks or control characters)`);
  return token;
}

/** A bearer token compared in constant time. */
export class BearerToken {
  private readonly token: Buffer;

  constructor(token: string, what: string) {
    if (token.length < MIN_TOKEN_LENGTH) throw new Error(`the ${what} token must be at least ${MIN_TOKEN_LENGTH} characters`);
    this.token = Buffer.from(token);
  }

  /** Throws 401 (with the challenge header) unless the Authorization header carries the token. */
  check(header: string | undefined, res: ServerResponse): void {
    // The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
    const m = /^bearer +(.+)$/i.exec(header ?? '');
    const given = m ? Buffer.from(m[1]!) : null;
    if (given && given.length === this.token.length && timingSafeEqual(given, this.token)) return;
    res.setHeader('www-authenticate', 'Bearer');
    throw new HttpError(401, 'a valid bearer token is required');
  }
}

/**
 * A listening HTTP server whose handler may throw: an HttpError becomes its status and message, anything
 * else a 500 "internal error" (reported to `onFailure`, never to the client). Resolves with the port.
 */
export async function listenJson(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>, port: number, host: string, onFailure: (err: unknown) => void = () => {}): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!(err instanceof HttpError)) onFailure(err);
      const e = err instanceof HttpError ? err : new HttpError(500, 'internal error');
      sendJson(res, e.status, { error: e.message });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as { port: number }).port };
}

/** Closes a server started by listenJson (null: nothing to do). */
export function closeServer(server: Server | null): Promise<void> {
  return server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
}
