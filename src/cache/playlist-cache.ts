import { performance } from 'node:perf_hooks';
import type { CacheConfig } from '../config.js';
import { classify, ProxyError } from '../errors.js';
import { createFetchSignals } from './fetch-signals.js';
import { allowsStale, errorEntry, errorFromEntry, keepMsFor, ttlFor } from './freshness.js';
import { createSingleFlight } from './single-flight.js';
import type { Claim, PlaylistStore, StoredRecord } from './store.js';
import type { CachedPlaylist, CacheGetResult, CacheResult, CacheStats, PlaylistCache, PlaylistFetcher } from './types.js';

/**
 * The cache semantics shared by both backends (issue #3): freshness from the playlist, single-flight per
 * process, a lock across replicas when the store is shared, error entries, and stale-if-error.
 */

interface Outcome {
  entry: CachedPlaylist;
  result: CacheResult;
  /** The original failure, with its cause, for the request that made the fetch. */
  error?: ProxyError;
}

type Usable = 'fresh' | 'stale' | undefined;


export function createCacheCore(
  store: PlaylistStore,
  cfg: CacheConfig,
  deps: { clock: () => number; stats: CacheStats },
): PlaylistCache {
  const { clock, stats } = deps;
  const flights = createSingleFlight<Outcome>();
  // Signals for the fetches, aborted by close(); shared in small batches (fetch-signals.ts says why).
  const fetchSignals = createFetchSignals();
  const pollMs = Math.max(20, Math.min(250, Math.floor(cfg.coalesceTimeoutMs / 10)));
  let closed = false;

  /**
   * Only the declared fields are kept, so both backends hold exactly the same thing. The cache owns time:
   * fetchedAt is stamped with the injected clock, whatever the fetcher put there.
   */
  function toEntry(fetched: Omit<CachedPlaylist, 'ttlMs'>, now: number): CachedPlaylist {
    const { status, body, finalUrl, contentType, errorCode } = fetched;
    const entry: CachedPlaylist = { status, body, finalUrl, contentType, fetchedAt: now, ttlMs: ttlFor(fetched, cfg) };
    if (typeof errorCode === 'string') entry.errorCode = errorCode;
    return Object.freeze(entry);
  }

  const isError = (e: CachedPlaylist): boolean => e.errorCode !== undefined || e.status >= 400;

  function usable(record: StoredRecord | undefined, now: number): Usable {
    if (!record) return undefined;
    const { entry } = record;
    const age = now - entry.fetchedAt;
    if (age < entry.ttlMs) return 'fresh';
    if (!isError(entry) && record.retryAfter !== undefined && now < record.retryAfter && age < entry.ttlMs + cfg.staleIfErrorMs) {
      return 'stale';
    }
    return undefined;
  }

  const staleWindowOpen = (record: StoredRecord, now: number): boolean =>
    !isError(record.entry) && now - record.entry.fetchedAt < record.entry.ttlMs + cfg.staleIfErrorMs;
  const withinStaleWindow = (record: StoredRecord | undefined, now: number): record is StoredRecord =>
    record !== undefined && staleWindowOpen(record, now);

  /**
   * What a viewer may be answered while a refresh takes longer than the stale wait (issue #15): the expired
   * copy within the stale-if-error window; past it, the failure that made the copy stale, or the
   * upstream's last outage (5xx, timeout) while it is within the window. A live playlist a second old is
   * worth more to a player than one that arrives after the origin's connect timeout, and a known outage is
   * better answered at once; the refresh goes on and fills the cache for the next viewer.
   */
  function fallbackFor(record: StoredRecord | undefined, now: number): Outcome | undefined {
    if (!record) return undefined;
    if (staleWindowOpen(record, now)) return { entry: record.entry, result: 'stale' };
    const outage = record.failure ?? (isError(record.entry) ? record.entry : undefined);
    return outage && outage.status >= 500 && now - outage.fetchedAt < outage.ttlMs + cfg.staleIfErrorMs
      ? { entry: outage, result: 'stale' }
      : undefined;
  }

  /** The flight's outcome, or the fallback once waitMs passed without one. */
  async function boundedWait(flight: Promise<Outcome>, fallback: Outcome | undefined, waitMs: number): Promise<{ outcome: Outcome; fellBack: boolean }> {
    if (!fallback || !(waitMs > 0)) return { outcome: await flight, fellBack: false };
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => { timer = setTimeout(resolve, waitMs, undefined); });
    try {
      const first = await Promise.race([flight, late]);
      if (first !== undefined) return { outcome: first, fellBack: false };
      flight.catch(() => undefined); // settled later, for the viewers who wait for it
      return { outcome: fallback, fellBack: true };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Serves the prior copy after a failed refresh and remembers the failure: no retry for errorTtlMs, and
   * the failure itself for the stale-if-error window after the copy's own (fallbackFor).
   */
  async function serveStale(key: string, prior: StoredRecord, now: number, failure: CachedPlaylist): Promise<Outcome> {
    const keepMs = Math.max(prior.entry.fetchedAt + prior.entry.ttlMs + cfg.staleIfErrorMs - now, 0) + cfg.staleIfErrorMs;
    await store.write(key, { entry: prior.entry, retryAfter: now + cfg.errorTtlMs, failure }, keepMs);
    return { entry: prior.entry, result: 'stale' };
  }

  async function fetchAndStore(key: string, fetcher: PlaylistFetcher, prior: StoredRecord | undefined): Promise<Outcome> {
    const fetchSignal = fetchSignals.acquire();
    stats.fetches++;
    try {
      const fetched = await fetcher(fetchSignal.signal);
      const now = clock();
      const entry = toEntry(fetched, now);
      if (entry.status >= 500 && withinStaleWindow(prior, now)) return await serveStale(key, prior, now, entry);
      await store.write(key, { entry }, keepMsFor(entry, cfg));
      return { entry, result: 'miss' };
    } catch (err) {
      if (closed) throw new ProxyError('SHUTTING_DOWN', { cause: err });
      const error = classify(err);
      const now = clock();
      const entry = Object.freeze(errorEntry(error, now, cfg));
      if (allowsStale(error) && withinStaleWindow(prior, now)) return await serveStale(key, prior, now, entry);
      await store.write(key, { entry }, keepMsFor(entry, cfg));
      return { entry, result: 'miss', error };
    } finally {
      fetchSignal.release();
    }
  }

  /** Waits for another replica's fetch; returns its record, or the lock when the holder went away. */
  async function awaitOtherReplica(key: string): Promise<{ outcome?: Outcome; claim?: Claim; prior?: StoredRecord }> {
    const deadline = performance.now() + cfg.coalesceTimeoutMs;
    let prior: StoredRecord | undefined;
    for (let left = cfg.coalesceTimeoutMs; left > 0 && !closed; left = deadline - performance.now()) {
      await store.waitForFill!(key, Math.min(left, pollMs));
      const claim = await store.claim!(key, cfg.coalesceTimeoutMs);
      if (!claim) return { prior }; // Redis went away: fetch ourselves.
      prior = claim.record ?? prior;
      const u = usable(claim.record, clock());
      if (u) {
        await claim.release();
        return { outcome: { entry: claim.record!.entry, result: u === 'fresh' ? 'coalesced' : 'stale' } };
      }
      if (claim.leader) return { claim, prior };
    }
    return { prior }; // coalesceTimeoutMs passed: fetch ourselves rather than keep the viewer waiting.
  }

  /** One per key per process (single-flight): re-check, coordinate with other replicas, fetch. */
  async function refresh(key: string, fetcher: PlaylistFetcher, seen: StoredRecord | undefined): Promise<Outcome> {
    let claim = store.claim ? await store.claim(key, cfg.coalesceTimeoutMs) : undefined;
    try {
      // Re-check: a flight that settled between our read and now may have just stored the answer. Without
      // a claim (no lock, or Redis unusable) that is a read, which the in-process layer answers: skipping it
      // while Redis timed out sent every request that raced a finished flight upstream again (8 origin
      // fetches in 50 ms from 3 replicas at the start of a Redis blackhole, issue #15).
      const record = claim ? claim.record : await store.read(key);
      let prior = record ?? seen;
      const u = usable(record, clock());
      if (u) return { entry: record!.entry, result: u === 'fresh' ? 'hit' : 'stale' };
      if (claim && !claim.leader) {
        const waited = await awaitOtherReplica(key);
        if (waited.outcome) return waited.outcome;
        claim = waited.claim;
        prior = waited.prior ?? prior;
      }
      if (closed) throw new ProxyError('SHUTTING_DOWN');
      return await fetchAndStore(key, fetcher, prior);
    } finally {
      await claim?.release();
    }
  }

  function count(result: CacheResult): void {
    if (result === 'hit') stats.hits++;
    else if (result === 'miss') stats.misses++;
    else if (result === 'coalesced') stats.coalesced++;
    else stats.stale++;
  }

  function deliver(outcome: Outcome, result: CacheResult): CacheGetResult {
    count(result);
    const { entry } = outcome;
    if (entry.errorCode !== undefined) throw outcome.error ?? errorFromEntry(entry);
    return { entry, result, ageMs: Math.max(0, clock() - entry.fetchedAt) };
  }

  function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (!signal) return promise;
    if (signal.aborted) return Promise.reject(new ProxyError('CLIENT_GONE'));
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(new ProxyError('CLIENT_GONE'));
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  return {
    async get(key, fetcher, options = {}) {
      if (closed) throw new ProxyError('SHUTTING_DOWN');
      const { signal } = options;
      const seen = await untilAborted(store.read(key), signal);
      const u = usable(seen, clock());
      if (u) return deliver({ entry: seen!.entry, result: u === 'fresh' ? 'hit' : 'stale' }, u === 'fresh' ? 'hit' : 'stale');
      const { promise, joined } = flights.run(key, () => refresh(key, fetcher, seen));
      const waitMs = options.staleWaitMs ?? cfg.staleWaitMs;
      const { outcome, fellBack } = await untilAborted(boundedWait(promise, fallbackFor(seen, clock()), waitMs), signal);
      if (fellBack) return deliver(outcome, 'stale');
      if (!joined) return deliver(outcome, outcome.result);
      // A waiter gets the flight's copy; the original error object stays with the request that fetched.
      return deliver({ entry: outcome.entry, result: outcome.result }, outcome.result === 'stale' ? 'stale' : 'coalesced');
    },

    get stats() {
      return stats;
    },

    state: () => store.state(),

    async close() {
      closed = true;
      fetchSignals.abortAll(new ProxyError('SHUTTING_DOWN'));
      await store.close();
    },
  };
}
