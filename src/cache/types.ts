/**
 * The shared manifest cache's public contract (issue #3). One interface, two backends: the in-process
 * cache (embedded default) and the Redis-backed cache (`--redis`). Both pass the same contract suite.
 *
 * What is cached is what the upstream sent for one upstream URL (LL-HLS directives included in the key,
 * built by the caller) — never anything derived from a viewer's request headers, so one viewer cannot
 * poison another's playlist.
 */

export interface CachedPlaylist {
  status: number;
  body: string;
  /** URL after redirects: relative URIs in the playlist resolve against it (RFC 3986 §5.1.3). */
  finalUrl: string;
  contentType: string;
  /** Epoch ms when the upstream answered. */
  fetchedAt: number;
  /** Freshness lifetime computed by the cache (freshness.ts), never by the fetcher. */
  ttlMs: number;
  /** ProxyError code when the fetch failed; such an entry is re-thrown, never served as a body. */
  errorCode?: string;
}

/**
 * hit: fresh copy from the store. miss: this request fetched upstream. coalesced: this request waited for
 * another request's fetch (same process or another replica). stale: the fetch failed and an expired copy
 * within the stale-if-error window was served (RFC 5861 §4).
 */
export type CacheResult = 'hit' | 'miss' | 'coalesced' | 'stale';

/** Monotonic counters, ready to be exported as prom-client counters. */
export interface CacheStats {
  hits: number;
  misses: number;
  coalesced: number;
  /** Calls of the fetcher, i.e. upstream playlist requests made on behalf of the cache. */
  fetches: number;
  stale: number;
  /** Redis commands that failed or timed out (each one sent that request straight upstream). */
  redisErrors: number;
}

export type CacheState = 'memory' | 'ok' | 'degraded';

export type PlaylistFetcher = (signal: AbortSignal) => Promise<Omit<CachedPlaylist, 'ttlMs'>>;

export interface CacheGetOptions {
  /**
   * The viewer's own signal: when it aborts, this call stops waiting (ProxyError CLIENT_GONE) but the
   * shared fetch goes on and fills the cache for everyone else.
   */
  signal?: AbortSignal;
  /**
   * How long this viewer waits for a refresh before it is answered from the expired copy (or the recent
   * failure) instead; default the config's staleWaitMs. 0: wait for the refresh, as a blocking LL-HLS
   * reload must (RFC 8216bis §6.2.5.2: the server holds the request until the playlist has the part).
   */
  staleWaitMs?: number;
}

export interface CacheGetResult {
  entry: CachedPlaylist;
  result: CacheResult;
  /** ms since the copy was fetched, per the cache's clock (for the `Age` header, RFC 9111 §5.1). */
  ageMs: number;
}

export interface PlaylistCache {
  /** fetcher returns the fresh entry (ttl computed by the cache) or throws (ProxyError). */
  get(key: string, fetcher: PlaylistFetcher, options?: CacheGetOptions): Promise<CacheGetResult>;
  readonly stats: Readonly<CacheStats>;
  /** memory: in-process backend; ok: Redis in use; degraded: Redis unusable, requests go straight upstream. */
  state(): CacheState;
  /** Aborts in-flight fetches and closes Redis connections. Later get() calls throw SHUTTING_DOWN. */
  close(): Promise<void>;
}

/** The slice of a pino logger the cache uses; state changes are logged once per change. */
export interface CacheLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface CacheDeps {
  logger: CacheLogger;
  /** Epoch ms; every freshness decision uses it (tests inject a fake clock). Default Date.now. */
  clock?: () => number;
}
