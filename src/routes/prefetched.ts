import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { ProxyError } from '../errors.js';
import type { Lookup, StoredSegment } from '../prefetch/segment-store.js';
import { scoped, type CacheScope } from '../upstream/headers.js';

/**
 * A segment request answered from a store of segments: the prefetch store (hlsd --prefetch) or the
 * proxy's own segment cache. Returns what happened, or undefined when the request must go upstream as
 * usual: nothing stored, the download failed or took longer than `waitMs`, or the request is conditional
 * (RFC 9110 §13: validators are the upstream's to evaluate).
 *
 * A single byte range is served from the stored body (RFC 9110 §14.2: "A server MAY ignore the Range header
 * field", but ffmpeg asks `bytes=0-` for everything and players ask ranges for EXT-X-BYTERANGE segments);
 * anything else the store cannot answer exactly (multiple or unsatisfiable ranges) goes upstream.
 */

export type PrefetchResult = 'prefetch-hit' | 'prefetch-wait';

/** What `X-HLS-Sidecar-Cache` says for a stored segment answered at once, and after waiting for it. */
export interface StoreTags {
  hit: string;
  wait: string;
}
export const PREFETCH_TAGS: StoreTags = { hit: 'PREFETCH', wait: 'PREFETCH-WAIT' };
/** The same answers from the proxy's own segment cache (cache/segment-cache.ts). */
export const SEGMENT_CACHE_TAGS: StoreTags = { hit: 'HIT', wait: 'COALESCED' };

/** Where stored segments are looked up: the prefetcher, or the segment cache. */
export interface SegmentSource {
  lookup(url: string, referer: string | undefined): Lookup | undefined;
}

type Range = { start: number; end: number } | 'full' | 'upstream';

/** RFC 9110 §14.1.2 byte-range-spec / suffix-byte-range-spec for one range. */
function range(header: string | undefined, size: number): Range {
  if (header === undefined) return 'full';
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'upstream';
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'upstream';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'upstream';
  return { start, end };
}

function send(res: ServerResponse, seg: StoredSegment, r: Exclude<Range, 'upstream'>, tag: string, scope: CacheScope, own: Readonly<OutgoingHttpHeaders>): void {
  const headers = { ...own, ...scoped(seg.headers, scope), 'x-content-type-options': 'nosniff', 'x-hls-sidecar-cache': tag };
  if (r === 'full') {
    res.writeHead(200, headers);
    res.end(seg.body);
    return;
  }
  const size = seg.body.length;
  res.writeHead(206, {
    ...headers,
    'content-range': `bytes ${r.start}-${r.end}/${size}`,
    'content-length': String(r.end - r.start + 1),
  });
  res.end(seg.body.subarray(r.start, r.end + 1));
}

export async function servePrefetched(
  source: SegmentSource,
  req: IncomingMessage,
  res: ServerResponse,
  r: { url: string; referer: string | undefined; waitMs: number; scope: CacheScope; own: Readonly<OutgoingHttpHeaders> },
  tags: StoreTags = PREFETCH_TAGS,
): Promise<PrefetchResult | undefined> {
  if (req.method !== 'GET') return undefined;
  const h = req.headers;
  if (h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined || h['if-range'] !== undefined) return undefined;
  const found = source.lookup(r.url, r.referer);
  if (!found) return undefined;

  let seg: StoredSegment | undefined;
  let how: PrefetchResult = 'prefetch-hit';
  if (found.state === 'ready') {
    seg = found.segment;
  } else {
    how = 'prefetch-wait';
    const gone = new AbortController();
    const onClose = (): void => gone.abort();
    res.once('close', onClose);
    try {
      seg = await found.wait(gone.signal, r.waitMs);
    } finally {
      res.off('close', onClose);
    }
    if (gone.signal.aborted) throw new ProxyError('CLIENT_GONE');
    if (!seg) return undefined;
  }
  const want = range(typeof h.range === 'string' ? h.range : undefined, seg.body.length);
  if (want === 'upstream') return undefined;
  send(res, seg, want, how === 'prefetch-hit' ? tags.hit : tags.wait, r.scope, r.own);
  return how;
}
