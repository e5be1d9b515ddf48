import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { decodeRecord } from '../../src/cache/record-codec.js';
import { getFixtures, type Fixtures } from '../support/hls-fixtures.js';
import { startLiveStream, playlistMediaSequence, type LiveStream } from '../support/live-stream.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { hlsdUrl, OFFLOAD_STAGE, startProxy, type RunningProxy } from '../support/proxy.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Issue #3 end to end through the real proxy (in-process, so a fake clock can move time without
 * sleeping): coalescing, truthful Cache-Control/Age, stale-if-error, freshness per playlist type, and no
 * cache poisoning from forwarded headers. Upstream fetches are counted on the origin's own request log.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const live = (target: number, seq = 1): string =>
  `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:${target}\n#EXT-X-MEDIA-SEQUENCE:${seq}\n` +
  `#EXTINF:${target},\nseg${seq}.ts\n#EXTINF:${target},\nseg${seq + 1}.ts\n`;
const LLHLS = '#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:4\n#EXT-X-PART-INF:PART-TARGET=1.0\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:4,\ns1.mp4\n#EXT-X-PART:DURATION=1,URI="p.mp4"\n';
const MULTIVARIANT = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow.m3u8\n';
const VOD = `${live(6)}#EXT-X-ENDLIST\n`;

function sendPlaylist(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Every URI a client would request: URI lines and URI="..." attributes (RFC 8216 §4.1, §4.2). */
function urisOf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '') continue;
    if (!line.startsWith('#')) out.push(line);
    for (const m of line.matchAll(/URI="([^"]*)"/g)) out.push(m[1]!);
  }
  return out;
}

interface Reply { status: number; body: string; cache: string; age: string; cacheControl: string }

async function get(url: string, opts: { headers?: Record<string, string>; dispatcher?: Agent } = {}): Promise<Reply> {
  const res = await request(url, { headers: opts.headers ?? {}, ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}) });
  const body = await res.body.text();
  const h = (n: string): string => String(res.headers[n] ?? '');
  return { status: res.statusCode, body, cache: h('x-hls-sidecar-cache'), age: h('age'), cacheControl: h('cache-control') };
}

describe('shared manifest cache through the real proxy (issue #3)', function () {
  this.timeout(30_000);
  let fixtures: Fixtures;
  let origin: Origin;
  let redis: RedisServer;
  let raw: Redis;
  const proxies: RunningProxy[] = [];
  const agents: Agent[] = [];
  let seq = 0;

  before(async function () {
    this.timeout(60_000);
    [fixtures, redis] = await Promise.all([getFixtures(), startRedis()]);
    origin = await startOrigin({ root: fixtures.root });
    raw = new Redis(redis.url);
  });
  after(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    await Promise.all(agents.splice(0).map((a) => a.close()));
    raw?.disconnect();
    await origin?.close();
    await redis?.stop();
  });
  afterEach(() => origin.clearOverrides());

  const agent = (options: ConstructorParameters<typeof Agent>[0] = {}): Agent => {
    const a = new Agent(options);
    agents.push(a);
    return a;
  };

  type Backend = 'memory' | 'redis';
  async function proxyFor(backend: Backend, options: Record<string, unknown> = {}, clock?: () => number): Promise<RunningProxy & { prefix: string }> {
    const prefix = `through${++seq}:`;
    const redisOptions = backend === 'redis' ? { redis: redis.url, 'redis-key-prefix': prefix } : {};
    const proxy = await startProxy({ ...redisOptions, ...options }, clock ? { clock } : {});
    proxies.push(proxy);
    if (backend === 'redis') await waitFor('redis ready', async () => (await get(`${proxy.url}/readyz`)).body === 'ok\n');
    return { ...proxy, prefix };
  }

  /** A synthetic playlist at a unique origin path; `delayMs` keeps the fetch in the air so requests pile up. */
  function serveSynthetic(body: () => string, delayMs = 0): string {
    const path = `/synthetic/${++seq}/index.m3u8`;
    origin.override(path, async (_req, res) => {
      if (delayMs) await sleep(delayMs);
      sendPlaylist(res, body());
    });
    return path;
  }

  for (const backend of ['memory', 'redis'] as const) {
    it(`200 concurrent viewers of one live playlist cost exactly one upstream fetch (${backend})`, async () => {
      const proxy = await proxyFor(backend);
      // Target duration 10 s: fresh for 5 s, so a slow machine still cannot legitimately refetch mid-burst.
      const path = serveSynthetic(() => live(10), 100);
      const url = hlsdUrl(proxy.url, `${origin.url}${path}`);
      const replies = await Promise.all(Array.from({ length: 200 }, () => get(url)));
      const tally: Record<string, number> = {};
      for (const r of replies) tally[`${r.status} ${r.cache}`] = (tally[`${r.status} ${r.cache}`] ?? 0) + 1;
      expect(origin.countRequests(path), JSON.stringify(tally)).to.equal(1);
      expect(tally['200 MISS']).to.equal(1);
      expect((tally['200 COALESCED'] ?? 0) + (tally['200 HIT'] ?? 0)).to.equal(199);
      expect(new Set(replies.map((r) => r.body)).size).to.equal(1);
    });
  }

  // RFC 9111 §5.1: "The Age header field conveys the sender's estimate of the time since the response was
  // generated or successfully validated at the origin server." max-age is what is left of the freshness.
  for (const backend of ['memory', 'redis'] as const) {
    it(`Cache-Control max-age and Age are truthful, and Age grows on hits (${backend}, fake clock)`, async () => {
      let now = Date.now();
      const proxy = await proxyFor(backend, {}, () => now);
      const path = serveSynthetic(() => live(10));
      const url = hlsdUrl(proxy.url, `${origin.url}${path}`);
      const steps: Array<[advanceMs: number, cache: string, age: number, maxAge: number]> = [
        [0, 'MISS', 0, 5],
        [1500, 'HIT', 1, 3],
        [1700, 'HIT', 3, 1],
        [1799, 'HIT', 4, 0],
        [1, 'MISS', 0, 5], // 5000 ms: half the target duration has passed, the copy is refetched
        [2500, 'HIT', 2, 2],
      ];
      const seen: string[] = [];
      for (const [advance] of steps) {
        now += advance;
        const r = await get(url);
        expect(r.status).to.equal(200);
        seen.push(`${r.cache} age=${r.age} ${r.cacheControl}`);
      }
      expect(seen).to.deep.equal(steps.map(([, cache, age, maxAge]) => `${cache} age=${age} max-age=${maxAge}`));
      expect(origin.countRequests(path)).to.equal(2);
    });
  }

  const kinds: Array<[kind: string, body: string, ttlMs: number]> = [
    ['live (half of EXT-X-TARGETDURATION:4, RFC 8216 §6.3.4)', live(4), 2000],
    ['LL-HLS (half of PART-TARGET=1.0, RFC 8216bis §4.4.3.7)', LLHLS, 500],
    ['multivariant (--cache-master-ttl)', MULTIVARIANT, 10_000],
    ['VOD with EXT-X-ENDLIST (--cache-vod-ttl)', VOD, 600_000],
  ];
  for (const [kind, body, ttlMs] of kinds) {
    it(`freshness per playlist type through the proxy: ${kind} is fresh for ${ttlMs} ms (redis, fake clock)`, async () => {
      let now = Date.now();
      const proxy = await proxyFor('redis', {}, () => now);
      const path = serveSynthetic(() => body);
      const url = hlsdUrl(proxy.url, `${origin.url}${path}`);
      const first = await get(url);
      expect([first.cache, first.cacheControl]).to.deep.equal(['MISS', `max-age=${Math.floor(ttlMs / 1000)}`]);
      now += ttlMs - 1;
      expect((await get(url)).cache).to.equal('HIT');
      now += 1;
      expect((await get(url)).cache).to.equal('MISS');
      expect(origin.countRequests(path)).to.equal(2);
    });
  }

  // RFC 5861 §4: stale-if-error applies to errors "that would result in a 500, 502, 503, or 504".
  const outages: Array<[string, (res: ServerResponse) => void]> = [
    ['the upstream answers 500', (res) => void res.writeHead(500, { 'content-length': '4' }).end('boom')],
    ['the upstream closes the connection', (res) => void res.socket?.destroy()],
  ];
  for (const backend of ['memory', 'redis'] as const) {
    for (const [name, fail] of outages) {
      it(`stale-if-error: a recent copy is served with X-HLS-Sidecar-Cache: STALE when ${name} (${backend})`, async () => {
        let now = Date.now();
        const proxy = await proxyFor(backend, { 'stale-if-error': 30_000 }, () => now);
        let down = false;
        const path = `/synthetic/${++seq}/index.m3u8`;
        origin.override(path, (_req, res) => (down ? fail(res) : sendPlaylist(res, live(10))));
        const url = hlsdUrl(proxy.url, `${origin.url}${path}`);
        const fresh = await get(url);
        expect([fresh.status, fresh.cache]).to.deep.equal([200, 'MISS']);
        down = true;
        now += 5000; // expired: the next request must try the upstream
        const stale = await get(url);
        expect([stale.status, stale.cache, stale.age, stale.body]).to.deep.equal([200, 'STALE', '5', fresh.body]);
        const failedFetches = origin.countRequests(path) - 1;
        expect(failedFetches).to.be.greaterThan(0);
        now += 500; // within --cache-error-ttl of the failure: served stale without asking the upstream again
        expect((await get(url)).cache).to.equal('STALE');
        expect(origin.countRequests(path) - 1).to.equal(failedFetches);
        now += 40_000; // past the stale-if-error window: the outage shows
        expect((await get(url)).status).to.equal(502);
      });
    }
  }

  for (const backend of ['memory', 'redis'] as const) {
    it(`no cache poisoning: spoofed forwarded headers from an untrusted peer, then viewers via two trusted bases (${backend})`, async function () {
      // About the peer's own address, which a front server replaces with its own: direct clients only.
      if (OFFLOAD_STAGE) this.skip();
      // Only 127.0.0.1 is a trusted front server; 127.0.0.2 is a client talking to the sidecar directly.
      const proxy = await proxyFor(backend, { 'trust-proxy': ['127.0.0.1'] });
      const front = agent({ localAddress: '127.0.0.1' });
      const stranger = agent({ localAddress: '127.0.0.2' });
      const upstreamPath = `/${fixtures.paths.vodMaster}`;
      const before = origin.countRequests(upstreamPath);
      const url = hlsdUrl(`${proxy.url}/hls-proxy`, `${origin.url}${upstreamPath}`);
      const own = `http://127.0.0.1:${proxy.port}/hls-proxy/`;
      const spoofed = {
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'https',
        'x-forwarded-prefix': '/evil',
        forwarded: 'host=evil.example;proto=https',
      };

      const cases: Array<[who: string, dispatcher: Agent, headers: Record<string, string>, base: string]> = [
        ['attacker, untrusted peer, spoofed forwarded headers', stranger, spoofed, own],
        ['next viewer, direct', stranger, {}, own],
        // A client may name any Host when talking to the sidecar directly; that only shapes its own reply.
        ['attacker, spoofed Host header', stranger, { host: 'evil.example' }, 'http://evil.example/hls-proxy/'],
        ['next viewer after the Host spoof', stranger, {}, own],
        ['viewer A via front server X', front, { 'x-forwarded-host': 'a.example', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/x' }, 'https://a.example/x/'],
        ['viewer B via front server Y', front, { forwarded: 'host="b.example:8443";proto=https', 'x-forwarded-prefix': '/y' }, 'https://b.example:8443/y/'],
        ['viewer A again', front, { 'x-forwarded-host': 'a.example', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/x' }, 'https://a.example/x/'],
        ['next direct viewer', stranger, {}, own],
      ];
      const seen: string[][] = [];
      for (const [who, dispatcher, headers, base] of cases) {
        const r = await get(url, { headers, dispatcher });
        expect(r.status, who).to.equal(200);
        const uris = urisOf(r.body);
        expect(uris.length, who).to.be.greaterThan(2);
        seen.push([who, r.cache, String(uris.every((u) => u.startsWith(base))), String(/evil/.test(r.body))]);
      }
      expect(seen).to.deep.equal(cases.map(([who, , , base], i) => [who, i === 0 ? 'MISS' : 'HIT', 'true', String(/evil/.test(base))]));
      // The upstream text was fetched once and is what every base was rendered from.
      expect(origin.countRequests(upstreamPath) - before).to.equal(1);
      if (backend === 'redis') {
        const keys = await raw.keys(`${proxy.prefix}*:e`);
        expect(keys).to.have.length(1);
        const record = decodeRecord(await raw.get(keys[0]!));
        const file = await readFile(`${fixtures.root}${upstreamPath}`, 'utf8');
        expect(record?.entry.body).to.equal(file);
      }
    });
  }

  describe('freshness observed in real time', () => {
    let stream: LiveStream | undefined;
    let liveOrigin: Origin | undefined;
    after(async () => {
      await liveOrigin?.close();
      await stream?.stop();
    });

    it('a VOD playlist is fetched once over seconds; a live one (1 s segments) about every half target duration', async function () {
      this.timeout(40_000);
      stream = await startLiveStream({ segmentSeconds: 1, listSize: 2, minSegments: 2 });
      liveOrigin = await startOrigin({ root: stream.root });
      const proxy = await proxyFor('redis');
      const liveUrl = hlsdUrl(proxy.url, `${liveOrigin.url}/${stream.playlistPath}`);
      const vodPath = `/${fixtures.paths.vodVariants[1]}`;
      const vodUrl = hlsdUrl(proxy.url, `${origin.url}${vodPath}`);
      const vodBefore = origin.countRequests(vodPath);
      const liveBefore = liveOrigin.countRequests(`/${stream.playlistPath}`);

      const sequences: number[] = [];
      const started = performance.now();
      let polls = 0;
      while (performance.now() - started < 3000) {
        const [l, v] = await Promise.all([get(liveUrl), get(vodUrl)]);
        expect([l.status, v.status]).to.deep.equal([200, 200]);
        sequences.push(playlistMediaSequence(l.body));
        polls++;
        await sleep(40);
      }
      const elapsed = performance.now() - started;
      const ttl = (stream.targetDuration * 1000) / 2;
      const liveFetches = liveOrigin.countRequests(`/${stream.playlistPath}`) - liveBefore;
      expect(origin.countRequests(vodPath) - vodBefore, 'VOD fetches').to.equal(1);
      // Refetched (not frozen), and never more often than once per half target duration (+1 for the first).
      expect(liveFetches, `live fetches over ${Math.round(elapsed)} ms, ${polls} polls`).to.be.within(2, Math.floor(elapsed / ttl) + 2);
      expect(sequences.at(-1)!).to.be.greaterThan(sequences[0]!);
    });
  });
});
