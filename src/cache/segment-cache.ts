import { createSegmentStore, type Lookup, type Slot, type StoreStats } from '../prefetch/segment-store.js';

/**
 * Segments kept in this process for the viewers who ask for the same one: the live fan-out of a channel
 * where nothing in front keeps copies (IIS, a single process, a front without the templates' cache).
 * Measured (bench/segment-fanout.ts): 200 viewers asking for one new live segment within 2 s cost the
 * origin 200 downloads of it through one proxy process without this.
 *
 * What may be kept, and for how long, is the front cache's rule (routes/front-cache.ts#sharedFreshness):
 * a whole 200 with a known length that the origin lets shared caches keep, for its freshness or 6 s. The
 * access check still runs for every request (this cache sits behind it), so unlike a front cache this one
 * may also serve replies the ACLs let through for one viewer; but never a response that viewer's own
 * credentials could have shaped (cookies, Authorization: the caller does not offer those).
 *
 * A copy is made at the second request for a URL within `firstUseMs`, not the first (as the templates'
 * proxy_cache_min_uses 2): a segment only one viewer watches never costs memory. While it is being made,
 * other requests for it wait for it (the store's pending entries) instead of going upstream.
 * The store (prefetch/segment-store.ts) bounds entries and bytes and evicts the least recently used.
 */

export interface SegmentCache {
  /** A kept copy, or one being made, of `url` fetched with `referer`; undefined otherwise. */
  lookup(url: string, referer: string | undefined): Lookup | undefined;
  /** A slot to fill with this response when it is the second request for the URL in a while; else undefined. */
  claim(url: string, referer: string | undefined): Slot | undefined;
  /** The bound on all copies together; a body larger than this is never kept (it is streamed only). */
  readonly maxBytes: number;
  stats(): StoreStats;
  close(): void;
}

export interface SegmentCacheOptions {
  maxBytes: number;
  clock: () => number;
  /** How long a first request is remembered, waiting for a second one (default 10 s). */
  firstUseMs?: number;
}

/** URLs remembered after one request; the oldest is forgotten first. */
const FIRST_USES = 4096;
const MAX_ENTRIES = 1024;
/** Expired copies are also dropped without being asked for, so their memory does not wait for eviction. */
const SWEEP_MS = 5000;

const keyOf = (url: string, referer: string | undefined): string => (referer ? `${url}|${referer}` : url);

export function createSegmentCache(opts: SegmentCacheOptions): SegmentCache {
  const firstUseMs = opts.firstUseMs ?? 10_000;
  // Every fill passes its own ttl (the origin's freshness or the default); the store's is a fallback.
  const store = createSegmentStore({ maxEntries: MAX_ENTRIES, maxBytes: opts.maxBytes, ttlMs: 6000, clock: opts.clock });
  const firstUse = new Map<string, number>();
  const sweep = setInterval(() => store.sweep(), SWEEP_MS);
  sweep.unref();

  return {
    lookup: (url, referer) => store.get(keyOf(url, referer)),
    claim(url, referer) {
      const key = keyOf(url, referer);
      const now = opts.clock();
      const seen = firstUse.get(key);
      if (seen !== undefined && now - seen <= firstUseMs) {
        firstUse.delete(key);
        return store.reserve(key);
      }
      firstUse.delete(key); // re-inserted last: the Map's order is the forgetting order
      firstUse.set(key, now);
      if (firstUse.size > FIRST_USES) firstUse.delete(firstUse.keys().next().value as string);
      return undefined;
    },
    maxBytes: opts.maxBytes,
    stats: () => store.stats(),
    close() {
      clearInterval(sweep);
      store.clear();
      firstUse.clear();
    },
  };
}
