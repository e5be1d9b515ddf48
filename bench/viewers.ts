/**
 * Part 4 (and the RSS peak of part 5): N simulated live viewers, each on its own keep-alive connection,
 * reloading the live media playlist once per target duration (RFC 8216 §6.3.4: "the client MUST
 * periodically reload the Media Playlist ... the initial minimum reload delay is the target duration"),
 * with start times spread over one target duration as real audiences are.
 *
 * The origin's access log counts the playlist fetches that reached it. A caching proxy should fetch at most
 * once per playlist per half target duration (its freshness, see src/cache/freshness.ts), whatever N is.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'undici';
import { linesSince, logMark } from './nginx-servers.js';
import { probeOf } from './measured-load.js';
import { cpuSeconds, percentile, sampleRssGroups } from './stats.js';
import type { Subject } from './subjects.js';

export interface ViewerRun {
  viewers: number;
  seconds: number;
  targetSeconds: number;
  requests: number;
  errors: number;
  errorKinds: Record<string, number>;
  p50: number;
  p99: number;
  max: number;
  /** Live-playlist requests the origin saw during the run. */
  originFetches: number;
  /** One fetch per half target duration, plus the first. */
  allowedFetches: number;
  /** Per process group (each proxy process; an nginx's master and workers summed). */
  rssPeakMB: number[];
  rssEndMB: number[];
  /** CPU of the subject's processes per playlist request, µs. */
  cpuUsPerReq: number;
}

export interface ViewerOptions {
  viewers: number;
  seconds: number;
  targetSeconds: number;
  livePath: string;
  liveLog: string;
}

export async function runViewers(subject: Subject, opts: ViewerOptions): Promise<ViewerRun> {
  const url = new URL(subject.url(opts.livePath));
  const path = `${url.pathname}${url.search}`;
  const periodMs = opts.targetSeconds * 1000;
  const clients = Array.from({ length: opts.viewers }, () => new Client(url.origin, { pipelining: 1, keepAliveTimeout: 60_000 }));
  const latencies: number[] = [];
  const errorKinds: Record<string, number> = {};
  let requests = 0;
  const fail = (kind: string): void => { errorKinds[kind] = (errorKinds[kind] ?? 0) + 1; };

  const probe = probeOf(subject);
  const rss = sampleRssGroups(probe.rssGroups, 250);
  const cpu0 = cpuSeconds(probe.cpuPids);
  const mark = await logMark(opts.liveLog);
  const start = performance.now();
  const end = start + opts.seconds * 1000;

  async function viewer(client: Client, index: number): Promise<void> {
    // Evenly spread first requests (deterministic, so runs compare), then one reload per target duration.
    await delay((index / opts.viewers) * periodMs);
    while (performance.now() < end) {
      const t0 = performance.now();
      requests++;
      try {
        const res = await client.request({ path, method: 'GET', headersTimeout: 10_000, bodyTimeout: 10_000 });
        const text = await res.body.text();
        if (res.statusCode !== 200) fail(`status ${res.statusCode}`);
        else if (!text.startsWith('#EXTM3U')) fail('not a playlist');
        else latencies.push(performance.now() - t0);
      } catch (e) {
        fail((e as { code?: string }).code ?? (e as Error).name);
      }
      const wait = t0 + periodMs - performance.now();
      if (wait > 0) await delay(Math.min(wait, Math.max(0, end - performance.now()) + 1));
    }
  }

  await Promise.all(clients.map((c, i) => viewer(c, i)));
  const seconds = (performance.now() - start) / 1000;
  const cpu = cpuSeconds(probe.cpuPids) - cpu0;
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await delay(200); // the last origin log lines
  const originFetches = (await linesSince(opts.liveLog, mark)).filter((l) => l.includes('.m3u8')).length;
  const mem = rss.stop();
  latencies.sort((a, b) => a - b);
  const errors = Object.values(errorKinds).reduce((a, b) => a + b, 0);
  return {
    viewers: opts.viewers,
    seconds,
    targetSeconds: opts.targetSeconds,
    requests,
    errors,
    errorKinds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? NaN,
    originFetches,
    allowedFetches: Math.ceil(seconds / (opts.targetSeconds / 2)) + 1,
    rssPeakMB: mem.peakMB,
    rssEndMB: mem.lastMB,
    cpuUsPerReq: requests > 0 ? (cpu * 1e6) / requests : NaN,
  };
}
