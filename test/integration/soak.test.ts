import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { Agent, request } from 'undici';
import { startLiveStream, type LiveStream } from '../support/live-stream.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { hlsdUrl, startProxyProcess, type ProxyProcess } from '../support/proxy.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';

/**
 * Soak (issue #3): 500 simulated viewers watch a live ffmpeg stream through 3 proxy processes sharing one
 * redis-server. Each viewer behaves like a player: loads the multivariant playlist once, then reloads the
 * media playlist every target duration (RFC 8216 §6.3.4) and fetches the newest segment. Expected: zero
 * failed requests, and the upstream sees each playlist no more often than its freshness allows — the media
 * playlist at most once per half target duration (plus a small constant), whatever the viewer count.
 *
 * SOAK_SECONDS sets the duration (default 20; `npm run test:soak` uses 120). Client concurrency is bounded
 * (one undici Agent, a fixed number of connections per proxy) so a 2-core machine copes; viewers that fall
 * behind skip a reload rather than pile up, and every loop ends at the deadline by itself.
 */

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 20);
const VIEWERS = 500;
const PROXIES = 3;
const CONNECTIONS_PER_PROXY = 24;
/** Start-up and the last in-flight refresh: fetches not attributable to the steady state. */
const SLACK_FETCHES = 3;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The last URI line of a playlist (RFC 8216 §4.1: lines not starting with # are URIs). */
function lastUri(text: string): string | undefined {
  return text.split(/\r?\n/).filter((l) => l !== '' && !l.startsWith('#')).at(-1);
}

interface Totals {
  cycles: number;
  playlists: number;
  segments: number;
  segmentBytes: number;
  skipped: number;
  errors: string[];
  cache: Record<string, number>;
}

describe(`soak: ${VIEWERS} viewers, ${PROXIES} proxy processes sharing redis, live ffmpeg stream, ${SOAK_SECONDS} s`, function () {
  this.timeout((SOAK_SECONDS + 120) * 1000);
  let stream: LiveStream;
  let origin: Origin;
  let redis: RedisServer;
  let proxies: ProxyProcess[] = [];
  const agent = new Agent({ connections: CONNECTIONS_PER_PROXY, keepAliveTimeout: 10_000 });

  before(async function () {
    this.timeout(90_000);
    [stream, redis] = await Promise.all([
      startLiveStream({ segmentSeconds: 1, listSize: 5, minSegments: 3, maxSeconds: SOAK_SECONDS + 120 }),
      startRedis(),
    ]);
    // A multivariant playlist in front of ffmpeg's media playlist, as a player would start from.
    await writeFile(path.join(stream.root, 'master.m3u8'), `#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=250000\n${stream.playlistPath}\n`);
    origin = await startOrigin({ root: stream.root });
    const args = ['--redis', redis.url, '--log-level', 'warn', '--shutdown-timeout', '2000'];
    proxies = await Promise.all(Array.from({ length: PROXIES }, () => startProxyProcess(args)));
    for (const p of proxies) {
      for (let tries = 0; ; tries++) {
        const res = await request(`${p.url}/readyz`, { dispatcher: agent });
        if ((await res.body.text()) === 'ok\n') break;
        if (tries > 400) throw new Error('proxy never reached redis');
        await sleep(25);
      }
    }
  });
  after(async () => {
    await agent.close();
    await Promise.all(proxies.map((p) => p.stop()));
    await origin?.close();
    await redis?.stop();
    await stream?.stop();
  });

  async function viewer(id: number, totals: Totals, deadline: number): Promise<void> {
    const proxy = proxies[id % PROXIES]!;
    const targetMs = stream.targetDuration * 1000;
    const fail = (what: string): void => void totals.errors.push(`viewer ${id}: ${what}`);
    // Arrivals spread over one target duration, as real audiences are.
    await sleep((id / VIEWERS) * targetMs);
    try {
      const master = await request(hlsdUrl(proxy.url, `${origin.url}/master.m3u8`), { dispatcher: agent });
      const masterText = await master.body.text();
      const mediaUrl = lastUri(masterText);
      if (master.statusCode !== 200 || !mediaUrl) return fail(`master ${master.statusCode}`);
      for (let next = performance.now(); performance.now() < deadline; ) {
        const pl = await request(mediaUrl, { dispatcher: agent });
        const text = await pl.body.text();
        totals.playlists++;
        const cache = String(pl.headers['x-hls-sidecar-cache'] ?? '');
        totals.cache[cache] = (totals.cache[cache] ?? 0) + 1;
        const segUrl = lastUri(text);
        if (pl.statusCode !== 200 || !segUrl) return fail(`playlist ${pl.statusCode}`);
        const seg = await request(segUrl, { dispatcher: agent });
        const bytes = Buffer.from(await seg.body.arrayBuffer());
        // MPEG-TS: whole 188-byte packets, each starting with the sync byte 0x47 (ISO/IEC 13818-1).
        if (seg.statusCode !== 200 || bytes.length === 0 || bytes.length % 188 !== 0 || bytes[0] !== 0x47) {
          return fail(`segment ${seg.statusCode}, ${bytes.length} bytes`);
        }
        totals.segments++;
        totals.segmentBytes += bytes.length;
        totals.cycles++;
        next += targetMs;
        const now = performance.now();
        if (next < now) {
          // Behind schedule: skip to the next reload slot rather than burst to catch up.
          totals.skipped += Math.ceil((now - next) / targetMs);
          next += Math.ceil((now - next) / targetMs) * targetMs;
        }
        await sleep(Math.min(next, deadline) - now);
      }
    } catch (err) {
      fail(String(err));
    }
  }

  it('zero failed requests; upstream playlist fetches bounded by freshness, not by viewers', async () => {
    const mediaPath = `/${stream.playlistPath}`;
    const mediaBefore = origin.countRequests(mediaPath);
    const masterBefore = origin.countRequests('/master.m3u8');
    const totals: Totals = { cycles: 0, playlists: 0, segments: 0, segmentBytes: 0, skipped: 0, errors: [], cache: {} };
    const started = performance.now();
    const deadline = started + SOAK_SECONDS * 1000;
    await Promise.all(Array.from({ length: VIEWERS }, (_, id) => viewer(id, totals, deadline)));
    const seconds = (performance.now() - started) / 1000;

    const mediaFetches = origin.countRequests(mediaPath) - mediaBefore;
    const masterFetches = origin.countRequests('/master.m3u8') - masterBefore;
    const halfTarget = stream.targetDuration / 2;
    const mediaBound = Math.ceil(seconds / halfTarget) + SLACK_FETCHES;
    const masterBound = Math.ceil(seconds / 10) + SLACK_FETCHES; // --cache-master-ttl default 10 s
    const summary = {
      seconds: Math.round(seconds * 10) / 10,
      viewers: VIEWERS,
      cycles: totals.cycles,
      playlistRequests: totals.playlists,
      segmentRequests: totals.segments,
      segmentMiB: Math.round(totals.segmentBytes / 1048576),
      skippedReloads: totals.skipped,
      cacheResults: totals.cache,
      upstreamMediaFetches: mediaFetches,
      mediaBound,
      upstreamMasterFetches: masterFetches,
      masterBound,
      errors: totals.errors.length,
    };
    console.log(`      soak: ${JSON.stringify(summary)}`);

    expect(totals.errors.slice(0, 10), `${totals.errors.length} errors`).to.deep.equal([]);
    // Every viewer got going: at least one full cycle each.
    expect(totals.cycles).to.be.at.least(VIEWERS);
    expect(mediaFetches, 'upstream media playlist fetches').to.be.within(1, mediaBound);
    expect(masterFetches, 'upstream multivariant playlist fetches').to.be.within(1, masterBound);
  });
});
