/**
 * Part 2 of the bench: one 100k-segment VOD playlist (about 3 MB upstream) while small cached playlists are
 * being served. Reports the time to the last byte of the big one (cold: a cache miss, fetched and rewritten;
 * warm: already cached) and the p99 of the small requests running meanwhile: a proxy that rewrites on its
 * only thread stalls every other viewer for as long as the rewrite takes.
 */
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { runLoad, type LoadResult } from './load.js';
import { median } from './stats.js';
import type { Subject } from './subjects.js';

export interface BigPlaylistRun {
  coldMs: number;
  warmMs: number[];
  warmMedianMs: number;
  bodyBytes: number;
  status: number;
  /** The small-playlist load that ran at the same time. */
  small: LoadResult;
}

async function timedGet(url: string): Promise<{ ms: number; bytes: number; status: number }> {
  const start = performance.now();
  const res = await request(url, { headersTimeout: 120_000, bodyTimeout: 120_000 });
  let bytes = 0;
  for await (const chunk of res.body) bytes += (chunk as Buffer).length;
  return { ms: performance.now() - start, bytes, status: res.statusCode };
}

let coldCounter = 0;

/**
 * Small-playlist load for `seconds`; meanwhile one cold request for the big playlist, then warm ones back
 * to back (at least `minWarm`) until the load ends.
 */
export async function bigPlaylistRun(
  subject: Subject,
  paths: { big: string; small: string },
  opts: { seconds: number; connections: number; minWarm: number },
): Promise<BigPlaylistRun> {
  const tag = `cold=${Date.now().toString(36)}-${++coldCounter}`;
  const smallLoad = runLoad({ url: subject.url(paths.small), seconds: opts.seconds, connections: opts.connections });
  let done = false;
  void smallLoad.finally(() => { done = true; });
  // Let the small load reach steady state before the big request lands in the middle of it.
  await new Promise((r) => setTimeout(r, 300));
  const cold = await timedGet(subject.url(paths.big, tag));
  const warm: number[] = [];
  while (!done || warm.length < opts.minWarm) {
    const w = await timedGet(subject.url(paths.big));
    if (w.status !== 200) throw new Error(`${subject.name}: 100k playlist answered ${w.status}`);
    warm.push(w.ms);
  }
  const small = await smallLoad;
  return { coldMs: cold.ms, warmMs: warm, warmMedianMs: median(warm), bodyBytes: cold.bytes, status: cold.status, small };
}
