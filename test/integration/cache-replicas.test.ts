import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { getFixtures, type Fixtures } from '../support/hls-fixtures.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { hlsdUrl, startProxyProcess, type ProxyProcess } from '../support/proxy.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Issue #3 across real proxy PROCESSES (the CLI, as deployed) sharing one real redis-server: one upstream
 * fetch for a burst spread over replicas, hits answered without moving the body out of Redis (L1), and a
 * Redis crash under steady viewer traffic that no viewer notices. Upstream fetches are counted on the
 * origin's request log; Redis work is counted with INFO commandstats.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const live = (target: number): string =>
  `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:${target}\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:${target},\nseg7.ts\n#EXTINF:${target},\nseg8.ts\n`;

function sendPlaylist(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

interface Reply { status: number; body: string; cache: string }

/** Never throws: a transport failure is a reply with status 0, counted as a failed viewer request. */
async function get(url: string, dispatcher: Agent): Promise<Reply> {
  try {
    const res = await request(url, { dispatcher });
    const body = await res.body.text();
    return { status: res.statusCode, body, cache: String(res.headers['x-hls-sidecar-cache'] ?? '') };
  } catch (err) {
    return { status: 0, body: String(err), cache: '' };
  }
}

function tally(replies: Reply[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const r of replies) t[`${r.status} ${r.cache}`] = (t[`${r.status} ${r.cache}`] ?? 0) + 1;
  return t;
}

describe('shared manifest cache across 3 proxy processes and one redis-server (issue #3)', function () {
  this.timeout(30_000);
  let fixtures: Fixtures;
  let origin: Origin;
  let redis: RedisServer;
  let admin: Redis;
  let proxies: ProxyProcess[] = [];
  // Bounded concurrency: 2 cores run the origin, three proxies, redis-server and these clients.
  const agent = new Agent({ connections: 64 });
  let seq = 0;

  const readyz = async (p: ProxyProcess): Promise<string> => (await get(`${p.url}/readyz`, agent)).body.trim();

  before(async function () {
    this.timeout(60_000);
    [fixtures, redis] = await Promise.all([getFixtures(), startRedis()]);
    origin = await startOrigin({ root: fixtures.root });
    admin = new Redis(redis.url);
    admin.on('error', () => undefined); // redis-server is killed on purpose below
    const args = ['--redis', redis.url, '--redis-key-prefix', 'replicas:', '--log-level', 'warn', '--shutdown-timeout', '2000'];
    proxies = await Promise.all([0, 1, 2].map(() => startProxyProcess(args)));
    await waitFor('all replicas on redis', async () => (await Promise.all(proxies.map(readyz))).every((s) => s === 'ok'), 20_000);
  });
  after(async () => {
    await agent.close();
    await Promise.all(proxies.map((p) => p.stop()));
    admin?.disconnect();
    await origin?.close();
    await redis?.stop();
  });
  afterEach(() => origin.clearOverrides());

  function serveSynthetic(body: string, delayMs = 0): string {
    const path = `/replicas/${++seq}/index.m3u8`;
    origin.override(path, async (_req, res) => {
      if (delayMs) await sleep(delayMs);
      sendPlaylist(res, body);
    });
    return path;
  }

  async function redisGets(): Promise<number> {
    const info = await admin.info('commandstats');
    return Number(/^cmdstat_get:calls=(\d+)/m.exec(info)?.[1] ?? 0);
  }

  it('300 concurrent requests spread over 3 processes cost exactly one upstream fetch', async () => {
    // Fresh for 5 s, and the upstream answers slowly, so the burst meets the fetch in the air.
    const path = serveSynthetic(live(10), 150);
    const replies = await Promise.all(
      Array.from({ length: 300 }, (_, i) => get(hlsdUrl(proxies[i % 3]!.url, `${origin.url}${path}`), agent)),
    );
    const t = tally(replies);
    expect(origin.countRequests(path), JSON.stringify(t)).to.equal(1);
    expect(t['200 MISS']).to.equal(1);
    expect((t['200 COALESCED'] ?? 0) + (t['200 HIT'] ?? 0)).to.equal(299);
    expect(new Set(replies.map((r) => r.body.replace(/127\.0\.0\.1:\d+/g, 'proxy'))).size).to.equal(1);
  });

  it('hits are answered from the in-process layer: no body is read from Redis per hit', async () => {
    const path = `/${fixtures.paths.vodVariants[0]}`;
    const before = origin.countRequests(path);
    // One request per replica: the first fetches, the other two read Redis once and keep the copy.
    const warm: Reply[] = [];
    for (const p of proxies) warm.push(await get(hlsdUrl(p.url, `${origin.url}${path}`), agent));
    expect(warm.map((r) => `${r.status} ${r.cache}`)).to.deep.equal(['200 MISS', '200 HIT', '200 HIT']);
    const getsBefore = await redisGets();
    const replies: Reply[] = [];
    for (let wave = 0; wave < 10; wave++) {
      replies.push(...(await Promise.all(Array.from({ length: 30 }, (_, i) => get(hlsdUrl(proxies[i % 3]!.url, `${origin.url}${path}`), agent)))));
    }
    const getsDuring = (await redisGets()) - getsBefore;
    expect(tally(replies)).to.deep.equal({ '200 HIT': 300 });
    // Without the layer every one of the 300 hits is a GET of the whole record.
    expect(getsDuring, 'Redis GETs for 300 hits').to.be.below(10);
    expect(origin.countRequests(path) - before).to.equal(1);
  });

  it('redis-server killed under steady viewer traffic: zero failed requests, degraded → ok, then shared again', async function () {
    this.timeout(30_000);
    const [a, b] = [proxies[0]!, proxies[1]!];
    const livePath = serveSynthetic(live(2)); // fresh for 1 s: refreshed several times during the run
    const vodPath = `/${fixtures.paths.vodAudio}`;
    const urls = [a, b].flatMap((p) => [livePath, vodPath].map((path) => hlsdUrl(p.url, `${origin.url}${path}`)));

    const inFlight: Array<Promise<Reply & { phase: string }>> = [];
    const states = new Set<string>();
    let phase = 'up';
    const started = performance.now();
    const at = (ms: number): boolean => performance.now() - started >= ms;
    let killed = false;
    let restarted: Promise<void> | undefined;
    // 4 s at one request every 20 ms, round robin over 2 proxies × 2 playlists.
    for (let i = 0; !at(4000); i++) {
      if (!killed && at(1000)) {
        killed = true;
        phase = 'down';
        await redis.kill();
      }
      if (killed && !restarted && at(2500)) {
        phase = 'restarting';
        restarted = redis.restart();
      }
      const p = phase;
      inFlight.push(get(urls[i % urls.length]!, agent).then((r) => ({ ...r, phase: p })));
      if (killed && i % 10 === 0) states.add(`${p}: ${await readyz(a)}/${await readyz(b)}`);
      await sleep(20);
    }
    await restarted;
    const replies = await Promise.all(inFlight);

    const failed = replies.filter((r) => r.status !== 200 || !r.body.startsWith('#EXTM3U'));
    expect(replies.length).to.be.greaterThan(100);
    expect(failed.map((r) => `${r.phase} ${r.status} ${r.body.slice(0, 80)}`), `${replies.length} requests`).to.deep.equal([]);
    expect([...states], 'readyz while redis-server was dead').to.include('down: degraded/degraded');

    // The proxies reconnect by themselves (no restart) and say so on /readyz.
    await waitFor('both proxies back on redis', async () => (await readyz(a)) === 'ok' && (await readyz(b)) === 'ok');
    // Shared again: a playlist neither has seen is fetched once by A and found in Redis by B.
    const fresh = serveSynthetic(live(10));
    const viaA = await get(hlsdUrl(a.url, `${origin.url}${fresh}`), agent);
    const viaB = await get(hlsdUrl(b.url, `${origin.url}${fresh}`), agent);
    expect([viaA.cache, viaB.cache, origin.countRequests(fresh)]).to.deep.equal(['MISS', 'HIT', 1]);
  });
});
