/**
 * Part 5b: leak check. Long-VOD playlist requests (the 900-segment playlist; one request in five with a
 * fresh query, so the cache and the render memo churn at their bounds) for BENCH_LEAK_SECONDS.
 *
 * Before and after the run the proxy is asked for a full GC (gc-probe.ts) and its heap and RSS are read:
 * bounded caches leave both where they were, a leak leaves more behind in proportion to the requests
 * served. RSS sampled during the run (peak, medians of the first and last third) is reported as well, but
 * it mostly shows V8's heap sizing under load, not what is retained.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { AfterGc } from './gc-probe.js';
import { runLoad, type LoadResult } from './load.js';
import { median, rssMB, sampleRss } from './stats.js';
import type { Subject } from './subjects.js';

const MISS_EVERY = 5;

export interface LeakRun {
  seconds: number;
  warmupSeconds: number;
  /** Distinct cache keys requested (warm-up included). */
  distinctKeys: number;
  /** After a forced full GC, per process. */
  beforeGc: AfterGc[];
  afterGc: AfterGc[];
  /** Sampled without forcing GC, per process. */
  beforeMB: number[];
  peakMB: number[];
  afterMB: number[];
  firstThirdMB: number[];
  lastThirdMB: number[];
  load: LoadResult;
  /** Judged after forced GCs: heap within max(5 MB, 10 %) and RSS within max(10 MB, 10 %), every process. */
  flat: boolean;
}

export function grewWithin(before: number, after: number, floorMB: number): boolean {
  return after - before <= Math.max(floorMB, before * 0.1);
}

/** Median RSS of the first and of the last third of the samples, per process. */
export function thirds(series: readonly number[][], processes: number): { firstMB: number[]; lastMB: number[] } {
  const third = Math.max(1, Math.floor(series.length / 3));
  const col = (rows: readonly number[][], i: number): number => median(rows.map((r) => r[i] ?? NaN));
  const head = series.slice(0, third);
  const tail = series.slice(series.length - third);
  return {
    firstMB: Array.from({ length: processes }, (_, i) => col(head, i)),
    lastMB: Array.from({ length: processes }, (_, i) => col(tail, i)),
  };
}

export async function leakCheck(subject: Subject, path: string, opts: { seconds: number; connections: number; /** Distinct keys to request per process before measuring. */ fillKeys: number }): Promise<LeakRun> {
  // Every fifth request is a miss: 5 is odd, so round-robin over two replicas sends misses to both
  // (every fourth would send them all to the same one).
  let n = 0;
  const mixedQuery = (): string => {
    n++;
    return `leak=${n % MISS_EVERY === 0 ? n : 0}`;
  };
  const url = subject.url(path);
  // Warm up until every bounded structure is full: more distinct keys per process than its cache holds
  // (--cache-max-entries, default 2000; replicas behind nginx each see their share of the keys), and at
  // least a third of the measured duration; at most 90 s.
  const fillKeys = opts.fillKeys * Math.max(1, subject.pids().length);
  const started = Date.now();
  const minWarmMs = Math.max(3, Math.min(20, Math.round(opts.seconds / 3))) * 1000;
  while ((Date.now() - started < minWarmMs || n / MISS_EVERY < fillKeys) && Date.now() - started < 90_000) {
    await runLoad({ url, seconds: 3, connections: opts.connections, uniqueQuery: mixedQuery });
  }
  const warmupSeconds = Math.round((Date.now() - started) / 1000);
  await delay(1000);

  const pids = subject.pids();
  const beforeGc = await subject.memoryAfterGc();
  const beforeMB = pids.map(rssMB);
  const sampler = sampleRss(pids);
  const load = await runLoad({ url, seconds: opts.seconds, connections: opts.connections, uniqueQuery: mixedQuery });
  const { peakMB, series } = sampler.stop();
  const { firstMB, lastMB } = thirds(series, pids.length);
  await delay(2000);
  const afterMB = pids.map(rssMB);
  const afterGc = await subject.memoryAfterGc();

  const measured = beforeGc.length === pids.length && afterGc.length === pids.length &&
    [...beforeGc, ...afterGc].every((m) => Number.isFinite(m.heapUsedMB) && Number.isFinite(m.rssMB));
  const flat = measured && beforeGc.every((b, i) => grewWithin(b.heapUsedMB, afterGc[i]!.heapUsedMB, 5) && grewWithin(b.rssMB, afterGc[i]!.rssMB, 10));
  return {
    seconds: opts.seconds,
    warmupSeconds,
    distinctKeys: Math.floor(n / MISS_EVERY) + 1,
    beforeGc,
    afterGc,
    beforeMB,
    peakMB,
    afterMB,
    firstThirdMB: firstMB,
    lastThirdMB: lastMB,
    load,
    flat,
  };
}
