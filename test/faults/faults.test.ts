/**
 * Faults across real network hops (issue #15), one at a time, each under load and healed while the load
 * runs: 200 live viewers through the front (each reloads the media playlist once per target duration and
 * fetches every new segment, RFC 8216 §6.3.4) and hls.js in headless Chromium as one real viewer. Each
 * fault is a row of the table printed at the end; a missed target fails its row.
 *
 * Targets per row: no failed viewer request; playlist p99 ≤ 1 s during the fault, and no viewer request
 * slower than 5 s (never a hang: a p99 hides a handful held for the whole fault); the origin asked for the
 * live playlist at most 3 times per half target duration during the fault (one per replica) and at most
 * once after; recovered ≤ 5 s after the heal, with no restart; upstream sockets and RSS bounded (no replica
 * holds more sockets to the origin than there are viewers, or many more at the end than before; no
 * replica's RSS grows by more than RSS_GROWTH_MIB). Origin down: stale playlists
 * (X-HLS-Sidecar-Cache: STALE) for the stale-if-error window, then clean 502/504, never a hang.
 *
 * FAULT_SECONDS (default 8) sets every fault window; the issue's long windows: FAULT_SECONDS=20 for the
 * Redis and replica faults, and 30 for the origin ones, with FAULT_LONG=1.
 */
import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { percentile, startViewers, type ViewerEvent, type ViewerLoad } from '../support/viewers.js';
import { REPLICAS, SEGMENT_SECONDS, startFaultStage, type FaultStage } from './stage.js';

const FAULT_MS = Number(process.env.FAULT_SECONDS ?? 8) * 1000;
const ORIGIN_FAULT_MS = process.env.FAULT_LONG === '1' ? 30_000 : FAULT_MS;
/**
 * Origin down lasts past the replicas' --stale-if-error, so the row sees both phases. The window must
 * outlast the first failed refresh (the replicas' 5 s connect timeout) for the failure to be known when it
 * ends, as with the default 30 s window.
 */
const ORIGIN_DOWN_MS = process.env.FAULT_LONG === '1' ? 30_000 : Math.max(FAULT_MS, 14_000);
const STALE_MS = ORIGIN_DOWN_MS - 5000;
const VIEWERS = Number(process.env.FAULT_VIEWERS ?? 200);
const HALF_TD_MS = (SEGMENT_SECONDS * 1000) / 2;
/** Upstream sockets a replica may hold at a row's end beyond those it held before (idle keep-alive ones). */
const SOCKET_SLACK = 16;
/** The longest a viewer request may take in any row: above a lossy origin's retransmits, below a hang. */
const SLOWEST_MS = 5000;
/** RSS a replica may gain over a row: far above a fault's working set, far below a leak's growth. */
const RSS_GROWTH_MIB = 128;

interface Row {
  fault: string;
  failed: number;
  requests: number;
  p99: number;
  /** The slowest viewer request of the row (any kind, any outcome but the row's expected errors). */
  slowest: number;
  /** Origin playlist fetches per half target duration: the rate over the phase, and its busiest window. */
  during: number;
  duringMax: number;
  after: number;
  afterMax: number;
  recoveryMs: number;
  /** The largest of any replica, sampled every 500 ms from the injection to the row's end, and just before. */
  usage: { rssMiB: number; sockets: number; rssBeforeMiB: number; socketsBefore: number; socketsEnd: number };
  note: string;
  /** The first unexpected failures of the row, for the assertion message. */
  failures: string[];
}

/**
 * Origin playlist fetches in [from, to) per half target duration, less the one a window's edge can add: a
 * replica refetching once per TTL (about one half target duration) fetches n + 1 times in n windows.
 */
function ratePerHalfTd(times: number[], from: number, to: number, perWindow: number): number {
  if (!(to > from)) return NaN;
  const windows = (to - from) / HALF_TD_MS;
  return Math.max(0, times.filter((x) => x >= from && x < to).length - perWindow) / windows;
}

/** The most origin playlist fetches in any half-target-duration window that starts in [from, to). */
function maxPerHalfTd(times: number[], from: number, to: number): number {
  let max = 0;
  for (const t of times.filter((x) => x >= from && x < to)) {
    max = Math.max(max, times.filter((x) => x >= t && x < t + HALF_TD_MS && x < to + HALF_TD_MS).length);
  }
  return max;
}

describe('faults across real network hops (issue #15)', function () {
  this.timeout(600_000);
  let stage: FaultStage;
  let viewers: ViewerLoad;
  let browser: Browser;
  let page: Page;
  const events: ViewerEvent[] = [];
  const rows: Row[] = [];

  before(async function () {
    stage = await startFaultStage({
      replicaArgs: ['--stale-if-error', String(STALE_MS)], originDelayMs: 300, originJitterMs: 100, sentinelDownAfterMs: FAULT_MS + 4000,
    });
    viewers = startViewers({
      playlistUrl: stage.livePlaylistUrl, viewers: VIEWERS, dispatcher: stage.dispatcher,
      reloadMs: SEGMENT_SECONDS * 1000, maxMs: 580_000, requestTimeoutMs: 15_000, onEvent: (e) => events.push(e),
    });
    browser = await launchChromium({ selfSigned: true });
    page = await browser.newPage();
    const url = `${stage.publicBase}/_/player?url=${encodeURIComponent(stage.livePlaylistUrl)}`;
    expect((await page.goto(url))?.status()).to.equal(200);
    await page.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).currentTime > 1, undefined, { timeout: 60_000 });
    await delay(2 * SEGMENT_SECONDS * 1000);
  });

  after(async () => {
    await viewers?.stop();
    await browser?.close();
    await stage?.dispatcher.close();
    await stage?.close();
    if (rows.length === 0) return;
    const table = [
      `FAULT_SECONDS=${FAULT_MS / 1000}: faults of ${FAULT_MS / 1000} s, slow origin ${ORIGIN_FAULT_MS / 1000} s, origin down ${ORIGIN_DOWN_MS / 1000} s; ${VIEWERS} viewers, ${SEGMENT_SECONDS} s segments, stale-if-error ${STALE_MS / 1000} s`,
      '',
      '| fault | viewer requests that failed | playlist p99 during the fault; slowest request | origin playlist fetches per half target duration, rate (busiest window): during / after | recovery after heal | replica peak RSS; upstream sockets peak (before → end) | note |',
      '|---|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.fault} | ${r.failed} of ${r.requests} | ${r.p99.toFixed(0)} ms; ${(r.slowest / 1000).toFixed(1)} s | ${r.during.toFixed(1)} (${r.duringMax}) / ${r.after.toFixed(1)} (${r.afterMax}) | ${(r.recoveryMs / 1000).toFixed(1)} s | ${r.usage.rssMiB.toFixed(0)} MiB (${r.usage.rssBeforeMiB.toFixed(0)} before); ${r.usage.sockets} (${r.usage.socketsBefore} → ${r.usage.socketsEnd}) | ${r.note} |`),
    ].join('\n');
    console.log(`\n${table}\n`);
    if (process.env.FAULTS_REPORT) await writeFile(process.env.FAULTS_REPORT, `${table}\n`);
  });

  /** Every replica shares the cache again: readyz ok, and a playlist one fetched is a hit at the others. */
  const allShared = async () => {
    if (!(await allReady())) return false;
    const probe = `http://${stage.host('origin').address}/vod/hi/index.m3u8?probe=${Date.now()}`;
    const tags: string[] = [];
    for (const n of REPLICAS) {
      const r = await stage.fetchDirect(n, probe).catch(() => 'error');
      tags.push(r);
    }
    return tags[0] === 'MISS' && tags.slice(1).every((t) => t === 'HIT');
  };
  const allReady = async () => (await Promise.all(REPLICAS.map((n) => stage.readyz(n).catch(() => 'down')))).every((s) => s === 'ok');

  interface Fault {
    name: string;
    windowMs: number;
    inject(): Promise<void>;
    heal(): Promise<void>;
    /** Polled after the heal until true. */
    recovered(healedAt: number): Promise<boolean>;
    /** Failures that are the row's expected behaviour (origin down past the stale window). */
    expected?(e: ViewerEvent, injectedAt: number): boolean;
    note?(during: ViewerEvent[], injectedAt: number): string;
  }

  async function run(f: Fault): Promise<Row> {
    const before = await usageNow();
    const sampler = sampleUsage();
    const t0 = Date.now();
    await f.inject();
    await delay(f.windowMs);
    const t1 = Date.now();
    await f.heal();
    let t2 = t1;
    // Recovered: the row's own condition, and the origin back to at most one playlist fetch in the last
    // half target duration (the replicas share again).
    const originCalm = async () => {
      const now = Date.now();
      return (await stage.originPlaylistFetches()).filter((x) => x.at > now - HALF_TD_MS).length <= 1;
    };
    for (;;) {
      if ((await f.recovered(t1)) && (await originCalm())) { t2 = Date.now(); break; }
      if (Date.now() - t1 > 30_000) { t2 = Number.POSITIVE_INFINITY; break; }
      await delay(100);
    }
    const afterEnd = Math.min(Date.now(), t2) + 4 * HALF_TD_MS;
    await delay(Math.max(0, afterEnd - Date.now()));
    const peak = await sampler.stop();
    const end = await usageNow();
    const window = events.filter((e) => e.at >= t0 && e.at < afterEnd);
    const fetchLog = await stage.originPlaylistFetches();
    const fetches = fetchLog.map((f) => f.at);
    const failures = window.filter((e) => e.error !== undefined && !(f.expected?.(e, t0) ?? false));
    const row: Row = {
      fault: f.name,
      failed: failures.length,
      requests: window.length,
      p99: percentile(window.filter((e) => e.kind === 'playlist' && e.at < t1).map((e) => e.ms), 99),
      slowest: Math.max(0, ...window.filter((e) => !(f.expected?.(e, t0) ?? false)).map((e) => e.ms)),
      during: ratePerHalfTd(fetches, t0 + HALF_TD_MS, t1, 3),
      duringMax: maxPerHalfTd(fetches, t0 + HALF_TD_MS, t1),
      after: Number.isFinite(t2) ? ratePerHalfTd(fetches, t2, afterEnd, 1) : NaN,
      afterMax: Number.isFinite(t2) ? maxPerHalfTd(fetches, t2 + HALF_TD_MS, afterEnd - HALF_TD_MS) : NaN,
      recoveryMs: t2 - t1,
      usage: { rssMiB: peak.rssMiB, sockets: peak.sockets, rssBeforeMiB: before.rssMiB, socketsBefore: before.sockets, socketsEnd: end.sockets },
      note: f.note?.(window, t0) ?? '',
      failures: failures.slice(0, 3).map((e) => `${e.kind} ${e.status} ${e.error} after ${e.ms.toFixed(0)} ms`),
    };
    rows.push(row);
    if (process.env.FAULT_DEBUG === '1') {
      const slow = window.filter((e) => e.kind === 'playlist').sort((a, b) => b.ms - a.ms).slice(0, 8);
      console.log(`      [${f.name}] slowest playlists: ${slow.map((e) => `+${e.at - t0}ms ${e.ms.toFixed(0)}ms ${e.status} ${e.cache ?? e.error ?? ''}`).join(', ')}`);
      console.log(`      [${f.name}] origin fetches: ${fetchLog.filter((x) => x.at >= t0 && x.at < afterEnd).map((x) => `+${x.at - t0}:${x.status}:${x.by}`).join(' ')}`);
      console.log(`      [${f.name}] failures: ${failures.slice(0, 6).map((e) => `+${e.at - t0}ms ${e.kind} ${e.status} ${e.error} ${e.ms.toFixed(0)}ms`).join(', ')}`);
      for (const n of REPLICAS) {
        const lines = stage.replicas[n].process.stdout().split('\n').filter((l) => /"level":(40|50|60)/.test(l) && Number(/"time":(\d+)/.exec(l)?.[1]) >= t0);
        if (lines.length) console.log(`      [${f.name}] ${n}: ${lines.length} warnings, last: ${lines.slice(-3).join(' | ').slice(0, 900)}`);
      }
    }
    return row;
  }

  /** The largest RSS and upstream socket count of any replica now (a replica being restarted counts 0). */
  async function usageNow(): Promise<{ rssMiB: number; sockets: number }> {
    const all = await Promise.all(REPLICAS.map((n) => stage.usage(n)));
    const max = (xs: number[]) => Math.max(0, ...xs.filter(Number.isFinite));
    return { rssMiB: max(all.map((u) => u.rssMiB)), sockets: max(all.map((u) => u.upstreamSockets)) };
  }
  function sampleUsage(): { stop(): Promise<{ rssMiB: number; sockets: number }> } {
    const peak = { rssMiB: 0, sockets: 0 };
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        const u = await usageNow();
        peak.rssMiB = Math.max(peak.rssMiB, u.rssMiB);
        peak.sockets = Math.max(peak.sockets, u.sockets);
        await delay(500);
      }
    })();
    return { async stop() { stopped = true; await loop; return peak; } };
  }

  type Target = 'failed' | 'p99' | 'slowest' | 'during' | 'after' | 'recovery' | 'sockets' | 'rss';
  /**
   * Fails the row on every missed target except those in `known`: limits found by this harness, explained
   * there and in docs/deploy.md, each still bounded by what `known` asserts instead. A known miss is
   * printed in the table's note, never hidden.
   */
  function expectTargets(row: Row, known: Partial<Record<Target, { why: string; holds: boolean }>> = {}): void {
    const u = row.usage;
    const misses: Array<[Target, string | false]> = [
      ['failed', row.failed > 0 && `${row.failed} failed requests ${row.failures.join('; ')}`],
      ['p99', !(row.p99 <= 1000) && `playlist p99 ${row.p99.toFixed(0)} ms > 1 s`],
      // "Never a hang": a p99 hides a few requests held for the whole fault (nginx's kept-alive connections
      // to a vanished replica host held 7 for 8-20 s). No viewer request may take longer than this.
      ['slowest', !(row.slowest <= SLOWEST_MS) && `slowest viewer request ${row.slowest.toFixed(0)} ms > ${SLOWEST_MS} ms`],
      // A rate, as the target is stated; the busiest window is printed beside it (a replica that goes from
      // fetching alone back to sharing may fetch twice within one window of a transition).
      ['during', row.during > 3 && `${row.during.toFixed(1)} origin fetches per half target duration during the fault`],
      ['after', !(row.after <= 1) && `${row.after.toFixed(1)} origin fetches per half target duration after it`],
      ['recovery', !(row.recoveryMs <= 5000) && `recovery ${row.recoveryMs} ms`],
      // "Upstream sockets stay bounded; RSS stays bounded" (issue #15): no more sockets to the origin than
      // viewers at any time, back to about where they were once healed, and no unbounded memory growth.
      ['sockets', !(u.sockets <= VIEWERS && u.socketsEnd <= u.socketsBefore + SOCKET_SLACK) &&
        `upstream sockets: peak ${u.sockets}, ${u.socketsBefore} before, ${u.socketsEnd} at the end`],
      ['rss', !(u.rssMiB <= u.rssBeforeMiB + RSS_GROWTH_MIB) && `replica RSS ${u.rssMiB.toFixed(0)} MiB, ${u.rssBeforeMiB.toFixed(0)} before`],
    ];
    const unexpected: string[] = [];
    for (const [target, miss] of misses) {
      if (!miss) continue;
      const k = known[target];
      if (!k) unexpected.push(miss);
      else {
        row.note = `${row.note ? `${row.note}; ` : ''}known: ${miss} (${k.why})`;
        if (!k.holds) unexpected.push(`${miss}, and its known bound does not hold either (${k.why})`);
      }
    }
    expect(unexpected, row.fault).to.deep.equal([]);
  }
  const servedSince = async (name: (typeof REPLICAS)[number], since: number) => (await stage.served(name).catch(() => since)) > since;

  it('Redis blackhole: every packet to and from the primary dropped', async () => {
    const row = await run({
      name: 'Redis blackhole',
      windowMs: FAULT_MS,
      inject: () => stage.host('redis1').blackhole(true),
      heal: () => stage.host('redis1').blackhole(false),
      recovered: allShared,
    });
    expectTargets(row);
  });

  it('replica host lost: its link down, then back', async () => {
    let servedAtHeal = 0;
    const row = await run({
      name: 'replica host lost (r2)',
      windowMs: FAULT_MS,
      inject: () => stage.replicas.r2.host.setLink(false),
      heal: async () => { await stage.replicas.r2.host.setLink(true); servedAtHeal = await stage.served('r2').catch(() => 0); },
      recovered: () => servedSince('r2', servedAtHeal),
    });
    expectTargets(row);
  });

  it('replica process killed (SIGKILL) and restarted', async () => {
    const row = await run({
      name: 'replica killed (r3)',
      windowMs: FAULT_MS,
      inject: () => stage.restartReplica('r3', true),
      heal: () => stage.restartReplica('r3', false),
      recovered: () => servedSince('r3', 0),
    });
    expectTargets(row);
  });

  it('slow, lossy origin: 300 ± 100 ms delay and 2 % loss', async () => {
    const origin = stage.host('origin');
    const row = await run({
      name: 'slow, lossy origin',
      windowMs: ORIGIN_FAULT_MS,
      inject: async () => { stage.originDelay(true); await origin.loss(2); },
      heal: async () => { stage.originDelay(false); await origin.loss(0); },
      recovered: async (healedAt) => {
        const recent = events.filter((e) => e.kind === 'playlist' && e.at > healedAt + 500);
        return recent.length > VIEWERS / 2 && percentile(recent.map((e) => e.ms), 99) < 250;
      },
    });
    expectTargets(row);
  });

  it('origin down: link down; stale playlists for the stale-if-error window, then clean 502/504', async () => {
    const origin = stage.host('origin');
    const row = await run({
      name: 'origin down',
      windowMs: ORIGIN_DOWN_MS,
      inject: () => origin.setLink(false),
      heal: () => origin.setLink(true),
      recovered: async (healedAt) => events.some((e) => e.kind === 'playlist' && e.at > healedAt && e.status === 200 && e.cache !== 'STALE'),
      // Past the window a clean error is the contract: 502/504 in bounded time.
      // The window ends STALE_MS after the last good copy's expiry, which is at the earliest at injection.
      expected: (e, injectedAt) => e.at >= injectedAt + STALE_MS && (e.status === 502 || e.status === 504) && e.ms < 15_000,
      note: (during) => {
        const stale = during.filter((e) => e.cache === 'STALE').length;
        const clean = during.filter((e) => e.status === 502 || e.status === 504);
        return `${stale} STALE, ${clean.length} clean 502/504 (slowest ${clean.length ? Math.max(...clean.map((e) => e.ms)).toFixed(0) : 0} ms)`;
      },
    });
    expectTargets(row);
  });

  it('Sentinel failover: the primary\'s host cut off for good, the replica promoted', async () => {
    const [redis1, redis2] = [stage.host('redis1'), stage.host('redis2')];
    expect(await stage.primary()).to.equal(redis1.address);
    const row = await run({
      name: 'Sentinel failover',
      // The fault lasts until Sentinel has promoted the replica (down-after, then the election): its
      // "heal" is the promotion; recovery is every replica sharing the new primary again.
      windowMs: 0,
      inject: async () => {
        await redis1.setLink(false);
        const deadline = Date.now() + FAULT_MS + 30_000;
        while ((await stage.primary().catch(() => '')) !== redis2.address && Date.now() < deadline) await delay(200);
      },
      heal: async () => undefined,
      recovered: allShared,
      note: () => `promoted ${redis2.address}`,
    });
    expect(await stage.primary()).to.equal(redis2.address);
    expectTargets(row);
  });

  it('hls.js kept playing through every fault', async () => {
    const state = () => page.evaluate(() => {
      const v = document.getElementById('video') as HTMLVideoElement;
      return { t: v.currentTime, paused: v.paused, readyState: v.readyState, errors: document.getElementById('errors')!.textContent ?? '' };
    });
    const first = await state();
    // Past a long outage hls.js may be backing off its retries: give it 30 s to move 2 segments on.
    const deadline = Date.now() + 30_000;
    let last = first;
    while (last.t <= first.t + 2 * SEGMENT_SECONDS && Date.now() < deadline) {
      await delay(1000);
      last = await state();
    }
    console.log(`      hls.js: currentTime ${first.t.toFixed(1)} -> ${last.t.toFixed(1)} s, player errors: ${last.errors.slice(0, 200) || 'none'}`);
    expect(last.t, JSON.stringify(last)).to.be.greaterThan(first.t + 2 * SEGMENT_SECONDS);
  });
});
