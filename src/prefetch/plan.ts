import type { HookRunner } from '../hooks.js';
import { hlsdUrlType } from '../hooks.js';
import { rewritePlaylist } from '../manifest/rewrite.js';
import { hasTagLine, tagLines } from '../manifest/tag-lines.js';

/**
 * Which URLs of a playlist to prefetch. Pure: (playlist text, hooks) → candidates in playlist order.
 *
 * Only live Media Playlists are prefetched: RFC 8216 §4.3.3.4 "The EXT-X-ENDLIST tag indicates that no more
 * Media Segments will be added to the Media Playlist file", and §4.3.3.5 a VOD playlist "cannot change" — such
 * a playlist has no "next segment" to fetch ahead of the viewer. LL-HLS partial segments and preload hints
 * (RFC 8216bis §4.4.4.9, §4.4.5.3) are not prefetched: a hint names a resource the server may not have yet,
 * and parts are superseded by their segment within seconds.
 */

export interface Candidate {
  /** Upstream URL a viewer's request for this URI will ask for (redirect and rewrite hooks applied). */
  url: string;
  referer: string | undefined;
  /** hlsd url_type: 'ts' for media segments and init sections, 'key' for keys. */
  type: string;
}

export interface PlanInput {
  body: string;
  /** Playlist URL after redirects: base for relative URIs (RFC 8216 §4.1). */
  finalUrl: string;
  requestUrl: string;
  referer: string | undefined;
  vars: Readonly<Record<string, string>> | undefined;
}

/** A Media Playlist (it has EXTINF) that may still grow. */
export function isLiveMediaPlaylist(text: string): boolean {
  if (!hasTagLine(text, '#EXTINF:') || hasTagLine(text, '#EXT-X-ENDLIST')) return false;
  const type = tagLines(text, '#EXT-X-PLAYLIST-TYPE:', 1)[0];
  return !(type && text.slice(type[0], type[1]).trim().toUpperCase() === 'VOD');
}

const LOW_LATENCY_LINE = /^[ \t]*#EXT-X-(PART|PRELOAD-HINT):.*$/gm;

/**
 * Candidates for prefetching, in playlist order, without duplicates (EXT-X-BYTERANGE segments share a URL).
 * `withKeys`: whether EXT-X-KEY URIs may be prefetched by default (hlsd prefetches 'ts' and 'key').
 */
export function prefetchCandidates(input: PlanInput, hooks: HookRunner, withKeys: boolean): Candidate[] {
  const text = input.body.replace(LOW_LATENCY_LINE, '');
  const found: Candidate[] = [];
  const seen = new Set<string>();
  rewritePlaylist(text, {
    baseUrl: input.finalUrl,
    requestUrl: input.requestUrl,
    ...(input.vars ? { imports: input.vars } : {}),
    proxify(url, kind) {
      const redirected = hooks.redirect(url, input.referer, input.finalUrl);
      if (redirected === null) return url;
      const type = redirected.type ?? hlsdUrlType(kind);
      const byDefault = type === 'ts' || (type === 'key' && withKeys);
      if (!hooks.prefetch(redirected.url, type, byDefault)) return url;
      const fetchUrl = hooks.rewrite(redirected.url);
      if (fetchUrl === undefined) return url;
      const key = `${fetchUrl}\n${redirected.referer ?? ''}`;
      if (!seen.has(key)) {
        seen.add(key);
        found.push({ url: fetchUrl, referer: redirected.referer, type });
      }
      return url;
    },
  });
  return found;
}
