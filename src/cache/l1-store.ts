import { lruCursor } from './lru-cursor.js';
import type { PlaylistStore, StoredRecord } from './store.js';

/**
 * A small in-process layer (L1) in front of the shared Redis store. Without it every hit moves the whole
 * playlist body out of Redis and through JSON.parse; with it, a replica answers repeated hits for a hot
 * playlist from memory and Redis is asked only when the local copy is no longer fresh.
 *
 * Why it cannot serve anything staler than Redis would:
 * - only records whose entry is fresh by its own fetchedAt and ttlMs (the same test the cache core applies,
 *   on the same injected clock) are kept or served. RFC 9111 §4.2: a response is fresh while its age has
 *   not exceeded its freshness lifetime — that lifetime is the entry's, not the layer's;
 * - expired copies (stale-if-error, RFC 5861 §4) and retry-after marks always come from Redis, so the
 *   shared decision about an outage stays shared;
 * - it keeps serving and filling while Redis is degraded: an outage of the shared cache falls back to a
 *   per-process cache instead of multiplying upstream load by the number of viewers (issue #3: "so an
 *   outage is not multiplied"). Misses still go straight upstream within the Redis timeout, and the store
 *   probes Redis back to health on those misses and on ioredis' own reconnects.
 *
 * Bounded by entry count and by the total length of the bodies it holds (playlists may be megabytes).
 */

export interface L1Options {
  maxEntries: number;
  /** Upper bound on the summed body lengths (UTF-16 code units, i.e. about bytes for playlists). */
  maxBodyChars: number;
  /** Epoch ms; the cache's clock. */
  clock: () => number;
}


export function withL1(inner: PlaylistStore, opts: L1Options): PlaylistStore {
  const { clock } = opts;
  // Map iteration order is insertion order: re-inserting on read makes the first key the least recent.
  const slots = new Map<string, StoredRecord>();
  const oldest = lruCursor(slots);
  let chars = 0;

  const fresh = (record: StoredRecord | undefined): record is StoredRecord =>
    record !== undefined && clock() - record.entry.fetchedAt < record.entry.ttlMs;

  function forget(key: string): void {
    const slot = slots.get(key);
    if (!slot) return;
    slots.delete(key);
    chars -= slot.entry.body.length;
  }

  /** Mirrors what Redis just said about key: kept when fresh and Redis is healthy, dropped otherwise. */
  function remember(key: string, record: StoredRecord | undefined): void {
    const current = slots.get(key);
    // A read that was answered while this process wrote a newer copy must not replace that copy.
    if (current && fresh(current) && (!record || current.entry.fetchedAt > record.entry.fetchedAt)) return;
    forget(key);
    if (!fresh(record)) return;
    const size = record.entry.body.length;
    if (opts.maxEntries <= 0 || size > opts.maxBodyChars) return;
    // Only the entry: a retry-after mark belongs to an expired copy and is never served from here.
    slots.set(key, { entry: record.entry });
    chars += size;
    while (slots.size > opts.maxEntries || chars > opts.maxBodyChars) {
      const key = oldest();
      if (key === undefined) break;
      forget(key);
    }
  }

  function local(key: string): StoredRecord | undefined {
    const slot = slots.get(key);
    if (!slot) return undefined;
    if (!fresh(slot)) {
      forget(key);
      return undefined;
    }
    slots.delete(key);
    slots.set(key, slot);
    return slot;
  }

  const store: PlaylistStore = {
    async read(key) {
      const hit = local(key);
      if (hit) return hit;
      const record = await inner.read(key);
      remember(key, record);
      return record;
    },

    async write(key, record, keepMs) {
      await inner.write(key, record, keepMs);
      remember(key, record);
    },

    state: () => inner.state(),

    async close() {
      slots.clear();
      chars = 0;
      await inner.close();
    },
  };

  const { claim, waitForFill } = inner;
  if (claim) {
    store.claim = async (key, lockMs) => {
      const answer = await claim.call(inner, key, lockMs);
      if (answer) remember(key, answer.record);
      return answer;
    };
  }
  if (waitForFill) store.waitForFill = (key, ms) => waitForFill.call(inner, key, ms);
  return store;
}
