import type { CachedPlaylist, CacheState } from './types.js';

/**
 * What a backend stores per key, and the operations the cache core needs from it. Backends never throw:
 * a backend that cannot answer (Redis down or slow) answers "nothing stored", and the core goes upstream.
 */

export interface StoredRecord {
  entry: CachedPlaylist;
  /**
   * Epoch ms until which a failed refresh is not retried: the expired copy is served stale meanwhile, so
   * an upstream outage costs one upstream request per errorTtlMs, not one per viewer.
   */
  retryAfter?: number;
  /**
   * The failed refresh that made this copy stale (an error entry): once the stale-if-error window is over,
   * a viewer who would wait on the next slow refresh is answered with it (the stale wait, issue #15).
   */
  failure?: CachedPlaylist;
}

/** The right to fetch one key across replicas (a Redis lock), plus what was stored when it was asked. */
export interface Claim {
  leader: boolean;
  record: StoredRecord | undefined;
  /** Gives the lock back (only if still ours); a no-op for a claim that did not lead. */
  release(): Promise<void>;
}

export interface PlaylistStore {
  read(key: string): Promise<StoredRecord | undefined>;
  /** Keeps the record for keepMs (freshness plus the stale-if-error window) and tells waiting replicas. */
  write(key: string, record: StoredRecord, keepMs: number): Promise<void>;
  /**
   * Cross-replica coalescing, present only on shared backends: try to take the fetch lock for lockMs and
   * read the key in the same round trip. undefined when the backend is unavailable right now.
   */
  claim?(key: string, lockMs: number): Promise<Claim | undefined>;
  /** Resolves when another replica announces a write for key, or after ms (the short-poll fallback). */
  waitForFill?(key: string, ms: number): Promise<void>;
  state(): CacheState;
  close(): Promise<void>;
}
