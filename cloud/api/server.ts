/**
 * HQ's HTTP JSON API, behind a bearer token: stores and agents, footfall, visits, profiles, dead
 * letters. Every figure that counts people goes through the same k-anonymous analytics as the CLI.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { CloudStore } from '../store/cloud-store.js';
import { buildVisits, storeDayFigures, storeTimezones } from '../analytics/visits.js';
import { findProfile } from '../identity/profiles.js';
import type { GraphRules } from '../identity/graph.js';

export interface ApiOptions {
  token: string;
  /** k-anonymity threshold for counts of people. */
  k: number;
  rules?: GraphRules;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export class ApiServer {
  private server: Server | null = null;
  private readonly token: Buffer;

  constructor(
    private readonly store: CloudStore,
    private readonly opts: ApiOptions,
  ) {
    if (opts.token.length < 16) throw new Error('the API token must be at least 16 characters');
    this.token = Buffer.from(opts.token);
  }

  async start(port: number, host = '127.0.0.1'): Promise<number> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        const e = err instanceof HttpError ? err : new HttpError(500, 'internal error');
        send(res, e.status, { error: e.message });
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return (server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.authorized(req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Bearer');
      throw new HttpError(401, 'a valid bearer token is required');
    }
    if (req.method !== 'GET') throw new HttpError(405, 'only GET');
    const url = new URL(req.url ?? '/', 'http://api');
    const q = (name: string, re: RegExp, required = true): string | undefined => {
      const v = url.searchParams.get(name) ?? undefined;
      if (v === undefined && required) throw new HttpError(400, `query parameter ${name} is required`);
      if (v !== undefined && !re.test(v)) throw new HttpError(400, `query parameter ${name} is malformed`);
      return v;
    };
    const path = url.pathname;
    if (path === '/v1/stats') return send(res, 200, await this.store.stats());
    if (path === '/v1/agents') return send(res, 200, { agents: await this.store.agents() });
    if (path === '/v1/dead-letters') {
      const limit = Math.min(500, Math.max(1, Number(url.searchParams.get('limit') ?? 50) || 50));
      return send(res, 200, { deadLetters: await this.store.deadLetters(limit) });
    }
    if (path === '/v1/footfall') {
      const tenant = q('tenant', NAME)!;
      const day = q('day', DAY)!;
      const store = q('store', NAME, false);
      const zones = storeTimezones((await this.store.agents()).filter((a) => a.tenant === tenant));
      const figures = storeDayFigures(buildVisits(await this.store.sightingsOfDay(tenant, day)), this.opts.k, zones).filter((f) => !store || f.store === store);
      return send(res, 200, { tenant, day, k: this.opts.k, stores: figures });
    }
    const m = /^\/v1\/profiles\/(p_[0-9a-f]{16})$/.exec(path);
    if (m) {
      const profile = await findProfile(this.store, q('tenant', NAME)!, m[1]!, this.opts.rules);
      if (!profile) throw new HttpError(404, 'no such profile');
      return send(res, 200, profile);
    }
    throw new HttpError(404, 'not found: /v1/stats, /v1/agents, /v1/footfall, /v1/profiles/{id}, /v1/dead-letters');
  }

  private authorized(header: string | undefined): boolean {
    const m = /^Bearer (.+)$/.exec(header ?? '');
    if (!m) return false;
    const given = Buffer.from(m[1]!);
    return given.length === this.token.length && timingSafeEqual(given, this.token);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body) + '\n');
}
