/**
 * One measured load run against one subject, the unit every bench here is made of: the load (wrk in its
 * own process when installed, else autocannon in this one, or stream-load.ts for big binary bodies), and
 * around it what the subject's own processes spent: CPU time (utime + stime from /proc, every process of
 * the subject: an nginx's master and workers, each proxy, Redis) per request and per MB, and the peak RSS
 * sampled during the run. Neither figure includes the load generator, so they hold on a shared machine
 * where rps is partly a measure of who else runs.
 */
import { performance } from 'node:perf_hooks';
import { runLoad, type LoadResult } from './load.js';
import { cpuSeconds, sampleRssGroups } from './stats.js';
import { runStreamLoad } from './stream-load.js';
import type { Subject } from './subjects.js';
import { hasWrk, runWrk, type WrkScripts } from './wrk.js';

export type Loader = 'wrk' | 'autocannon';

export interface LoaderChoice {
  loader: Loader;
  /** Why, for the report (wrk missing, or forced). */
  note?: string;
}

/** BENCH_LOADER (wrk|autocannon) wins; else wrk when installed. */
export function chooseLoader(forced: string | undefined): LoaderChoice {
  if (forced === 'autocannon') return { loader: 'autocannon', note: 'BENCH_LOADER=autocannon: the load generator ran inside the bench process.' };
  if (hasWrk()) return { loader: 'wrk' };
  if (forced === 'wrk') throw new Error('BENCH_LOADER=wrk but wrk is not on PATH (apt-get install wrk)');
  return {
    loader: 'autocannon',
    note: 'wrk is not installed (apt-get install wrk; scripts/bench.sh installs it as root): autocannon (playlists) and an undici ' +
      'loader (segments) ran inside the bench process, sharing its cores, so rps and MB/s partly measure the generator.',
  };
}

export interface RunSpec {
  url: string;
  seconds: number;
  connections: number;
  /** Every request its own query (no cache can answer it). */
  unique?: boolean;
  /** Big binary bodies (segments): the fallback uses stream-load.ts, not autocannon. */
  big?: boolean;
  headers?: Record<string, string>;
}

export interface LoaderConfig extends LoaderChoice {
  scripts?: WrkScripts;
  wrkThreads?: number;
  wrkCpus?: string;
}

/** The processes a subject's figures are read from. */
export interface Probe {
  /** Every process doing its work (CPU). */
  cpuPids: number[];
  /** The proxy processes alone (empty for nginx-only subjects). */
  proxyPids: number[];
  /** RSS groups: each proxy process, or the nginx master and its workers as one. */
  rssGroups: number[][];
}

export function probeOf(s: Subject): Probe {
  const proxies = s.pids();
  return { cpuPids: s.cpuPids(), proxyPids: proxies, rssGroups: proxies.length ? proxies.map((p) => [p]) : [s.cpuPids()] };
}

let tags = 0;
let uniqueCounter = 0;

async function generate(spec: RunSpec, cfg: LoaderConfig): Promise<LoadResult> {
  const tag = `${Date.now().toString(36)}${++tags}`;
  if (cfg.loader === 'wrk') {
    if (!cfg.scripts) throw new Error('wrk: scripts not written (writeWrkScripts)');
    return runWrk({ url: spec.url, seconds: spec.seconds, connections: spec.connections, scripts: cfg.scripts, threads: cfg.wrkThreads, headers: spec.headers,
      ...(spec.unique ? { uniqueTag: tag } : {}), ...(cfg.wrkCpus ? { cpus: cfg.wrkCpus } : {}) });
  }
  const query = spec.unique ? () => `n=${tag}-${++uniqueCounter}` : undefined;
  const base = { url: spec.url, seconds: spec.seconds, connections: spec.connections, headers: spec.headers ?? {} };
  if (spec.big) return runStreamLoad({ ...base, ...(query ? { query } : {}) });
  return runLoad({ ...base, ...(query ? { uniqueQuery: query } : {}) });
}

export async function measuredLoad(probe: Probe, spec: RunSpec, cfg: LoaderConfig): Promise<LoadResult> {
  const rss = sampleRssGroups(probe.rssGroups);
  const cpu0 = cpuSeconds(probe.cpuPids);
  const proxy0 = cpuSeconds(probe.proxyPids);
  const t0 = performance.now();
  const r = await generate(spec, cfg);
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(probe.cpuPids) - cpu0;
  const proxyCpu = cpuSeconds(probe.proxyPids) - proxy0;
  const bytes = r.bytes ?? r.bytesPerSec * wall;
  return {
    ...r,
    cpuUsPerReq: r.ok > 0 ? (cpu * 1e6) / r.ok : NaN,
    cpuUsPerMB: bytes > 0 ? (cpu * 1e6) / (bytes / 1e6) : NaN,
    cpuCores: cpu / wall,
    proxyCpuUsPerReq: probe.proxyPids.length && r.ok > 0 ? (proxyCpu * 1e6) / r.ok : NaN,
    rssPeakMB: rss.stop().peakMB,
  };
}
