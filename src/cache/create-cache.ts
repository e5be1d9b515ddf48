import type { CacheConfig } from '../config.js';
import { withL1 } from './l1-store.js';
import { createMemoryStore } from './memory-store.js';
import { createCacheCore } from './playlist-cache.js';
import { createRedisStore } from './redis-store.js';
import type { CacheDeps, CacheStats, PlaylistCache } from './types.js';

/**
 * The manifest cache for a Config: the in-process cache when no --redis is given (the embedded default),
 * else the Redis-backed cache with the in-process single-flight in front. Both have the same semantics.
 * With Redis, a small fresh-only in-process layer (l1-store.ts) answers repeated hits without moving the
 * body out of Redis each time.
 */
export function createPlaylistCache(cfg: CacheConfig, deps: CacheDeps): PlaylistCache {
  const clock = deps.clock ?? Date.now;
  const stats: CacheStats = { hits: 0, misses: 0, coalesced: 0, fetches: 0, stale: 0, redisErrors: 0 };
  const store =
    cfg.redisUrl === undefined
      ? createMemoryStore(cfg.maxEntries, clock, cfg.maxBytes)
      : withL1(createRedisStore(cfg, { logger: deps.logger, onError: () => void stats.redisErrors++ }), {
          maxEntries: cfg.maxEntries,
          maxBodyChars: cfg.maxBytes,
          clock,
        });
  return createCacheCore(store, cfg, { clock, stats });
}
