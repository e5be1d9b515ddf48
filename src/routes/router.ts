import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { PlaylistCache } from '../cache/types.js';
import type { Config } from '../config.js';
import { ProxyError } from '../errors.js';
import type { PublicBase } from '../forwarded.js';
import { createPublicBaseResolver } from '../public-base-memo.js';
import { PASSWORD_CHALLENGE, type AccessControl } from '../security/access.js';
import type { CacheScope } from '../upstream/headers.js';
import type { HookRunner } from '../hooks.js';
import { countBodyBytes } from '../observability/byte-counter.js';
import { abbreviate, type Logger } from '../observability/logger.js';
import { createRequestIds } from '../observability/request-id.js';
import type { Metrics } from '../observability/metrics.js';
import type { Prefetcher } from '../prefetch/prefetcher.js';
import type { SegmentCache } from '../cache/segment-cache.js';
import type { Upstream } from '../upstream/client.js';
import { mergeQuery } from '../url-codec.js';
import { serveHealth, serveMetrics, serveReady } from './health.js';
import { servePlaylist } from './manifest.js';
import { servePlayerAsset, servePlayerPage, type PlayerAssets } from './player.js';
import { PREFETCH_TAGS, SEGMENT_CACHE_TAGS, servePrefetched } from './prefetched.js';
import type { Renderer } from './render-playlist.js';
import { answerPreflight, createCors, sendError, setHeaders } from './respond.js';
import { createRouteMatcher } from './route-match.js';
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
  /** Client ACLs and signatures (issue #5 §2, §3); absent = everyone may ask. */
  access?: AccessControl;
  logger: Logger;
  metrics: Metrics;
  clock: () => number;
  isShuttingDown: () => boolean;
  /** hlsd --hooks (src/hooks.ts); absent = none. */
  hooks?: HookRunner;
  /** hlsd --prefetch; absent = off. */
  prefetch?: Prefetcher | undefined;
  /** --segment-cache-max-bytes; absent = off. */
  segmentCache?: SegmentCache | undefined;
  /** Player page assets (`_/player`, `_/assets/*`); absent = those routes answer 404. */
  assets?: PlayerAssets;
}

const METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Query parameters that belong to the proxy and never travel upstream. */
const OWN_PARAMS = ['password'] as const;

/** What a request's log line and metrics need, filled in as routing learns it. */
interface RequestLog {
  id: string;
  route: string;
  client?: string;
  /** Kept raw: its host is worked out only for a line that is written or an error that is counted. */
  upstreamUrl?: string;
  cache?: string;
  error?: string;
}

/**
 * The fields of a log line. The path names the upstream (the token encodes its URL, query and all): only its
 * ends are logged. Built only for lines that are written: most requests log nothing.
 */
function printable(req: IncomingMessage, log: RequestLog): Record<string, unknown> {
  const { upstreamUrl, ...rest } = log;
  return {
    ...rest,
    method: req.method,
    path: abbreviate((req.url ?? '').split('?')[0] ?? '', 12),
    ...(upstreamUrl !== undefined ? { upstreamHost: hostOf(upstreamUrl) } : {}),
  };
}

const baseUrl = (b: PublicBase): string => `${b.proto}://${b.host}${b.prefix}`;

function hostOf(url: string): string {
  return /^https?:\/\/(?:[^@/?#]*@)?([^/?#:]+|\[[^\]]*\])/i.exec(url)?.[1] ?? '';
}

export function createHandler(deps: AppDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, logger, metrics } = deps;
  const routeOf = createRouteMatcher({ prefix: config.prefix, maxTokenLength: config.limits.urlLength });
  const nextRequestId = createRequestIds();
  const corsFor = createCors(config.cors);

  /** The viewer's public base; which headers are believed is decided in forwarded.ts alone. */
  const resolveBase = createPublicBaseResolver(config);
  const publicBaseOf = (req: IncomingMessage, echoedPrefix: string): PublicBase =>
    resolveBase({
      peer: req.socket.remoteAddress ?? '',
      headers: req.headers,
      encrypted: 'encrypted' in req.socket && !!req.socket.encrypted,
      echoedPrefix,
    });

  /** `own`: the headers every reply carries (X-Request-Id, CORS); see respond.ts#setHeaders for how they are sent. */
  async function route(req: IncomingMessage, res: ServerResponse, log: RequestLog, own: Readonly<OutgoingHttpHeaders>): Promise<void> {
    const method = req.method ?? '';
    if (!METHODS.has(method)) throw new ProxyError('METHOD_NOT_ALLOWED');
    const rawUrl = req.url ?? '/';
    if (rawUrl.length > config.limits.urlLength) throw new ProxyError('URL_TOO_LONG');
    const q = rawUrl.indexOf('?');
    const pathname = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = q === -1 ? '' : rawUrl.slice(q + 1);
    if (!pathname.startsWith('/')) throw new ProxyError('BAD_REQUEST');

    if (method === 'OPTIONS') {
      log.route = 'preflight';
      setHeaders(res, own);
      answerPreflight(res);
      return;
    }

    const match = routeOf(pathname);
    if (match.kind === 'none') throw new ProxyError('NOT_FOUND');
    if (match.kind === 'named') {
      log.route = match.name;
      setHeaders(res, own);
      if (match.name === 'healthz') return serveHealth(res);
      if (match.name === 'readyz') return serveReady(res, deps.cache, deps.isShuttingDown());
      if (match.name === 'metrics') return serveMetrics(res, metrics.registry);
      if (match.name === 'player-asset' && deps.assets) return servePlayerAsset(res, deps.assets, match.rest);
      if (match.name === 'player' && deps.assets) {
        const base = publicBaseOf(req, match.prefix);
        return servePlayerPage(res, query, { publicBase: baseUrl(base), prefix: base.prefix, manifestExtension: config.manifestExtension });
      }
      throw new ProxyError('NOT_FOUND');
    }

    const { target } = match;
    const base = publicBaseOf(req, match.prefix);
    const isPlaylist = target.ext === config.manifestExtension || target.ext === 'm3u8';
    let scope: CacheScope = 'public';
    try {
      if (deps.access) scope = deps.access.check({ target, isPlaylist, clientIp: base.clientIp, headers: req.headers, query });
    } catch (err) {
      if (err instanceof ProxyError && err.code === 'UNAUTHORIZED') res.setHeader('www-authenticate', PASSWORD_CHALLENGE);
      log.client = base.clientIp;
      throw err;
    }
    const publicBase = baseUrl(base);
    // hlsd's `rewrite` hook maps the requested upstream URL (after the signature check on the token).
    const requested = deps.hooks ? deps.hooks.rewrite(target.url) : target.url;
    if (requested === undefined) throw new ProxyError('BAD_TOKEN', { detail: 'refused by the rewrite hook' });
    const upstreamUrl = mergeQuery(requested, query, OWN_PARAMS);
    log.upstreamUrl = upstreamUrl;
    log.client = base.clientIp;

    if (isPlaylist) {
      log.route = 'playlist';
      log.cache = await servePlaylist(deps, { target, upstreamUrl, publicBase, head: method === 'HEAD', scope, own }, res);
      return;
    }
    log.route = 'stream';
    countBodyBytes(res, (bytes) => {
      if (bytes > 0) metrics.bytesStreamed.inc(bytes);
    });
    // Stored copies first: prefetched ones (their download started before anyone asked, so a wait is short),
    // then the segment cache's (a wait lasts at most one body download).
    const stores = [
      deps.prefetch && { source: deps.prefetch, counter: metrics.prefetchServed, waitMs: config.timeouts.headersMs, tags: PREFETCH_TAGS, logAs: 'prefetch' },
      deps.segmentCache && { source: deps.segmentCache, counter: metrics.segmentCacheServed, waitMs: config.timeouts.bodyMs, tags: SEGMENT_CACHE_TAGS, logAs: 'segment' },
    ];
    for (const store of stores) {
      if (!store) continue;
      const served = await servePrefetched(store.source, req, res, { url: upstreamUrl, referer: target.referer, waitMs: store.waitMs, scope, own }, store.tags);
      store.counter.inc({ result: served === 'prefetch-hit' ? 'hit' : served === 'prefetch-wait' ? 'wait' : 'miss' });
      if (served) {
        log.cache = `${store.logAs}-${served === 'prefetch-hit' ? 'hit' : 'wait'}`;
        return;
      }
    }
    metrics.openStreams.inc();
    try {
      await serveStream(deps, req, res, { target, upstreamUrl, publicBase, scope, own });
    } finally {
      metrics.openStreams.dec();
    }
  }

  return (req, res) => {
    const started = process.hrtime.bigint();
    const trustedId = req.headers['x-request-id'];
    const log: RequestLog = {
      id: typeof trustedId === 'string' && /^[\w.-]{1,128}$/.test(trustedId) && config.trustProxy.has(req.socket.remoteAddress ?? '')
        ? trustedId
        : nextRequestId(),
      route: 'unknown',
    };
    const own: Readonly<OutgoingHttpHeaders> = { 'x-request-id': log.id, ...corsFor(req.headers.origin) };
    // 'close' follows a finished response and an aborted one alike, so hang-ups are logged and counted too.
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = res.headersSent ? res.statusCode : 499;
      metrics.observeRequest(log.route, status, seconds);
      if (status < 500 && !logger.isLevelEnabled('debug')) return;
      const line = { ...printable(req, log), status, ms: Math.round(seconds * 1000), ...(res.writableFinished ? {} : { aborted: true }) };
      // Access lines at debug (-v 3): the front server keeps the access log, and an info line per request
      // cost about a quarter of the cached-playlist throughput here. Failures are always logged.
      if (status >= 500) logger.warn(line, 'request failed');
      else logger.debug(line, 'request');
    });
    route(req, res, log, own).catch((err: unknown) => {
      const bodyPhase = res.headersSent; // upstream answered; it failed while streaming the body
      const http = sendError(res, err, own);
      log.error = http.code;
      if (http.status >= 500 && http.code !== 'CLIENT_GONE') {
        // Failures of the upstream request itself are counted where it is made (upstream-metrics.ts).
        if (bodyPhase && log.upstreamUrl !== undefined) metrics.upstreamErrors.inc({ host: metrics.hostLabel(hostOf(log.upstreamUrl)), code: http.code });
        if (http.code === 'INTERNAL') logger.error({ ...printable(req, log), err }, 'internal error');
      }
    });
  };
}
