import type { CacheScope } from '../upstream/headers.js';

/**
 * What the front server's cache may keep, decided here and nowhere else. The shipped nginx templates
 * (nginx/hls-proxy-location.conf) keep a reply only when it carries `X-Accel-Expires` (seconds): nginx
 * ignores the proxy's Cache-Control, which is meant for players, and has no proxy_cache_valid. nginx hides
 * the header from clients; IIS and direct clients ignore it.
 *
 * Nothing that was let through because of who asked (`private`: --acl-ip, a password; security/access.ts)
 * is ever marked: the front cache is keyed by URL and cannot see who asks (RFC 9111 §5.2.2.7).
 */

/**
 * Playlists: kept for one second, and only when they stay fresh at least 2 s more. nginx counts whole
 * seconds and keeps a copy while that second lasts, so a copy can be served up to 2 s after it was made;
 * nginx therefore never serves a playlist the proxy would already refetch (issue #3 §3: at most one origin
 * fetch per playlist per freshness window, and no staler than it). The copy repeats the `Age` it was made
 * with, so its Age is up to 2 s low. hls.js reads Age only for LL-HLS tune-in (base-playlist-controller,
 * with CAN-BLOCK-RELOAD), and an LL-HLS playlist stays fresh for half its PART-TARGET (cache/freshness.ts),
 * so it is kept only if PART-TARGET is 4 s or more.
 */
export const FRONT_CACHE_MIN_FRESH_S = 2;

export function playlistFrontExpires(scope: CacheScope, maxAgeS: number): string | undefined {
  return scope === 'public' && maxAgeS >= FRONT_CACHE_MIN_FRESH_S ? '1' : undefined;
}

/**
 * Segments, keys and init sections without freshness from the origin: kept 6 s. Long enough for a live
 * channel's viewers, who each find a new segment within one target duration of each other, to share one
 * copy; short enough that an origin following RFC 8216 cannot have put other bytes at the URL meanwhile. A
 * live playlist must span three target durations (RFC 8216 §6.2.2: "The server MUST NOT remove a Media
 * Segment from a Playlist file without an EXT-X-ENDLIST tag if that would produce a Playlist whose
 * duration is less than three times the target duration"), and after removal "the corresponding Media
 * Segment MUST remain available to clients for a period of time equal to the duration of the segment plus
 * the duration of the longest Playlist file distributed by the server containing that segment" (ibid.).
 * So even a URL reused for new media (cameras that cycle segment names) keeps its bytes for about five
 * target durations after it first appears: with the usual targets of 2 s and more, a copy made while the
 * segment is near the live edge, where viewers ask for it, never outlives them.
 */
export const SEGMENT_FRONT_DEFAULT_S = 6;
/** The longest an origin's own freshness (max-age, s-maxage, Expires) keeps a copy in the front cache. */
export const SEGMENT_FRONT_MAX_S = 3600;
/** Larger bodies (a whole movie as one file, played by byte ranges) are streamed, never kept by either cache. */
export const SEGMENT_FRONT_MAX_BYTES = 32 * 1024 * 1024;

type UpstreamHeaders = Record<string, string | string[] | undefined>;

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v.join(', ') : v);

/**
 * How long the origin says a shared cache may keep the response, in whole seconds: undefined when it says
 * nothing, 0 when it forbids or limits shared caching (RFC 9111 §5.2.2: no-store, no-cache, private;
 * s-maxage before max-age, §4.2.1; Expires minus Date, where an invalid date such as "0" is in the past,
 * §5.3). Age is subtracted: the copy must not outlive what the origin granted (§4.2.3).
 */
function originFreshness(h: UpstreamHeaders): number | undefined {
  const cc = (one(h['cache-control']) ?? '').toLowerCase();
  if (/(^|[\s,])(no-store|no-cache|private)\b/.test(cc)) return 0;
  const age = Number(one(h.age)) || 0;
  const shared = /(?:^|[\s,])s-maxage\s*=\s*"?(\d+)/.exec(cc) ?? /(?:^|[\s,])max-age\s*=\s*"?(\d+)/.exec(cc);
  if (shared) return Math.max(0, Number(shared[1]) - age);
  const expires = one(h.expires);
  if (expires === undefined) return undefined;
  const date = Date.parse(one(h.date) ?? '');
  const at = Date.parse(expires);
  if (Number.isNaN(at) || Number.isNaN(date)) return 0;
  return Math.max(0, Math.floor((at - date) / 1000) - age);
}

/**
 * How long a shared cache may keep a streamed reply, in whole seconds, or undefined to keep it nowhere:
 * only a whole 200 body of a known length, at most SEGMENT_FRONT_MAX_BYTES and `roomBytes` (a cache's own
 * bound), that the origin does not forbid shared caches to keep. Used by the front cache (below) and by the
 * proxy's own segment cache (cache/segment-cache.ts).
 */
export function sharedFreshness(status: number, upstream: UpstreamHeaders, roomBytes = SEGMENT_FRONT_MAX_BYTES): number | undefined {
  if (status !== 200 || upstream['set-cookie'] !== undefined || one(upstream.vary)?.includes('*')) return undefined;
  const length = Number(one(upstream['content-length']));
  if (!Number.isInteger(length) || length < 0 || length > Math.min(roomBytes, SEGMENT_FRONT_MAX_BYTES)) return undefined;
  const fresh = originFreshness(upstream);
  const seconds = fresh === undefined ? SEGMENT_FRONT_DEFAULT_S : Math.min(fresh, SEGMENT_FRONT_MAX_S);
  return seconds >= 1 ? seconds : undefined;
}

/**
 * `X-Accel-Expires` for a streamed reply, or undefined to keep it out of the front cache: a reply any
 * viewer with the URL may have, for its shared freshness. A 206 is never kept: nginx passes Range
 * requests around its cache (the templates' proxy_cache_bypass), so only the range moves.
 */
export function segmentFrontExpires(scope: CacheScope, status: number, upstream: UpstreamHeaders): string | undefined {
  if (scope !== 'public') return undefined;
  const seconds = sharedFreshness(status, upstream);
  return seconds === undefined ? undefined : String(seconds);
}
