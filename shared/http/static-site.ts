/**
 * A small static site under one URL prefix (the HQ dashboard, the store's signage page): a fixed list
 * of files — no path from a URL is ever joined onto the file system, so no URL reaches anything else —
 * with content types, ETags and cache headers. The files are not part of the TypeScript build: both
 * `dist/` and the sources (vitest) read them from the package root.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StaticAsset {
  file: () => string;
  type: string;
  cache: string;
  /** Content-Security-Policy for an HTML page. */
  csp?: string;
  /** Read once: the file never changes while the server runs (a dependency's bundle). */
  immutable?: boolean;
}

/** The package root: the first folder above this module holding package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the omniloop package root (package.json)');
    dir = up;
  }
  return dir;
}

export const CONTENT_TYPES = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
} as const;

/**
 * Serves `/` and `/<prefix>` (redirects) and `/<prefix>/<file>`; answers false for every other path.
 * Looks at the raw request path: `/<prefix>/../package.json` must not be normalized into something else.
 */
export function staticSite(prefix: string, assets: Record<string, StaticAsset>, index = 'index.html'): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const cache = new Map<string, { body: Buffer; etag: string }>();
  const load = async (name: string, asset: StaticAsset) => {
    const hit = cache.get(name);
    if (hit && asset.immutable) return hit;
    // Our own files are re-read so edits show without a restart.
    const body = await readFile(asset.file());
    const entry = { body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
    cache.set(name, entry);
    return entry;
  };
  return async (req, res) => {
    const path = (req.url ?? '/').split(/[?#]/, 1)[0]!;
    if (path !== '/' && path !== `/${prefix}` && !path.startsWith(`/${prefix}/`)) return false;
    const head = (status: number, headers: Record<string, string | number>) => res.writeHead(status, { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', ...headers });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      head(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('only GET\n');
      return true;
    }
    if (path === '/' || path === `/${prefix}`) {
      head(302, { location: `/${prefix}/`, 'cache-control': 'no-cache' });
      res.end();
      return true;
    }
    const name = path.slice(prefix.length + 2) || index;
    const asset = Object.hasOwn(assets, name) ? assets[name] : undefined;
    if (!asset) {
      head(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
      res.end('not found\n');
      return true;
    }
    const { body, etag } = await load(name, asset);
    const headers: Record<string, string | number> = { 'content-type': asset.type, 'cache-control': asset.cache, etag };
    if (asset.csp) headers['content-security-policy'] = asset.csp;
    if (req.headers['if-none-match'] === etag) {
      head(304, headers);
      res.end();
      return true;
    }
    head(200, { ...headers, 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
