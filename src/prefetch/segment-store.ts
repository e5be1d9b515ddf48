import type { OutgoingHttpHeaders } from 'node:http';

/**
 * The bounded in-memory store of prefetched segments (hlsd --prefetch, --max-segments, --cache-timeout).
 *
 * Bounds, all enforced on insertion: at most `maxEntries` entries (pending downloads included), at most
 * `maxBytes` of bodies, and an entry lives `ttlMs` after it was filled. Eviction is least recently used (a
 * hit moves the entry to the end of the Map's insertion order). The store owns no timer at all: expiry is
 * checked on every access and by `sweep()`, which the prefetcher calls from its single interval. A waiter's
 * timer belongs to the waiting request and is cleared when it is answered, so nothing outlives its entry.
 *
 * Evicting or failing a pending entry aborts its download (`slot.signal`) and answers its waiters with
 * `undefined`, which sends them straight upstream: a failed prefetch never hangs a client.
 */

export interface StoredSegment {
  /** Allowlisted upstream response headers with the Content-Length of `body`. */
  headers: OutgoingHttpHeaders;
  body: Buffer;
}

export interface Slot {
  /** Aborted when the entry is evicted, expired or the store is cleared: stop downloading. */
  readonly signal: AbortSignal;
  /**
   * Stores the body, kept `ttlMs` (default: the store's); false when the entry was evicted meanwhile or the
   * body is over the byte bound.
   */
  fill(segment: StoredSegment, ttlMs?: number): boolean;
  /** Drops the pending entry; its waiters go upstream. */
  fail(): void;
}

export type Lookup =
  | { state: 'ready'; segment: StoredSegment }
  | { state: 'pending'; wait(signal: AbortSignal, timeoutMs: number): Promise<StoredSegment | undefined> };

export interface StoreStats {
  entries: number;
  pending: number;
  bytes: number;
}

export interface SegmentStore {
  /** A slot to fill for `key`, or undefined when the key is already stored or being fetched. */
  reserve(key: string): Slot | undefined;
  get(key: string): Lookup | undefined;
  /** Removes expired entries (called periodically by the owner). */
  sweep(): number;
  stats(): StoreStats;
  /** Drops everything, aborting downloads and releasing waiters. */
  clear(): void;
}

export interface StoreOptions {
  maxEntries: number;
  maxBytes: number;
  ttlMs: number;
  clock: () => number;
  onEvict?: (reason: 'capacity' | 'expired') => void;
}

interface Entry {
  segment: StoredSegment | undefined;
  bytes: number;
  /** Epoch ms; Infinity while pending (a download is bounded by its own deadline instead). */
  expiresAt: number;
  abort: AbortController;
  waiters: Set<(s: StoredSegment | undefined) => void>;
}

export function createSegmentStore(opts: StoreOptions): SegmentStore {
  const entries = new Map<string, Entry>();
  let bytes = 0;
  let pending = 0;

  function drop(key: string, e: Entry): void {
    if (entries.get(key) !== e) return;
    entries.delete(key);
    bytes -= e.bytes;
    if (!e.segment) pending--;
    e.abort.abort();
    const waiters = [...e.waiters];
    e.waiters.clear();
    for (const w of waiters) w(undefined);
  }

  /** Evicts the least recently used entry other than `keep`; false when there is none. */
  function evictOne(keep?: Entry): boolean {
    for (const [k, e] of entries) {
      if (e === keep) continue;
      drop(k, e);
      opts.onEvict?.('capacity');
      return true;
    }
    return false;
  }

  function live(key: string): Entry | undefined {
    const e = entries.get(key);
    if (e && e.expiresAt <= opts.clock()) {
      drop(key, e);
      opts.onEvict?.('expired');
      return undefined;
    }
    return e;
  }

  return {
    reserve(key) {
      if (live(key)) return undefined;
      while (entries.size >= opts.maxEntries && evictOne()) {
        /* make room */
      }
      const e: Entry = { segment: undefined, bytes: 0, expiresAt: Infinity, abort: new AbortController(), waiters: new Set() };
      entries.set(key, e);
      pending++;
      return {
        signal: e.abort.signal,
        fill(segment, ttlMs = opts.ttlMs) {
          if (entries.get(key) !== e || e.segment) return false;
          const size = segment.body.length;
          if (size > opts.maxBytes) {
            drop(key, e);
            return false;
          }
          while (bytes + size > opts.maxBytes && evictOne(e)) {
            /* make room */
          }
          e.segment = segment;
          e.bytes = size;
          e.expiresAt = opts.clock() + ttlMs;
          bytes += size;
          pending--;
          const waiters = [...e.waiters];
          e.waiters.clear();
          for (const w of waiters) w(segment);
          return true;
        },
        fail() {
          if (!e.segment) drop(key, e);
        },
      };
    },

    get(key) {
      const e = live(key);
      if (!e) return undefined;
      if (e.segment) {
        entries.delete(key);
        entries.set(key, e); // most recently used goes last
        return { state: 'ready', segment: e.segment };
      }
      return {
        state: 'pending',
        wait(signal, timeoutMs) {
          return new Promise((resolve) => {
            if (signal.aborted || entries.get(key) !== e) return resolve(e.segment);
            const done = (s: StoredSegment | undefined): void => {
              clearTimeout(timer);
              signal.removeEventListener('abort', onAbort);
              e.waiters.delete(done);
              resolve(s);
            };
            const onAbort = (): void => done(undefined);
            const timer = setTimeout(onAbort, timeoutMs);
            signal.addEventListener('abort', onAbort, { once: true });
            e.waiters.add(done);
          });
        },
      };
    },

    sweep() {
      const now = opts.clock();
      let n = 0;
      for (const [k, e] of entries) {
        if (e.expiresAt <= now) {
          drop(k, e);
          opts.onEvict?.('expired');
          n++;
        }
      }
      return n;
    },

    stats: () => ({ entries: entries.size, pending, bytes }),

    clear() {
      for (const [k, e] of [...entries]) drop(k, e);
    },
  };
}
