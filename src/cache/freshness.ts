import type { CacheConfig } from '../config.js';
import { ERRORS, ProxyError, type ErrorCode } from '../errors.js';
import type { CachedPlaylist } from './types.js';

/**
 * How long a cached playlist stays fresh, derived from the playlist itself (issue #3 §3). Every value is
 * a CacheConfig field, so each can be overridden.
 */

export type PlaylistKind = 'error' | 'multivariant' | 'vod' | 'll-hls' | 'live' | 'unknown';

/**
 * The tags that decide freshness, found in ONE pass over the body. Five separate multi-line searches each
 * walked the whole playlist on every cache miss (a few percent of the miss path for a 10-segment playlist,
 * more for long ones). Groups: 1 (I-FRAME-)STREAM-INF, 2 ENDLIST, 3 PLAYLIST-TYPE:VOD, 4 PART-TARGET value,
 * 5 TARGETDURATION value. Each alternative is the former per-tag pattern, so the first line matching each
 * is the same line as before.
 */
const TAGS =
  /^#EXT-X-(?:(?:I-FRAME-)?STREAM-INF(:)|ENDLIS(T)\s*$|PLAYLIST-TYPE:\s*VO(D)\s*$|PART-INF:(?:.*,)?\s*PART-TARGET=(\d+(?:\.\d+)?)|TARGETDURATION:\s*(\d+(?:\.\d+)?))/gm;

interface TagScan {
  multivariant: boolean;
  vod: boolean;
  partTarget: string | undefined;
  targetDuration: string | undefined;
}

function scanTags(body: string): TagScan {
  const out: TagScan = { multivariant: false, vod: false, partTarget: undefined, targetDuration: undefined };
  TAGS.lastIndex = 0;
  for (let m = TAGS.exec(body); m !== null; m = TAGS.exec(body)) {
    if (m[1] !== undefined) {
      out.multivariant = true;
      break; // decides on its own
    }
    if (m[2] !== undefined || m[3] !== undefined) out.vod = true;
    else if (m[4] !== undefined) out.partTarget ??= m[4];
    else if (m[5] !== undefined) out.targetDuration ??= m[5];
  }
  return out;
}

function kindOf(scan: TagScan): PlaylistKind {
  // RFC 8216 §4.3.4.2: EXT-X-STREAM-INF appears only in a Multivariant Playlist.
  if (scan.multivariant) return 'multivariant';
  // RFC 8216 §4.3.3.4: "no more Media Segments will be added"; §4.3.3.5: a VOD playlist "cannot change".
  if (scan.vod) return 'vod';
  if (scan.partTarget !== undefined) return 'll-hls';
  if (scan.targetDuration !== undefined) return 'live';
  return 'unknown';
}

const isErrorEntry = (entry: { status: number; errorCode?: string }): boolean => entry.errorCode !== undefined || entry.status >= 400;

export function classifyPlaylist(entry: Pick<CachedPlaylist, 'status' | 'body'> & { errorCode?: string }): PlaylistKind {
  return isErrorEntry(entry) ? 'error' : kindOf(scanTags(entry.body));
}

function clampLive(ms: number, cfg: CacheConfig): number {
  return Math.round(Math.min(cfg.liveTtlMaxMs, Math.max(cfg.liveTtlMinMs, ms)));
}

export function ttlFor(entry: Pick<CachedPlaylist, 'status' | 'body'> & { errorCode?: string }, cfg: CacheConfig): number {
  // Remembered briefly so that an upstream outage is not multiplied by the number of viewers.
  if (isErrorEntry(entry)) return cfg.errorTtlMs;
  const scan = scanTags(entry.body);
  switch (kindOf(scan)) {
    case 'multivariant':
      return cfg.masterTtlMs;
    case 'vod':
      return cfg.vodTtlMs;
    case 'll-hls':
      // RFC 8216bis §4.4.3.7: the playlist gains a Partial Segment about every PART-TARGET (the Part Target
      // Duration) seconds, and a blocking reload (§6.2.5.2) is answered as soon as one is added; half of it
      // keeps a cached copy at most about half a part behind the live edge.
      return clampLive((Number(scan.partTarget) * 1000) / 2, cfg);
    case 'live':
      // RFC 8216 §6.3.4: a client that finds the playlist unchanged waits "one-half the target duration"
      // before retrying; the server adds a segment about once per target duration.
      return clampLive((Number(scan.targetDuration) * 1000) / 2, cfg);
    default:
      // Not recognisably a playlist (or no target duration): the most conservative live lifetime.
      return cfg.liveTtlMinMs;
  }
}

/**
 * How long a store must keep an entry: successful copies outlive their freshness by the stale-if-error
 * window (RFC 5861 §4) so a failed refresh can still serve them; error entries are never served stale.
 */
export function keepMsFor(entry: CachedPlaylist, cfg: CacheConfig): number {
  // An outage (5xx, timeouts) is kept for the stale-if-error window after its errorTtlMs, so a viewer who
  // would wait on the next slow retry can be told at once (the stale wait); an answer (404) only for its TTL.
  if (entry.errorCode !== undefined || entry.status >= 400) return entry.status >= 500 ? entry.ttlMs + cfg.staleIfErrorMs : entry.ttlMs;
  return entry.ttlMs + cfg.staleIfErrorMs;
}

/**
 * RFC 5861 §4: stale-if-error applies to situations "that would result in a 500, 502, 503, or 504 HTTP
 * response" — upstream unreachable, timeouts, upstream 5xx. An upstream 404/403/410 is an answer, not an
 * outage, and is passed through rather than hidden behind a stale copy.
 */
export function allowsStale(err: ProxyError): boolean {
  return (err.statusOverride ?? ERRORS[err.code].status) >= 500;
}

/** The error entry remembered for errorTtlMs after a failed fetch. */
export function errorEntry(err: ProxyError, now: number, cfg: CacheConfig): CachedPlaylist {
  const status = err.statusOverride ?? ERRORS[err.code].status;
  return { status, body: '', finalUrl: '', contentType: '', fetchedAt: now, ttlMs: cfg.errorTtlMs, errorCode: err.code };
}

/**
 * Rebuilds the ProxyError of an error entry for its waiters and later hitters: same code, and the status
 * kept when it differs from the catalogue (an upstream 404 passed through stays a 404).
 */
export function errorFromEntry(entry: CachedPlaylist): ProxyError {
  const code = (entry.errorCode !== undefined && entry.errorCode in ERRORS ? entry.errorCode : 'INTERNAL') as ErrorCode;
  const status = entry.status !== ERRORS[code].status ? entry.status : undefined;
  return new ProxyError(code, { detail: 'cached upstream failure', ...(status !== undefined ? { status } : {}) });
}
