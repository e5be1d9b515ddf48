import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PlaylistCache } from '../cache/types.js';

/**
 * Prometheus metrics (prom-client) on a registry owned by one app instance, never the global default, so
 * two proxies in one process (tests) do not share counters.
 */
export interface Metrics {
  registry: Registry;
  requests: Counter<'route' | 'status'>;
  duration: Histogram<'route'>;
  upstreamErrors: Counter<'host' | 'code'>;
  bytesStreamed: Counter<string>;
  openStreams: Gauge<string>;
}

export function createMetrics(cache: PlaylistCache): Metrics {
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
  return {
    registry,
    requests: new Counter({ name: 'hls_sidecar_requests_total', help: 'requests by route and status', labelNames: ['route', 'status'], registers: [registry] }),
    duration: new Histogram({
      name: 'hls_sidecar_request_duration_seconds',
      help: 'time to response end by route',
      labelNames: ['route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    upstreamErrors: new Counter({ name: 'hls_sidecar_upstream_errors_total', help: 'upstream failures by host and error code', labelNames: ['host', 'code'], registers: [registry] }),
    bytesStreamed: new Counter({ name: 'hls_sidecar_bytes_streamed_total', help: 'segment/key/init bytes sent to clients', registers: [registry] }),
    openStreams: new Gauge({ name: 'hls_sidecar_open_streams', help: 'segment responses in flight', registers: [registry] }),
  };
}
