import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { PlaylistCache, CacheResult } from '../cache/types.js';
import type { Config } from '../config.js';
import { looksLikePlaylist } from '../manifest/detect.js';
import { scoped, upstreamRequestHeaders, type CacheScope } from '../upstream/headers.js';
import type { Upstream } from '../upstream/client.js';
import type { Prefetcher } from '../prefetch/prefetcher.js';
import type { Target } from '../url-codec.js';
import { isBlockingReload } from '../url-query.js';
import { playlistFrontExpires } from './front-cache.js';
import type { Renderer } from './render-playlist.js';
import { endWith } from './send-body.js';

/**
 * A playlist request: cache (coalesced, shared) → rewrite for this viewer's public base → reply.
 * Orchestration only; fetching, caching and rewriting live in their own modules.
 */

export const PLAYLIST_CONTENT_TYPE = 'application/vnd.apple.mpegurl';

export interface PlaylistDeps {
  config: Config;
  upstream: Upstream;
  cache: PlaylistCache;
  renderer: Renderer;
  clock: () => number;
  /** hlsd --prefetch: told about every playlist served, so it can fetch the next live segments. */
  prefetch?: Prefetcher | undefined;
}

export interface PlaylistRequest {
  target: Target;
  /** Upstream URL with the viewer's query merged in (LL-HLS directives are part of the cache key). */
  upstreamUrl: string;
  publicBase: string;
  head: boolean;
  scope: CacheScope;
  /** Headers every reply carries (X-Request-Id, CORS), sent in the same writeHead (respond.ts#setHeaders). */
  own: Readonly<OutgoingHttpHeaders>;
}

/** The cache key: upstream URL plus what the token carries. Nothing from the viewer's headers (issue #3 §2). */
export function playlistKey(upstreamUrl: string, target: Target): string {
  return target.referer ? `${upstreamUrl}|${target.referer}` : upstreamUrl;
}

/** A safe content type to pass through for a non-playlist body fetched as one. */
function passThroughType(contentType: string): string {
  return /^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=[\w.+"-]+)*$/.test(contentType) ? contentType : 'application/octet-stream';
}

export async function servePlaylist(deps: PlaylistDeps, req: PlaylistRequest, res: ServerResponse): Promise<CacheResult> {
  const { config, upstream, cache, renderer } = deps;
  const key = playlistKey(req.upstreamUrl, req.target);
  const { entry, result, ageMs } = await cache.get(key, async (signal) => {
    const headers = upstreamRequestHeaders({ config: config.upstreamHeaders, referer: req.target.referer, client: undefined });
    return { ...(await upstream.fetchPlaylist(req.upstreamUrl, { headers, signal })), fetchedAt: deps.clock() };
  }, { staleWaitMs: isBlockingReload(req.upstreamUrl) ? 0 : undefined });

  const isPlaylist = looksLikePlaylist(entry.contentType, entry.body.slice(0, 64));
  const buf = isPlaylist
    ? await renderer.render({
        version: `${key}\n${entry.fetchedAt}`,
        body: entry.body,
        finalUrl: entry.finalUrl,
        requestUrl: req.upstreamUrl,
        target: req.target,
        publicBase: req.publicBase,
      })
    : Buffer.from(entry.body, 'utf8');
  const maxAge = Math.max(0, Math.floor((entry.ttlMs - ageMs) / 1000));
  const headers: OutgoingHttpHeaders = {
    'content-type': isPlaylist ? PLAYLIST_CONTENT_TYPE : passThroughType(entry.contentType),
    'content-length': String(buf.length),
    // Truthful freshness (issue #3 §3): hls.js subtracts Age when it schedules the next live reload.
    'cache-control': `max-age=${maxAge}`,
    age: String(Math.floor(ageMs / 1000)),
    'x-hls-sidecar-cache': result.toUpperCase(),
    'x-content-type-options': 'nosniff',
  };
  const frontExpires = playlistFrontExpires(req.scope, maxAge);
  if (frontExpires) headers['x-accel-expires'] = frontExpires;
  // Added, not spread in first: V8 built `{ ...own, ...eight more }` slowly (10% of the cached path's CPU).
  res.writeHead(200, Object.assign(scoped(headers, req.scope), req.own));
  endWith(res, req.head ? undefined : buf, renderer.releaser(buf));
  // After the reply is queued: planning costs a parse per new playlist version, never viewer latency. The
  // segments are reserved before this tick ends, so no viewer can ask for one before it is known.
  if (isPlaylist && deps.prefetch) {
    deps.prefetch.onPlaylist({ key, version: `${key}\n${entry.fetchedAt}`, body: entry.body, finalUrl: entry.finalUrl, requestUrl: req.upstreamUrl, target: req.target });
  }
  return result;
}

/** A playlist found where a segment was expected (by content type or `#EXTM3U`): rewritten, not cached. */
export async function sendRewritten(
  renderer: Renderer,
  input: { body: string; finalUrl: string; requestUrl: string; target: Target; publicBase: string; head: boolean; scope: CacheScope; own: Readonly<OutgoingHttpHeaders> },
  res: ServerResponse,
): Promise<void> {
  const { body, finalUrl, requestUrl, target, publicBase } = input;
  const buf = await renderer.render({ body, finalUrl, requestUrl, target, publicBase, version: '' });
  res.writeHead(200, scoped({
    ...input.own,
    'content-type': PLAYLIST_CONTENT_TYPE,
    'content-length': String(buf.length),
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  }, input.scope));
  endWith(res, input.head ? undefined : buf, renderer.releaser(buf));
}
