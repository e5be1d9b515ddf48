import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import { toHttp, type HttpError } from '../errors.js';

/** Small response helpers shared by the routes; the only place that writes error responses. */

export function sendText(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(buf.length),
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : buf);
}

/**
 * Answers an error from the catalogue. A response already under way cannot change its status, so it is cut
 * off instead (the client sees a truncated body rather than a wrong one). A client that went away gets nothing.
 */
export function sendError(res: ServerResponse, err: unknown): HttpError {
  const http = toHttp(err);
  if (http.code === 'CLIENT_GONE') {
    res.destroy();
    return http;
  }
  if (res.headersSent) {
    res.destroy();
    return http;
  }
  sendText(res, http.status, http.body);
  return http;
}

/**
 * CORS (issue #2 §7): the configured origin, `*` by default; with a list, the request's Origin is echoed
 * when it is on the list (and `Vary: Origin` says so). Credentials are never combined with `*` (config.ts).
 */
export function applyCors(req: IncomingMessage, res: ServerResponse, cors: Config['cors']): void {
  const origin = req.headers.origin;
  if (cors.origins.includes('*')) {
    res.setHeader('access-control-allow-origin', '*');
  } else {
    res.setHeader('vary', 'Origin');
    if (!origin || !cors.origins.includes(origin)) return;
    res.setHeader('access-control-allow-origin', origin);
  }
  if (cors.credentials) res.setHeader('access-control-allow-credentials', 'true');
  res.setHeader('access-control-expose-headers', 'Age, Content-Length, Content-Range, X-HLS-Sidecar-Cache');
}

/** Preflight answered locally, never forwarded (issue #2 §7). */
export function answerPreflight(res: ServerResponse): void {
  res.writeHead(204, {
    'access-control-allow-methods': 'GET, HEAD, OPTIONS',
    'access-control-allow-headers': 'Range, If-Range, If-None-Match, If-Modified-Since, Origin, Accept, Content-Type, X-Requested-With',
    'access-control-max-age': '86400',
    'content-length': '0',
  });
  res.end();
}
