/**
 * The endpoint store systems talk to, behind a bearer token: the till or the captive portal posts
 * identify events (hashed on arrival, queued as links), digital signage asks who is here now by
 * segment (k-anonymous counts). The sample signage page itself is served without a token: it holds no
 * data, and its requests carry the token.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BearerToken, HttpError, closeServer, listenJson, sendJson as send } from '../../shared/http/json-api.js';
import { CONTENT_TYPES, packageRoot, staticSite } from '../../shared/http/static-site.js';
import { audienceMix } from '../activation/audience-mix.js';
import type { Agent } from './agent.js';

/** An identify event is a few hundred bytes; anything much larger is not one. */
const MAX_BODY = 16 * 1024;

const SIGNAGE = join(packageRoot(), 'agents', 'signage');
const serveSignage = staticSite('signage', {
  'index.html': { file: () => join(SIGNAGE, 'index.html'), type: CONTENT_TYPES.html, cache: 'no-cache', csp: "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'" },
  'signage.js': { file: () => join(SIGNAGE, 'signage.js'), type: CONTENT_TYPES.js, cache: 'no-cache' },
  'signage.css': { file: () => join(SIGNAGE, 'signage.css'), type: CONTENT_TYPES.css, cache: 'no-cache' },
});

export class StoreApi {
  private server: Server | null = null;
  private readonly token: BearerToken;

  constructor(
    private readonly agent: Agent,
    token: string,
    private readonly log: Logger,
  ) {
    this.token = new BearerToken(token, 'store API');
  }

  /** Listens on the configured port, or `port` (0: any free one, for several agents on one machine). */
  async start(port?: number): Promise<number> {
    const api = this.agent.config.storeApi!;
    const started = await listenJson((req, res) => this.handle(req, res), port ?? api.port, api.host, (err) => this.log.error({ err: (err as Error).message }, 'store API failure'));
    this.server = started.server;
    return started.port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    await closeServer(s);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (await serveSignage(req, res)) return;
    this.token.check(req.headers.authorization, res);
    const url = new URL(req.url ?? '/', 'http://store');
    if (url.pathname === '/v1/identify') {
      if (req.method !== 'POST') throw new HttpError(405, 'POST a JSON identify event');
      const body = await readJson(req);
      const r = this.agent.identify(body);
      if (!r.ok) {
        if (r.status === 200) return send(res, 200, { accepted: false, reason: r.reason });
        throw new HttpError(r.status, r.reason);
      }
      return send(res, 202, { accepted: true, epoch: r.epoch, linkedDevice: r.linkedDevice });
    }
    if (url.pathname === '/v1/now') {
      if (req.method !== 'GET') throw new HttpError(405, 'only GET');
      const api = this.agent.config.storeApi!;
      const name = url.searchParams.get('zone') ?? api.zones[0]!.name;
      const zone = api.zones.find((z) => z.name === name);
      if (!zone) throw new HttpError(404, `no zone ${JSON.stringify(name)}: zones are ${api.zones.map((z) => z.name).join(', ')}`);
      const presence = this.agent.presence!;
      return send(res, 200, { ...audienceMix(zone.name, presence.present(zone.minRssi), this.agent.segments, api.k), asOfMs: presence.nowMs || null });
    }
    throw new HttpError(404, 'not found: POST /v1/identify, GET /v1/now?zone=Z, GET /signage/');
  }

}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        // Read the rest away (not kept) so the client gets the answer instead of a reset connection.
        chunks.length = 0;
        reject(new HttpError(413, `an identify event is at most ${MAX_BODY} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new HttpError(400, 'the body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}
