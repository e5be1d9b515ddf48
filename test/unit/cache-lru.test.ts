import { expect } from 'chai';
import fc from 'fast-check';
import { lruCursor } from '../../src/cache/lru-cursor.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import type { StoredRecord } from '../../src/cache/store.js';

// The stores evict through a cursor kept between evictions (lru-cursor.ts) rather than a fresh
// `keys().next()`; these check it still evicts exactly the least recently used key, under any mix of
// inserts, touches, deletes and clears, against a plain array model.
type Op = { kind: 'set' | 'touch' | 'delete'; key: number } | { kind: 'clear' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom('set' as const, 'touch' as const, 'delete' as const), key: fc.integer({ min: 0, max: 12 }) }),
  fc.constant({ kind: 'clear' as const }),
);

describe('cache LRU eviction order', () => {
  it('lruCursor yields the least recently used key, like a recency list', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.integer({ min: 1, max: 6 }), (ops, max) => {
        const map = new Map<number, true>();
        const oldest = lruCursor(map);
        let model: number[] = [];
        const touch = (k: number): void => {
          model = model.filter((x) => x !== k).concat(k);
          map.delete(k);
          map.set(k, true);
        };
        for (const o of ops) {
          if (o.kind === 'clear') {
            map.clear();
            model = [];
          } else if (o.kind === 'delete') {
            map.delete(o.key);
            model = model.filter((x) => x !== o.key);
          } else if (o.kind === 'touch') {
            if (map.has(o.key)) touch(o.key);
          } else {
            touch(o.key);
            while (map.size > max) {
              const k = oldest();
              expect(k).to.equal(model[0]);
              map.delete(k!);
              model.shift();
            }
          }
          expect([...map.keys()]).to.deep.equal(model);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the memory store keeps the most recently used entries after a long churn', async () => {
    const store = createMemoryStore(3, () => 0);
    const record = (body: string): StoredRecord => ({
      entry: { status: 200, body, finalUrl: 'http://o.test/p.m3u8', contentType: '', fetchedAt: 0, ttlMs: 1000 },
    });
    for (let i = 0; i < 5000; i++) {
      await store.write(`k${i}`, record(String(i)), 1000);
      if (i % 7 === 0) await store.read(`k${i - 2}`); // keeps an older key recent now and then
    }
    // At i = 4998 (a multiple of 7) k4996 was read, so it outlived k4997.
    const kept = [];
    for (let i = 4990; i < 5000; i++) if (await store.read(`k${i}`)) kept.push(i);
    expect(kept).to.deep.equal([4996, 4998, 4999]);
  });
});
