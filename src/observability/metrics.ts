import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PlaylistCache } from '../cache/types.js';

/**
 * Prometheus metrics (prom-client) on a registry owned by one app instance, never the global default, so
 * two proxies in one process (tests) do not share counters.
 *
 * Label values that come from requests (upstream hosts) are bounded: after `maxHosts` distinct hosts, new
 * ones are counted as "other", so a flood of tokens for random hosts cannot grow the registry without end.
 */
export interface Metrics {
  registry: Registry;
  requests: Counter<'route' | 'status'>;
  duration: Histogram<'route'>;
  upstreamRequests: Counter<'host' | 'type'>;
  upstreamErrors: Counter<'host' | 'code'>;
  bytesStreamed: Counter<string>;
  /** Issue #16 §1: stream requests answered with X-Accel-Redirect ('offloaded') or streamed here, and why. */
  offloads: Counter<'result'>;
  openStreams: Gauge<string>;
  prefetchEvents: Counter<'event'>;
  prefetchServed: Counter<'result'>;
  segmentCacheServed: Counter<'result'>;
  /** The label value to use for an upstream host. */
  hostLabel(host: string): string;
  /** One finished request: `requests` and `duration` through cached label children (see below). */
  observeRequest(route: string, status: number, seconds: number): void;
}

export interface PrefetchGaugeSource {
  entries: number;
  pending: number;
  bytes: number;
  playlists: number;
}

export interface MetricSources {
  /** Current prefetch store figures, when --prefetch is on. */
  prefetch?: () => PrefetchGaugeSource;
  maxHosts?: number;
}

export function createMetrics(cache: PlaylistCache, sources: MetricSources = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hls_sidecar_' });
  const cacheCounter = (name: string, help: string, pick: (s: PlaylistCache['stats']) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(pick(cache.stats));
      },
    });
  cacheCounter('hls_sidecar_cache_hits_total', 'playlist cache hits', (s) => s.hits);
  cacheCounter('hls_sidecar_cache_misses_total', 'playlist cache misses', (s) => s.misses);
  cacheCounter('hls_sidecar_cache_coalesced_total', 'requests that waited for another request\'s fetch', (s) => s.coalesced);
  cacheCounter('hls_sidecar_cache_stale_total', 'stale playlists served because the upstream failed', (s) => s.stale);
  cacheCounter('hls_sidecar_upstream_playlist_fetches_total', 'playlist fetches sent upstream', (s) => s.fetches);
  cacheCounter('hls_sidecar_redis_errors_total', 'Redis commands that failed or timed out', (s) => s.redisErrors);
  new Gauge({
    name: 'hls_sidecar_cache_state',
    help: 'cache backend state: 0 memory, 1 redis ok, 2 redis degraded',
    registers: [registry],
    collect() {
      this.set({ memory: 0, ok: 1, degraded: 2 }[cache.state()]);
    },
  });
  new Gauge({
    name: 'hls_sidecar_redis_up',
    help: '1 when the Redis backend is usable, 0 when degraded (absent figures: in-process cache)',
    registers: [registry],
    collect() {
      const state = cache.state();
      this.reset();
      if (state !== 'memory') this.set(state === 'ok' ? 1 : 0);
    },
  });
  const prefetch = sources.prefetch;
  if (prefetch) {
    const gauge = (name: string, help: string, pick: (s: PrefetchGaugeSource) => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(pick(prefetch()));
        },
      });
    gauge('hls_sidecar_prefetch_entries', 'segments in the prefetch store (pending downloads included)', (s) => s.entries);
    gauge('hls_sidecar_prefetch_pending', 'prefetch downloads reserved or in flight', (s) => s.pending);
    gauge('hls_sidecar_prefetch_bytes', 'bytes of prefetched segment bodies held in memory', (s) => s.bytes);
    gauge('hls_sidecar_prefetch_playlists', 'live playlists whose progress the prefetcher follows', (s) => s.playlists);
  }

  const maxHosts = sources.maxHosts ?? 200;
  const hosts = new Set<string>();
  const requests = new Counter({ name: 'hls_sidecar_requests_total', help: 'requests by route and status', labelNames: ['route', 'status'], registers: [registry] });
  const duration = new Histogram({
    name: 'hls_sidecar_request_duration_seconds',
    help: 'time to response end by route',
    labelNames: ['route'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // Every request is counted: prom-client hashes a label object on each inc/observe, so the children for a
  // (route, status) pair are looked up once and kept. Routes and statuses are few, so this stays small.
  const perRequest = new Map<string, { count: () => void; time: (seconds: number) => void }>();
  const childrenFor = (route: string, status: number) => {
    const key = `${route} ${status}`;
    let children = perRequest.get(key);
    if (!children) {
      const counter = requests.labels(route, String(status));
      const histogram = duration.labels(route);
      children = { count: () => counter.inc(), time: (seconds) => histogram.observe(seconds) };
      perRequest.set(key, children);
    }
    return children;
  };
  return {
    registry,
    requests,
    duration,
    upstreamRequests: new Counter({
      name: 'hls_sidecar_upstream_requests_total',
      help: 'requests sent upstream by host and type (playlist: fetched whole; media: streamed or prefetched)',
      labelNames: ['host', 'type'],
      registers: [registry],
    }),
    upstreamErrors: new Counter({ name: 'hls_sidecar_upstream_errors_total', help: 'upstream failures by host and error code', labelNames: ['host', 'code'], registers: [registry] }),
    offloads: new Counter({ name: 'hls_sidecar_offload_total', help: 'stream requests a front announced it could fetch itself: offloaded (X-Accel-Redirect), or the reason they were streamed here', labelNames: ['result'], registers: [registry] }),
    bytesStreamed: new Counter({ name: 'hls_sidecar_bytes_streamed_total', help: 'segment/key/init body bytes written to clients (counted as written, not from Content-Length)', registers: [registry] }),
    openStreams: new Gauge({ name: 'hls_sidecar_open_streams', help: 'segment responses in flight', registers: [registry] }),
    prefetchEvents: new Counter({
      name: 'hls_sidecar_prefetch_events_total',
      help: 'prefetch downloads: started, stored, failed; store entries evicted (capacity) or expired',
      labelNames: ['event'],
      registers: [registry],
    }),
    prefetchServed: new Counter({
      name: 'hls_sidecar_prefetch_served_total',
      help: 'segment requests answered from the prefetch store (hit: ready; wait: waited for the download)',
      labelNames: ['result'],
      registers: [registry],
    }),
    segmentCacheServed: new Counter({
      name: 'hls_sidecar_segment_cache_total',
      help: 'segment requests looked up in the in-process segment cache (hit: kept copy; wait: waited for the copy being made; miss: went upstream)',
      labelNames: ['result'],
      registers: [registry],
    }),
    hostLabel(host) {
      if (hosts.has(host)) return host;
      if (hosts.size >= maxHosts) return 'other';
      hosts.add(host);
      return host;
    },
    observeRequest(route, status, seconds) {
      const children = childrenFor(route, status);
      children.count();
      children.time(seconds);
    },
  };
}
