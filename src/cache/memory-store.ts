import { lruCursor } from './lru-cursor.js';
import type { PlaylistStore, StoredRecord } from './store.js';

/**
 * The embedded backend: an LRU of at most maxEntries records and maxBytes of playlist text in this process
 * (a count alone would let 2000 big VOD playlists pin gigabytes). Expiry follows the injected clock, like
 * every other freshness decision, so tests can move time without sleeping.
 */
export function createMemoryStore(maxEntries: number, clock: () => number, maxBytes = Number.POSITIVE_INFINITY): PlaylistStore {
  // Map iteration order is insertion order: re-inserting on read makes the first key the least recent.
  const records = new Map<string, { record: StoredRecord; keepUntil: number }>();
  const oldest = lruCursor(records);
  let bytes = 0;
  const drop = (key: string): void => {
    const slot = records.get(key);
    if (!slot) return;
    records.delete(key);
    bytes -= slot.record.entry.body.length;
  };

  return {
    async read(key) {
      const slot = records.get(key);
      if (!slot) return undefined;
      if (clock() >= slot.keepUntil) {
        drop(key);
        return undefined;
      }
      records.delete(key);
      records.set(key, slot);
      return slot.record;
    },

    async write(key, record, keepMs) {
      drop(key);
      const size = record.entry.body.length;
      if (maxEntries <= 0 || keepMs <= 0 || size > maxBytes) return;
      records.set(key, { record, keepUntil: clock() + keepMs });
      bytes += size;
      while (records.size > maxEntries || bytes > maxBytes) {
        const key = oldest();
        if (key === undefined) break;
        drop(key);
      }
    },

    state: () => 'memory',

    async close() {
      records.clear();
      bytes = 0;
    },
  };
}
