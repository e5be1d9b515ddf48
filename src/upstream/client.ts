import type { ServerResponse } from 'node:http';
import { isIP, type LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, Pool, ProxyAgent, type Dispatcher } from 'undici';
import type { Config } from '../config.js';
import { ProxyError, classify } from '../errors.js';
import { resolveReference } from '../manifest/resolve.js';
import { H1Body, canSend, createH1Client, type H1Client } from './h1-client.js';
import { headerValue } from './headers.js';
import { readLimited } from './body.js';
import { RequestAbort } from './request-abort.js';
import { parseTargetUrl, type TargetUrl } from './target-url.js';
import { tlsConnectOptions } from './tls-options.js';

/**
 * The upstream HTTP client (undici). Why undici and not http-proxy: measured here, http-proxy 1.18.1 left
 * 20 of 20 upstream sockets open when clients hung up, undici 0; undici also gives per-phase timeouts
 * (connect / headers / body) that map to 504s, and a `path` option that is sent byte for byte.
 *
 * Redirects are followed here, not by undici, so that every hop goes through the egress guard and the
 * playlist's final URL (the base for its relative URIs) is known.
 *
 * Plain-http origins are asked through h1-client.ts instead (same pools, timeouts, lookups and headers on
 * the wire), whose bodies can be written to a response without a copy or a stream in between (`pipeBody`):
 * undici's copy and allocation per read, and the full collections the allocations brought, were most of the
 * CPU of a streamed segment (issue #16: 2.6–3.7 → 0.8–0.9 ms per 1.5 MB, bench/segment-first-view.ts).
 * https, --http-proxy, an injected dispatcher and requests with headers undici treats specially stay on undici.
 */

export interface EgressGuard {
  /** Throws ProxyError('EGRESS_DENIED') for a URL the policy refuses; may return a pinned DNS lookup. */
  check(target: TargetUrl): Promise<void>;
}

/** A response body: a Readable (undici's, or h1-client's H1Body), and `dump()` to throw it away. */
export type UpstreamBody = Readable & { dump(): Promise<unknown> };

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: UpstreamBody;
  /** URL of the last hop, after redirects. */
  finalUrl: string;
}

export interface FetchedPlaylist {
  status: number;
  body: string;
  finalUrl: string;
  contentType: string;
}

export interface RequestInit {
  method?: 'GET' | 'HEAD';
  headers: Record<string, string>;
  /** Aborts the request (and its body). fetchPlaylist passes its own cheaper RequestAbort to open(). */
  signal?: AbortSignal | RequestAbort;
}

/** The URL's target and the address the egress policy judged for it (security/pinned-lookup.ts). */
export interface JudgedUpstream {
  target: TargetUrl;
  address: string;
  family: 4 | 6;
}

export interface Upstream {
  /**
   * Issue #16 §1: what open() would check before connecting (the URL through the egress guard, the name
   * resolved once and every address judged), without connecting: the address a front server is to connect
   * to instead. Throws as open() would (EGRESS_DENIED, UPSTREAM_UNREACHABLE); undefined when no judged
   * address can be given (no pinned lookup, --http-proxy, an injected dispatcher).
   */
  judge?(url: string): Promise<JudgedUpstream | undefined>;
  /** Opens a response (segment, key, init section), following redirects; the caller streams the body. */
  open(url: string, init: RequestInit): Promise<UpstreamResponse>;
  /** Fetches a playlist whole, with the size limit and an overall deadline. Non-2xx → ProxyError. */
  fetchPlaylist(url: string, init: { headers: Record<string, string>; signal?: AbortSignal }): Promise<FetchedPlaylist>;
  close(): Promise<void>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Idle upstream sockets are closed after this; at most CONNECTIONS per origin (undici and h1-client alike). */
const KEEP_ALIVE_MS = 4000;
const CONNECTIONS = 512;

/**
 * Throws a response body away without an unhandled 'error': a small body is read so the connection can be
 * reused; a large one makes undici close the socket.
 */
export function discard(body: UpstreamBody): void {
  body.dump().catch(() => undefined);
}

/**
 * Streams a body into a response with backpressure and settles when the response has finished (or fails
 * with the upstream's error, or when the client leaves first). An h1-client body is written straight from
 * its read buffers (h1-client.ts#H1Body.pipeTo); any other goes through pipeline().
 */
export function pipeBody(body: UpstreamBody, res: ServerResponse): Promise<void> {
  return body instanceof H1Body ? body.pipeTo(res) : pipeline(body, res);
}

/**
 * A socket `lookup` per upstream origin (`scheme://host:port`, as undici keys its pools), so a DNS answer is
 * judged with the scheme and port it will be used for (issue #5 §1, src/security/pinned-lookup.ts).
 */
export type OriginLookup = (origin: string) => LookupFunction;

export function createDispatcher(config: Config, lookupFor?: OriginLookup): Dispatcher {
  const connect = {
    timeout: config.timeouts.connectMs,
    rejectUnauthorized: config.upstreamTls.rejectUnauthorized,
    // hlsd --req-options: its TLS part only, for these upstream connections alone (tls-options.ts).
    ...tlsConnectOptions(config.upstreamTls.options),
  };
  const common = {
    headersTimeout: config.timeouts.headersMs,
    bodyTimeout: config.timeouts.bodyMs,
    keepAliveTimeout: KEEP_ALIVE_MS,
    connections: CONNECTIONS,
  };
  if (config.httpProxy) {
    return new ProxyAgent({ uri: config.httpProxy, requestTls: connect, proxyTls: connect, ...common });
  }
  if (!lookupFor) return new Agent({ connect, ...common });
  // One pool per origin (undici's default factory), each with its origin's pinned lookup. Not applied
  // through --http-proxy: there the proxy resolves names, and only the URL checks of the guard apply.
  return new Agent({
    connect,
    ...common,
    factory: (origin, opts) => new Pool(origin, { ...opts, connect: { ...connect, lookup: lookupFor(String(origin)) } }),
  });
}

/** 4xx statuses are the viewer's business and pass through; 5xx and anything odd become 502. */
function statusError(status: number): ProxyError {
  return new ProxyError('UPSTREAM_STATUS', { status: status >= 400 && status < 500 ? status : 502 });
}

export function createUpstream(
  config: Config,
  deps: { dispatcher?: Dispatcher; guard?: EgressGuard; lookupFor?: OriginLookup } = {},
): Upstream {
  const dispatcher = deps.dispatcher ?? createDispatcher(config, deps.lookupFor);
  const ownsDispatcher = !deps.dispatcher;
  // Same settings as the undici Agent (createDispatcher); not through a forward proxy, nor in place of a
  // dispatcher a caller chose.
  const h1: H1Client | undefined =
    ownsDispatcher && !config.httpProxy
      ? createH1Client({
          connectMs: config.timeouts.connectMs,
          headersMs: config.timeouts.headersMs,
          bodyMs: config.timeouts.bodyMs,
          keepAliveMs: KEEP_ALIVE_MS,
          maxConnections: CONNECTIONS,
          lookupFor: deps.lookupFor,
        })
      : undefined;

  async function open(url: string, init: RequestInit): Promise<UpstreamResponse> {
    let current = url;
    for (let hop = 0; ; hop++) {
      let target: TargetUrl;
      try {
        target = parseTargetUrl(current);
      } catch (err) {
        // The first URL is the client's token (400). A Location that no two parsers read alike, or none
        // can, is the upstream's answer: never followed, and a bad response from it (issue #15 §4).
        if (hop === 0) throw err;
        throw new ProxyError('UPSTREAM_BAD_RESPONSE', { detail: 'redirect to a malformed or ambiguous URL', cause: err });
      }
      if (deps.guard) await deps.guard.check(target);
      // A copy only when a hop adds credentials: undici reads the object and never keeps or changes it.
      const headers =
        target.basicAuth && !init.headers.authorization ? { ...init.headers, authorization: target.basicAuth } : init.headers;
      let res: { statusCode: number; headers: UpstreamResponse['headers']; body: UpstreamBody };
      try {
        res =
          h1 && target.protocol === 'http:' && canSend(target.path, headers)
            ? await h1.request({
                origin: target.origin,
                hostname: target.hostname,
                port: target.port,
                path: target.path,
                method: init.method ?? 'GET',
                headers,
                signal: init.signal,
              })
            : await dispatcher.request({
                origin: target.origin,
                path: target.path,
                method: init.method ?? 'GET',
                headers,
                signal: init.signal ?? null,
              });
      } catch (err) {
        if (init.signal?.aborted) throw new ProxyError('CLIENT_GONE', { cause: err });
        throw classify(err);
      }
      const location = headerValue(res.headers, 'location');
      if (!REDIRECTS.has(res.statusCode) || !location) {
        return { status: res.statusCode, headers: res.headers, body: res.body, finalUrl: current };
      }
      discard(res.body);
      if (hop >= config.limits.redirects) throw new ProxyError('UPSTREAM_TOO_MANY_REDIRECTS');
      // RFC 9110 §10.2.2: Location may be relative to the request target.
      current = resolveReference(current, location.trim());
      if (!/^https?:\/\//i.test(current)) throw new ProxyError('UPSTREAM_BAD_RESPONSE', { detail: 'redirect to a non-http(s) URL' });
    }
  }

  async function fetchPlaylist(url: string, init: { headers: Record<string, string>; signal?: AbortSignal }): Promise<FetchedPlaylist> {
    // One switch and one cleared timer rather than AbortSignal.timeout + AbortSignal.any, which cost a
    // measurable share of every cache miss in the bench and keep their timers alive until they fire; and a
    // RequestAbort rather than an AbortController, whose signal alone costs a few µs (request-abort.ts).
    const abort = new RequestAbort();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, config.timeouts.playlistMs);
    const onClientGone = () => abort.abort();
    init.signal?.addEventListener('abort', onClientGone, { once: true });
    if (init.signal?.aborted) abort.abort();
    const headers = { 'accept-encoding': 'gzip, deflate, br', ...init.headers };
    try {
      const res = await open(url, { headers, signal: abort });
      if (res.status < 200 || res.status > 299) {
        discard(res.body);
        throw statusError(res.status);
      }
      const length = Number(headerValue(res.headers, 'content-length'));
      if (length > config.limits.playlistBytes && !headerValue(res.headers, 'content-encoding')) {
        discard(res.body);
        throw new ProxyError('PLAYLIST_TOO_LARGE', { detail: `content-length ${length}` });
      }
      // No signal here: an abort makes undici destroy the body with an error, which ends the read.
      const buf = await readLimited(res.body, headerValue(res.headers, 'content-encoding'), config.limits.playlistBytes);
      return {
        status: res.status,
        // RFC 8216 §4.1: playlists are UTF-8. A BOM survives as U+FEFF and is written back unchanged.
        body: buf.toString('utf8'),
        finalUrl: res.finalUrl,
        contentType: headerValue(res.headers, 'content-type') ?? '',
      };
    } catch (err) {
      if (init.signal?.aborted) throw new ProxyError('CLIENT_GONE', { cause: err });
      if (timedOut) throw new ProxyError('UPSTREAM_TIMEOUT', { cause: err });
      throw classify(err);
    } finally {
      clearTimeout(timer);
      init.signal?.removeEventListener('abort', onClientGone);
    }
  }

  async function judge(url: string): Promise<JudgedUpstream | undefined> {
    if (!ownsDispatcher || config.httpProxy || !deps.lookupFor) return undefined;
    const target = parseTargetUrl(url);
    if (deps.guard) await deps.guard.check(target);
    // An IP literal is connected to as it is (net.connect asks no lookup for one): the guard judged it.
    const literal = isIP(target.hostname);
    if (literal) return { target, address: target.hostname, family: literal === 6 ? 6 : 4 };
    const lookup = deps.lookupFor(target.origin);
    const first = await new Promise<{ address: string; family: number }>((resolve, reject) =>
      lookup(target.hostname, { all: true }, (err, addresses) => {
        const list = addresses as unknown as Array<{ address: string; family: number }>;
        if (err || !Array.isArray(list) || list.length === 0) reject(classify(err ?? new Error('no address')));
        // Every answer was judged; a front gets one, IPv4 when there is one (no happy eyeballs there).
        else resolve(list.find((a) => a.family === 4) ?? list[0]!);
      }),
    );
    return { target, address: first.address, family: first.family === 6 ? 6 : 4 };
  }

  return {
    open,
    judge,
    fetchPlaylist,
    async close() {
      await h1?.close();
      if (ownsDispatcher) await dispatcher.close();
    },
  };
}
