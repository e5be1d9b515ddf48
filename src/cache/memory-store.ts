import type { PlaylistStore, StoredRecord } from './store.js';

/**
 * The embedded backend: an LRU of at most maxEntries records in this process. Expiry follows the injected
 * clock, like every other freshness decision, so tests can move time without sleeping.
 */
export function createMemoryStore(maxEntries: number, clock: () => number): PlaylistStore {
  // Map iteration order is insertion order: re-inserting on read makes the first key the least recent.
  const records = new Map<string, { record: StoredRecord; keepUntil: number }>();

  return {
    async read(key) {
      const slot = records.get(key);
      if (!slot) return undefined;
      records.delete(key);
      if (clock() >= slot.keepUntil) return undefined;
      records.set(key, slot);
      return slot.record;
    },

    async write(key, record, keepMs) {
      records.delete(key);
      if (maxEntries <= 0 || keepMs <= 0) return;
      records.set(key, { record, keepUntil: clock() + keepMs });
      while (records.size > maxEntries) {
        const oldest = records.keys().next();
        if (oldest.done) break;
        records.delete(oldest.value);
      }
    },

    state: () => 'memory',

    async close() {
      records.clear();
    },
  };
}
