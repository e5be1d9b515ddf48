/**
 * Load for large binary bodies (segments). autocannon appends every body chunk to a JS string
 * (`req.body += data` in its pipelinedRequestsQueue), i.e. it UTF-8-decodes each byte; on binary MPEG-TS
 * that caps it near 90 MB/s on this class of machine while curl reads the same file from nginx at over
 * 1 GB/s. Here each connection is an undici Client (llhttp) and body chunks are only counted.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type { LoadResult } from './load.js';
import { percentile } from './stats.js';

export interface StreamLoadOptions {
  url: string;
  seconds: number;
  connections: number;
  headers?: Record<string, string>;
  /** A query for each request (e.g. `n=<counter>`, so no cache answers it), appended to the URL's. */
  query?: () => string;
}

export async function runStreamLoad(opts: StreamLoadOptions): Promise<LoadResult> {
  const u = new URL(opts.url);
  const path = `${u.pathname}${u.search}`;
  const pool = new Pool(u.origin, { connections: opts.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let bytes = 0;
  let errors = 0;
  let requests = 0;
  const start = performance.now();
  const end = start + opts.seconds * 1000;

  async function worker(): Promise<void> {
    while (performance.now() < end) {
      const t0 = performance.now();
      requests++;
      try {
        const q = opts.query?.();
        const res = await pool.request({ path: q ? `${path}${path.includes('?') ? '&' : '?'}${q}` : path, method: 'GET', headers: opts.headers ?? {}, headersTimeout: 30_000, bodyTimeout: 30_000 });
        let got = 0;
        for await (const chunk of res.body) got += (chunk as Buffer).length;
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode >= 200 && res.statusCode < 300) {
          bytes += got;
          latencies.push(performance.now() - t0);
        }
      } catch {
        errors++;
      }
    }
  }

  await Promise.all(Array.from({ length: opts.connections }, worker));
  const seconds = (performance.now() - start) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const non2xx = Object.entries(statuses).filter(([s]) => !s.startsWith('2')).reduce((a, [, n]) => a + n, 0);
  return {
    rps: latencies.length / seconds,
    bytesPerSec: bytes / seconds,
    bytes,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? NaN,
    ok: latencies.length,
    requests,
    errors,
    timeouts: 0,
    non2xx,
    statuses,
  };
}
