/**
 * Load generation with autocannon's programmatic API: the fallback when wrk (wrk.ts, a process of its own)
 * is not installed, and the generator of the phases that run several loads at once. Latency percentiles come from every response's own float time (autocannon's histogram rounds to whole
 * milliseconds, too coarse for sub-millisecond cached playlists).
 */
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { percentile } from './stats.js';

interface AutocannonResult {
  requests: { average: number };
  throughput: { average: number; total: number };
  totalCompletedRequests: number;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
}

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
}

interface AutocannonInstance extends EventEmitter, PromiseLike<AutocannonResult> {
  stop(): void;
}

type Autocannon = (opts: Record<string, unknown>) => AutocannonInstance;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface LoadOptions {
  url: string;
  seconds: number;
  connections: number;
  headers?: Record<string, string>;
  /** Query appended per request (e.g. a counter for unique cache keys); called once per request. */
  uniqueQuery?: () => string;
  /** Response timeout, seconds. */
  timeoutSec?: number;
}

export interface LoadResult {
  rps: number;
  /** Response bytes per second (2xx only), headers included as autocannon counts them. */
  bytesPerSec: number;
  /** Response bytes in all (headers included). */
  bytes?: number;
  p50: number;
  p99: number;
  max: number;
  /** Completed 2xx responses. */
  ok: number;
  requests: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statuses: Record<string, number>;
  /** CPU time of the subject's processes per completed request, microseconds (filled in by the caller). */
  cpuUsPerReq?: number;
  /** Cores the subject's processes used on average during the run (filled in by the caller). */
  cpuCores?: number;
  /** CPU of the subject's processes per MB of responses, microseconds (measured-load.ts). */
  cpuUsPerMB?: number;
  /** CPU of the proxy processes alone per request (a subject behind nginx: without nginx and Redis). */
  proxyCpuUsPerReq?: number;
  /** Peak RSS during the run per process group (an nginx master + workers summed; each proxy process). */
  rssPeakMB?: number[];
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const u = new URL(opts.url);
  const basePath = `${u.pathname}${u.search}`;
  const latencies: number[] = [];
  const requests: AutocannonRequest[] | undefined = opts.uniqueQuery
    ? [{
        setupRequest: (req: AutocannonRequest) => {
          const sep = basePath.includes('?') ? '&' : '?';
          return { ...req, path: `${basePath}${sep}${opts.uniqueQuery!()}` };
        },
      } as AutocannonRequest]
    : undefined;
  const instance = autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.seconds,
    timeout: opts.timeoutSec ?? 10,
    headers: opts.headers ?? {},
    ...(requests ? { requests } : {}),
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const r = await instance;
  latencies.sort((a, b) => a - b);
  const statuses: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(r.statusCodeStats)) statuses[code] = count;
  const ok = latencies.length;
  return {
    rps: ok / r.duration,
    bytesPerSec: r.throughput.average,
    bytes: r.throughput.total,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? NaN,
    ok,
    requests: r.totalCompletedRequests,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    statuses,
  };
}
