import type { Config } from '../config.js';
import type { HookRunner } from '../hooks.js';
import { looksLikePlaylist } from '../manifest/detect.js';
import { discard, type Upstream } from '../upstream/client.js';
import { clientResponseHeaders, headerValue, upstreamRequestHeaders } from '../upstream/headers.js';
import type { Target } from '../url-codec.js';
import { isLiveMediaPlaylist, prefetchCandidates, type Candidate } from './plan.js';
import { createSegmentStore, type Lookup, type Slot, type StoreStats } from './segment-store.js';

/**
 * hlsd's --prefetch for live streams that viewers are watching: when a live Media Playlist is served, its
 * newest segments are fetched once into the shared store, and viewers' segment requests are answered from
 * there (prefetched.ts). Nothing polls: a playlist nobody requests is never looked at again, so prefetching
 * stops by itself, and its bookkeeping is dropped after --cache-timeout.
 *
 * Work is bounded: a few downloads at a time, each with a deadline (one timer, cleared when it ends), each
 * body capped; the store is bounded by entries, bytes and age (segment-store.ts).
 */

export type PrefetchEvent = 'started' | 'stored' | 'failed' | 'evicted' | 'expired';

export interface PrefetchDeps {
  config: Pick<Config, 'prefetch' | 'upstreamHeaders' | 'timeouts'>;
  upstream: Upstream;
  hooks: HookRunner;
  clock: () => number;
  log: { debug(obj: object, msg: string): void };
  onEvent?: (event: PrefetchEvent) => void;
  /** Defaults below; tests shrink them. */
  limits?: Partial<PrefetchLimits>;
}

export interface PrefetchLimits {
  maxBytes: number;
  maxEntryBytes: number;
  concurrency: number;
  /** Playlists whose progress is remembered (least recently served forgotten first). */
  maxPlaylists: number;
  /** Segments fetched the first time a playlist is seen. */
  initialSegments: number;
}

const DEFAULT_LIMITS: PrefetchLimits = {
  maxBytes: 256 * 1024 * 1024,
  maxEntryBytes: 32 * 1024 * 1024,
  concurrency: 4,
  maxPlaylists: 1024,
  // RFC 8216 §6.3.3: a client "SHOULD NOT choose a segment that starts less than three target durations from
  // the end of the Playlist file", so a new viewer starts within the last three or four segments.
  initialSegments: 4,
};

export interface PlaylistServed {
  /** The playlist cache key. */
  key: string;
  /** Changes whenever the upstream text may have changed (cache key + fetch time). */
  version: string;
  body: string;
  finalUrl: string;
  requestUrl: string;
  target: Target;
}

export interface PrefetchStats extends StoreStats {
  playlists: number;
  queued: number;
  active: number;
}

export interface Prefetcher {
  onPlaylist(p: PlaylistServed): void;
  lookup(url: string, referer: string | undefined): Lookup | undefined;
  stats(): PrefetchStats;
  close(): void;
}

interface Watched {
  version: string;
  keys: Set<string>;
  seenAt: number;
}

export function storeKey(url: string, referer: string | undefined): string {
  return `${url}\n${referer ?? ''}`;
}

export function createPrefetcher(deps: PrefetchDeps): Prefetcher {
  const { config, upstream, hooks, clock } = deps;
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const ttlMs = config.prefetch.timeoutSec * 1000;
  const store = createSegmentStore({
    maxEntries: config.prefetch.maxSegments,
    maxBytes: limits.maxBytes,
    ttlMs,
    clock,
    onEvict: (reason) => deps.onEvent?.(reason === 'expired' ? 'expired' : 'evicted'),
  });
  const watched = new Map<string, Watched>();
  const queue: Array<{ c: Candidate; slot: Slot }> = [];
  const closing = new AbortController();
  let active = 0;
  // Keys are only worth prefetching when no viewer credential could be needed to fetch them.
  const withKeys = !config.upstreamHeaders.forwardCookies && !config.upstreamHeaders.forwardAuthorization;

  const sweeper = setInterval(() => {
    store.sweep();
    const stale = clock() - ttlMs;
    for (const [k, w] of watched) if (w.seenAt <= stale) watched.delete(k);
  }, Math.min(ttlMs, 5000));
  sweeper.unref();

  async function download(c: Candidate, slot: Slot): Promise<void> {
    const abort = new AbortController();
    const stop = (): void => abort.abort();
    slot.signal.addEventListener('abort', stop, { once: true });
    closing.signal.addEventListener('abort', stop, { once: true });
    // A prefetched segment older than --cache-timeout is useless, so no download may take longer.
    const deadline = setTimeout(stop, ttlMs);
    try {
      const headers = upstreamRequestHeaders({ config: config.upstreamHeaders, referer: c.referer, client: undefined });
      const res = await upstream.open(c.url, { headers, signal: abort.signal });
      const type = headerValue(res.headers, 'content-type') ?? '';
      if (res.status !== 200 || /mpegurl/i.test(type)) {
        discard(res.body);
        throw new Error(`status ${res.status}`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > limits.maxEntryBytes) {
          res.body.destroy();
          throw new Error('segment over the prefetch size limit');
        }
        chunks.push(chunk as Buffer);
      }
      const body = Buffer.concat(chunks, size);
      // A playlist where a segment was expected is rewritten by the stream route, never stored raw.
      if (looksLikePlaylist(undefined, body.subarray(0, 64).toString('utf8'))) throw new Error('playlist body');
      const stored = slot.fill({ headers: { ...clientResponseHeaders(res.headers), 'content-length': String(size) }, body });
      deps.onEvent?.(stored ? 'stored' : 'evicted');
    } catch (err) {
      slot.fail();
      deps.onEvent?.('failed');
      deps.log.debug({ upstreamHost: hostOf(c.url), error: (err as Error).message }, 'prefetch failed; viewers go upstream');
    } finally {
      clearTimeout(deadline);
      slot.signal.removeEventListener('abort', stop);
      closing.signal.removeEventListener('abort', stop);
    }
  }

  function pump(): void {
    while (active < limits.concurrency && queue.length > 0 && !closing.signal.aborted) {
      const job = queue.shift()!;
      if (job.slot.signal.aborted) continue; // evicted while queued
      active++;
      deps.onEvent?.('started');
      void download(job.c, job.slot).finally(() => {
        active--;
        pump();
      });
    }
  }

  return {
    onPlaylist(p) {
      if (closing.signal.aborted) return;
      const now = clock();
      const prev = watched.get(p.key);
      if (prev && prev.version === p.version) {
        prev.seenAt = now;
        return;
      }
      if (!isLiveMediaPlaylist(p.body)) return;
      const body = hooks.modifyPlaylist(p.body, p.finalUrl);
      const all = prefetchCandidates(
        { body, finalUrl: p.finalUrl, requestUrl: p.requestUrl, referer: p.target.referer || undefined, vars: p.target.vars },
        hooks,
        withKeys,
      ).slice(-config.prefetch.maxSegments);
      const keys = all.map((c) => storeKey(c.url, c.referer));
      const known = prev && prev.seenAt > now - ttlMs ? prev.keys : undefined;
      // Seen recently: only what is new since; otherwise the segments a new viewer starts with.
      const fresh = known ? all.filter((_, i) => !known.has(keys[i]!)) : all.slice(-limits.initialSegments);
      watched.delete(p.key);
      watched.set(p.key, { version: p.version, keys: new Set(keys), seenAt: now });
      for (const [k] of watched) {
        if (watched.size <= limits.maxPlaylists) break;
        watched.delete(k);
      }
      for (const c of fresh) {
        const slot = store.reserve(storeKey(c.url, c.referer));
        if (slot) queue.push({ c, slot });
      }
      // Jobs whose entry was evicted while queued are dead weight: the queue never holds more than the store.
      if (queue.length > config.prefetch.maxSegments) {
        const alive = queue.filter((j) => !j.slot.signal.aborted);
        queue.splice(0, queue.length, ...alive);
      }
      pump();
    },

    lookup: (url, referer) => store.get(storeKey(url, referer || undefined)),

    stats: () => ({ ...store.stats(), playlists: watched.size, queued: queue.length, active }),

    close() {
      closing.abort();
      clearInterval(sweeper);
      queue.length = 0;
      store.clear();
      watched.clear();
    },
  };
}

function hostOf(url: string): string {
  return /^https?:\/\/(?:[^@/?#]*@)?([^/?#:]+|\[[^\]]*\])/i.exec(url)?.[1] ?? '';
}
