/**
 * The least recently used key of a Map kept as an LRU (an entry is deleted and re-inserted on use, so
 * insertion order is recency order). The caller must delete every key it is given before asking again.
 *
 * Why not `map.keys().next()` each time: a deleted Map entry stays a hole until the table is rebuilt, and a
 * fresh iterator walks every hole at the front — every entry evicted so far — on each eviction (measured:
 * ~1 µs per eviction at 2000 entries, on every cache miss of a full cache). A cursor kept between calls
 * walks each hole once. It still yields the oldest key: everything before it was handed out and deleted,
 * and every insertion, new or re-inserted, lands after it (ECMA-262 Map iteration visits entries appended
 * during iteration and skips deleted ones; clear() leaves the cursor before the entries added next).
 */
export function lruCursor<K>(map: Map<K, unknown>): () => K | undefined {
  let cursor = map.keys();
  return () => {
    let next = cursor.next();
    // A finished iterator stays finished; only reached when the map was empty at some call.
    if (next.done) {
      cursor = map.keys();
      next = cursor.next();
    }
    return next.done ? undefined : next.value;
  };
}
