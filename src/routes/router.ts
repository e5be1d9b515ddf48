import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { PlaylistCache } from '../cache/types.js';
import type { Config } from '../config.js';
import { ProxyError } from '../errors.js';
import { resolvePublicBase } from '../forwarded.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Upstream } from '../upstream/client.js';
import { decodeTarget, mergeQuery } from '../url-codec.js';
import { serveHealth, serveMetrics, serveReady } from './health.js';
import { servePlaylist } from './manifest.js';
import type { Renderer } from './render-playlist.js';
import { answerPreflight, applyCors, sendError } from './respond.js';
import { matchRoute } from './route-match.js';
import { serveStream } from './segment.js';

/**
 * The one request handler: method and size checks, routing, CORS, the public base, then the playlist or
 * stream route. Every failure ends in `sendError` (the single error boundary); nothing thrown escapes.
 */

export interface AppDeps {
  config: Config;
  upstream: Upstream;
  cache: PlaylistCache;
  renderer: Renderer;
  logger: Logger;
  metrics: Metrics;
  clock: () => number;
  isShuttingDown: () => boolean;
}

const METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Query parameters that belong to the proxy and never travel upstream. */
const OWN_PARAMS = ['password'] as const;

function hostOf(url: string): string {
  return /^https?:\/\/(?:[^@/?#]*@)?([^/?#:]+|\[[^\]]*\])/i.exec(url)?.[1] ?? '';
}

export function createHandler(deps: AppDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, logger, metrics } = deps;

  async function route(req: IncomingMessage, res: ServerResponse, log: Record<string, unknown>): Promise<void> {
    const method = req.method ?? '';
    if (!METHODS.has(method)) throw new ProxyError('METHOD_NOT_ALLOWED');
    const rawUrl = req.url ?? '/';
    if (rawUrl.length > config.limits.urlLength) throw new ProxyError('URL_TOO_LONG');
    const q = rawUrl.indexOf('?');
    const pathname = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = q === -1 ? '' : rawUrl.slice(q + 1);
    if (!pathname.startsWith('/')) throw new ProxyError('BAD_REQUEST');

    applyCors(req, res, config.cors);
    if (method === 'OPTIONS') {
      log.route = 'preflight';
      answerPreflight(res);
      return;
    }

    const match = matchRoute(pathname, config.prefix);
    if (match.kind === 'none') throw new ProxyError('NOT_FOUND');
    if (match.kind === 'named') {
      log.route = match.name;
      if (match.name === 'healthz') return serveHealth(res);
      if (match.name === 'readyz') return serveReady(res, deps.cache, deps.isShuttingDown());
      if (match.name === 'metrics') return serveMetrics(res, metrics.registry);
      throw new ProxyError('NOT_FOUND');
    }

    const target = decodeTarget(match.tokenPath, { maxTokenLength: config.limits.urlLength });
    const base = resolvePublicBase({
      peer: req.socket.remoteAddress ?? '',
      headers: req.headers,
      encrypted: 'encrypted' in req.socket && !!req.socket.encrypted,
      echoedPrefix: match.prefix,
      config,
    });
    const publicBase = `${base.proto}://${base.host}${base.prefix}`;
    const upstreamUrl = mergeQuery(target.url, query, OWN_PARAMS);
    log.upstreamHost = hostOf(upstreamUrl);
    log.client = base.clientIp;

    const isPlaylist = target.ext === config.manifestExtension || target.ext === 'm3u8';
    if (isPlaylist) {
      log.route = 'playlist';
      log.cache = await servePlaylist(deps, { target, upstreamUrl, publicBase, head: method === 'HEAD' }, res);
      return;
    }
    log.route = 'stream';
    metrics.openStreams.inc();
    try {
      await serveStream(deps, req, res, { target, upstreamUrl, publicBase });
    } finally {
      metrics.openStreams.dec();
    }
  }

  return (req, res) => {
    const started = process.hrtime.bigint();
    const trustedId = req.headers['x-request-id'];
    const log: Record<string, unknown> = {
      id: typeof trustedId === 'string' && /^[\w.-]{1,128}$/.test(trustedId) && config.trustProxy.has(req.socket.remoteAddress ?? '')
        ? trustedId
        : randomUUID(),
      method: req.method,
      route: 'unknown',
    };
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = String(log.route);
      metrics.requests.inc({ route, status: String(res.statusCode) });
      metrics.duration.observe({ route }, seconds);
      const socketBytes = route === 'stream' ? Number(res.getHeader('content-length') ?? 0) : 0;
      if (socketBytes > 0) metrics.bytesStreamed.inc(socketBytes);
      const line = { ...log, status: res.statusCode, ms: Math.round(seconds * 1000) };
      if (res.statusCode >= 500) logger.warn(line, 'request failed');
      else logger.debug(line, 'request');
    });
    route(req, res, log).catch((err: unknown) => {
      const http = sendError(res, err);
      if (http.status >= 500 && http.code !== 'CLIENT_GONE') {
        if (typeof log.upstreamHost === 'string') metrics.upstreamErrors.inc({ host: log.upstreamHost, code: http.code });
        if (http.code === 'INTERNAL') logger.error({ ...log, err }, 'internal error');
      }
    });
  };
}
