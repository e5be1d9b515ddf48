import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { Config } from '../config.js';
import { ProxyError } from '../errors.js';
import { looksLikePlaylist } from '../manifest/detect.js';
import { readLimited } from '../upstream/body.js';
import { discard, pipeBody, type Upstream, type UpstreamBody, type UpstreamResponse } from '../upstream/client.js';
import { clientResponseHeaders, headerValue, scoped, upstreamRequestHeaders, type CacheScope } from '../upstream/headers.js';
import { RequestAbort } from '../upstream/request-abort.js';
import type { Target } from '../url-codec.js';
import type { SegmentCache } from '../cache/segment-cache.js';
import type { Slot } from '../prefetch/segment-store.js';
import { segmentFrontExpires, sharedFreshness } from './front-cache.js';
import { sendRewritten } from './manifest.js';
import type { Renderer } from './render-playlist.js';
import { offloadHeaders, planOffload, type OffloadFacts } from './offload-plan.js';
import { pathExtension } from '../url-codec.js';

/**
 * Segments, keys, init sections, and anything else that is not requested as a playlist: streamed, never
 * buffered (issue #2 §5). Range and validators go upstream; 200/206/304/404/416 come back as themselves;
 * the upstream request is aborted as soon as the client goes away.
 *
 * A response that turns out to be a playlist (by content type, or `#EXTM3U` in the first chunk of a
 * generically typed body) is rewritten instead of passed through (issue #2 §3: "recognised by content-type
 * or #EXTM3U, not only by extension").
 */

export interface StreamDeps {
  config: Config;
  upstream: Upstream;
  renderer: Renderer;
  /** --segment-cache-max-bytes: the proxy's own copies of segments many viewers ask for; absent = off. */
  segmentCache?: SegmentCache | undefined;
  /** hlsd hooks are installed (their request headers are the proxy's own to add): never offloaded. */
  hooks?: unknown;
  /** Counts what happened to each offload decision (issue #16 §1); absent = not counted. */
  metrics?: { offloads: { inc(labels: { result: string }): void } };
}

export interface StreamRequest {
  target: Target;
  upstreamUrl: string;
  publicBase: string;
  scope: CacheScope;
  /** Headers every reply carries (X-Request-Id, CORS), sent in the same writeHead (respond.ts#setHeaders). */
  own: Readonly<OutgoingHttpHeaders>;
}

const PLAYLIST_TYPE = /mpegurl/i;
/** Types under which a playlist might hide; real media types are piped without a look. */
const GENERIC_TYPE = /^(text\/plain|application\/octet-stream|binary\/octet-stream)?\s*(;|$)/i;

/** Whole-body responses only: a 206 for `bytes=0-` (ffmpeg sends it for everything) counts as whole. */
function isWholeBody(status: number, headers: Record<string, string | string[] | undefined>): boolean {
  if (status === 200) return true;
  if (status !== 206) return false;
  const m = /^bytes 0-(\d+)\/(\d+)$/.exec(headerValue(headers, 'content-range') ?? '');
  return !!m && Number(m[1]) + 1 === Number(m[2]);
}

/** Reads the first chunk and puts it back, so the stream is unchanged for whoever reads it next. */
async function peek(body: UpstreamBody): Promise<Buffer | null> {
  for (;;) {
    const chunk = body.read() as Buffer | null;
    if (chunk !== null) {
      body.unshift(chunk);
      return chunk;
    }
    if (body.readableEnded) return null;
    await Promise.race([once(body, 'readable'), once(body, 'end')]);
  }
}

/** What only the proxy's own upstream client applies, per config (frozen, so worked out once). */
const proxyOnlyMemo = new WeakMap<Config, OffloadFacts['proxyOnly']>();
function proxyOnly(config: Config, hooks: boolean): OffloadFacts['proxyOnly'] {
  let p = proxyOnlyMemo.get(config);
  if (!p) {
    const options = Object.keys(config.upstreamTls.options);
    p = {
      httpProxy: !!config.httpProxy,
      hooks: false,
      reqOptionHeaders: options.includes('headers'),
      tlsOptions: options.some((k) => k !== 'headers'),
      insecure: !config.upstreamTls.rejectUnauthorized,
    };
    proxyOnlyMemo.set(config, p);
  }
  return hooks ? { ...p, hooks } : p;
}

/**
 * Issue #16 §1: answers with X-Accel-Redirect when the trusted front announced it can fetch the upstream
 * itself and nothing about this request needs the proxy's own client (routes/offload-plan.ts). The URL goes
 * through the egress guard and the name is resolved and judged exactly as for a connection of the proxy's
 * own; the front connects to the judged address. Returns false to stream as before.
 */
async function tryOffload(deps: StreamDeps, req: IncomingMessage, res: ServerResponse, r: StreamRequest, headers: Record<string, string>): Promise<boolean> {
  const { config, upstream } = deps;
  if (config.offload === 'none' || !upstream.judge) return false;
  const scheme = /^(https?):/i.exec(r.upstreamUrl)?.[1]?.toLowerCase();
  const verdict = planOffload({
    mode: config.offload,
    trustedPeer: config.trustProxy.has(req.socket.remoteAddress ?? ''),
    method: req.method ?? '',
    client: req.headers,
    scope: r.scope,
    upstreamHeaders: headers,
    upstream: {
      protocol: scheme === 'https' ? 'https:' : 'http:',
      extension: pathExtension(r.upstreamUrl),
      userinfo: /^https?:\/\/[^/?#]*@/i.test(r.upstreamUrl),
      url: r.upstreamUrl,
    },
    proxyOnly: proxyOnly(config, !!deps.hooks),
  });
  if (!verdict.offload) {
    if (verdict.reason !== 'not-announced' && verdict.reason !== 'off') deps.metrics?.offloads.inc({ result: verdict.reason });
    return false;
  }
  const judged = await upstream.judge(r.upstreamUrl);
  if (!judged) {
    deps.metrics?.offloads.inc({ result: 'no-judged-address' });
    return false;
  }
  const { target } = judged;
  res.writeHead(200, offloadHeaders(verdict.location, { ...target, host: target.origin.slice(target.origin.indexOf('//') + 2) }, judged, headers, r.own));
  res.end();
  deps.metrics?.offloads.inc({ result: 'offloaded' });
  return true;
}

export async function serveStream(deps: StreamDeps, req: IncomingMessage, res: ServerResponse, r: StreamRequest): Promise<void> {
  const { config, upstream, renderer } = deps;
  const head = req.method === 'HEAD';
  const upstreamHeaders = upstreamRequestHeaders({ config: config.upstreamHeaders, referer: r.target.referer, client: req.headers });
  if (await tryOffload(deps, req, res, r, upstreamHeaders)) return;
  // A RequestAbort, not an AbortController: the same switch for the upstream client at a fraction of the
  // cost (request-abort.ts). 'close' fires on the response when the client disconnects before it has been
  // fully written.
  const abort = new RequestAbort();
  res.once('close', () => {
    if (!res.writableFinished) abort.abort();
  });

  const up = await upstream.open(r.upstreamUrl, {
    method: head ? 'HEAD' : 'GET',
    headers: upstreamHeaders,
    signal: abort,
  });
  if (up.status >= 500) {
    discard(up.body);
    throw new ProxyError('UPSTREAM_STATUS', { status: 502 });
  }

  const contentType = headerValue(up.headers, 'content-type') ?? '';
  if (!head && isWholeBody(up.status, up.headers)) {
    const declared = PLAYLIST_TYPE.test(contentType);
    let sniffed = false;
    if (!declared && GENERIC_TYPE.test(contentType)) {
      const first = await peek(up.body);
      sniffed = first !== null && looksLikePlaylist(undefined, first.subarray(0, 64).toString('utf8'));
    }
    if (declared || sniffed) {
      // No signal: a client that leaves aborts the upstream request, which fails the body (and this read).
      const buf = await readLimited(up.body, headerValue(up.headers, 'content-encoding'), config.limits.playlistBytes);
      const body = buf.toString('utf8');
      if (looksLikePlaylist(contentType, body.slice(0, 64))) {
        await sendRewritten(renderer, { body, finalUrl: up.finalUrl, requestUrl: r.upstreamUrl, target: r.target, publicBase: r.publicBase, head, scope: r.scope, own: r.own }, res);
        return;
      }
      // Declared a playlist but is not one: pass the bytes on as they came.
      const headers = { ...r.own, ...clientResponseHeaders(up.headers), 'content-length': String(buf.length) };
      delete headers['content-encoding']; // readLimited decompressed it
      res.writeHead(up.status, scoped(headers, r.scope));
      res.end(buf);
      return;
    }
  }

  const headers: OutgoingHttpHeaders = { ...r.own, ...clientResponseHeaders(up.headers), 'x-content-type-options': 'nosniff' };
  const frontExpires = segmentFrontExpires(r.scope, up.status, up.headers);
  // nginx in front keeps a marked reply in its segment cache, which needs the reply buffered (nginx caches
  // nothing it was told to stream); everything else it must stream as it arrives (nginx/hls-proxy-location.conf).
  if (frontExpires) headers['x-accel-expires'] = frontExpires;
  else headers['x-accel-buffering'] = 'no';
  res.writeHead(up.status, scoped(headers, r.scope));
  if (head || up.status === 304 || up.status === 204) {
    discard(up.body);
    res.end();
    return;
  }
  const slot = claimCopy(deps, req, r, up);
  try {
    if (slot) await streamAndKeep(up, res, slot);
    // Backpressure: a slow client slows the upstream read instead of filling memory. A plain-http
    // upstream's bytes are written from its read buffers, without a stream in between (h1-client.ts).
    else await pipeBody(up.body, res);
  } catch (err) {
    if (abort.aborted) throw new ProxyError('CLIENT_GONE', { cause: err });
    throw err;
  }
}

/**
 * A slot in the segment cache for this response, when it may be kept (front-cache.ts#sharedFreshness) and
 * is the second request for the URL in a while (cache/segment-cache.ts). Never for a request whose own
 * credentials went upstream (--forward-cookies, --forward-authorization): the body may be theirs alone.
 * Nor when the origin says the body varies with request headers (`Vary`): the copy is keyed by URL only.
 */
function claimCopy(deps: StreamDeps, req: IncomingMessage, r: StreamRequest, up: UpstreamResponse): { slot: Slot; ttlMs: number } | undefined {
  const cache = deps.segmentCache;
  if (!cache || req.headers.range !== undefined || up.headers.vary !== undefined) return undefined;
  const { forwardCookies, forwardAuthorization } = deps.config.upstreamHeaders;
  if ((forwardCookies && req.headers.cookie) || (forwardAuthorization && req.headers.authorization)) return undefined;
  const seconds = sharedFreshness(up.status, up.headers, cache.maxBytes);
  if (seconds === undefined) return undefined;
  const slot = cache.claim(r.upstreamUrl, r.target.referer);
  return slot ? { slot, ttlMs: seconds * 1000 } : undefined;
}

/**
 * The response that makes the copy: read from upstream at the upstream's pace, not this viewer's, since
 * others wait for the copy. The body is bounded (front-cache.ts#sharedFreshness: at most 32 MB and the
 * cache's own bound), so what this viewer has not taken yet is bounded too. The copy is kept once the
 * whole declared body has arrived.
 */
async function streamAndKeep(up: UpstreamResponse, res: ServerResponse, copy: { slot: Slot; ttlMs: number }): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of up.body) {
      const buf = chunk as Buffer;
      chunks.push(buf);
      size += buf.length;
      if (!res.destroyed) res.write(buf);
    }
  } catch (err) {
    copy.slot.fail();
    throw err;
  }
  const body = Buffer.concat(chunks, size);
  if (String(body.length) === headerValue(up.headers, 'content-length')) {
    copy.slot.fill({ headers: { ...clientResponseHeaders(up.headers), 'content-length': String(body.length) }, body }, copy.ttlMs);
  } else copy.slot.fail();
  res.end();
  await finished(res);
}
