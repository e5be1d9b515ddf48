import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { configFromOptions, type CacheConfig } from '../../src/config.js';
import { createPlaylistCache } from '../../src/cache/create-cache.js';
import type { CachedPlaylist, PlaylistCache } from '../../src/cache/types.js';
import { freePort, startRedis, type RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Redis is an accelerator, never a dependency (ARCHITECTURE.md "Failure stance"): when it dies, stalls or
 * was never there, every get still answers from upstream, the state says so once, and the shared cache
 * comes back by itself. Assertions are about outcomes, never about how long something took.
 */

const LIVE = '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:6,\ns1.ts\n';

// The documented defaults, with short Redis and coalescing timeouts so faults show quickly.
const config = (redisUrl: string, prefix: string): CacheConfig => ({
  ...configFromOptions().cache,
  redisUrl,
  redisKeyPrefix: prefix,
  redisTimeoutMs: 200,
  maxEntries: 1000,
  maxBytes: 64 * 1024 * 1024,
  coalesceTimeoutMs: 500,
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function recordingLogger() {
  const lines: Array<{ level: 'warn' | 'info'; obj: object; msg: string }> = [];
  return {
    lines,
    count: (level: 'warn' | 'info') => lines.filter((l) => l.level === level).length,
    warn: (obj: object, msg: string) => void lines.push({ level: 'warn', obj, msg }),
    info: (obj: object, msg: string) => void lines.push({ level: 'info', obj, msg }),
  };
}

const entryKey = (prefix: string, key: string): string => `${prefix}{${createHash('sha256').update(key).digest('base64url')}}:e`;

function countingFetcher(body = LIVE) {
  const f = {
    calls: 0,
    fetch: async (): Promise<Omit<CachedPlaylist, 'ttlMs'>> => {
      f.calls++;
      return { status: 200, body, finalUrl: 'http://origin.test/x.m3u8', contentType: 'application/vnd.apple.mpegurl', fetchedAt: 0 };
    },
  };
  return f;
}

describe('playlist cache: redis faults never reach viewers', () => {
  let redis: RedisServer;
  const open: PlaylistCache[] = [];

  before(async function () {
    this.timeout(10_000);
    redis = await startRedis();
  });
  after(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await redis?.stop();
  });

  function make(prefix: string, logger = recordingLogger(), url = redis.url): { cache: PlaylistCache; logger: ReturnType<typeof recordingLogger> } {
    const cache = createPlaylistCache(config(url, prefix), { logger });
    open.push(cache);
    return { cache, logger };
  }

  it('redis-server killed mid-traffic: zero failed gets, one warning, then shared again after a restart', async function () {
    this.timeout(20_000);
    const a = make('kill:');
    const b = make('kill:');
    await waitFor('both replicas on redis', () => a.cache.state() === 'ok' && b.cache.state() === 'ok');
    // VOD: stays fresh for the whole test, so every fetch after the kill is due to Redis being gone.
    const VOD = `${LIVE}#EXT-X-ENDLIST\n`;
    const up = countingFetcher(VOD);

    let failures = 0;
    let wrongBodies = 0;
    let gets = 0;
    let callsAtKill = -1;
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4'];
    const fresh = ['n0', 'n1', 'n2', 'n3', 'n4'];
    for (let tick = 0; tick < 120; tick++) {
      if (tick === 40) {
        callsAtKill = up.calls;
        await redis.kill();
      }
      // After the kill, half the gets ask for playlists nobody fetched yet: those must go upstream.
      const key = tick >= 40 && tick % 2 === 1 ? fresh[tick % fresh.length]! : keys[tick % keys.length]!;
      const settled = await Promise.allSettled([a.cache.get(key, up.fetch), b.cache.get(key, up.fetch)]);
      for (const s of settled) {
        gets++;
        if (s.status === 'rejected') failures++;
        else if (s.value.entry.body !== VOD) wrongBodies++;
      }
      await sleep(15);
    }

    expect({ gets, failures, wrongBodies }).to.deep.equal({ gets: 240, failures: 0, wrongBodies: 0 });
    // While Redis was up the five keys were fetched once and shared. During the outage new playlists went
    // straight upstream, at most once per replica each, and everything fresh was served from the
    // per-process layer: 80 gets after the kill did not become 80 upstream fetches.
    expect(callsAtKill).to.equal(keys.length);
    expect(up.calls).to.be.within(callsAtKill + fresh.length, callsAtKill + 2 * fresh.length);
    for (const replica of [a, b]) {
      expect(replica.cache.state()).to.equal('degraded');
      expect(replica.logger.count('warn')).to.equal(1);
    }

    await redis.restart();
    await waitFor('replicas back on redis', () => a.cache.state() === 'ok' && b.cache.state() === 'ok');
    expect(a.logger.count('info')).to.equal(2); // first connection, then the recovery
    const before = up.calls;
    expect((await a.cache.get('after-restart', up.fetch)).result).to.equal('miss');
    const seenByB = await b.cache.get('after-restart', up.fetch);
    expect([seenByB.result, seenByB.entry.body, up.calls]).to.deep.equal(['hit', VOD, before + 1]);
    expect(a.logger.count('warn') + b.logger.count('warn')).to.equal(2);
  });

  it('a stalled redis (CLIENT PAUSE) costs a bounded wait: gets complete with upstream data', async function () {
    this.timeout(20_000);
    const { cache, logger } = make('pause:');
    await waitFor('redis ready', () => cache.state() === 'ok');
    const admin = new Redis(redis.url);
    try {
      await admin.client('PAUSE', 1500, 'ALL');
      const up = countingFetcher();
      const results = await Promise.all(Array.from({ length: 5 }, (_, i) => cache.get(`paused-${i}`, up.fetch)));
      expect(results.map((r) => [r.result, r.entry.body])).to.deep.equal(Array.from({ length: 5 }, () => ['miss', LIVE]));
      expect(up.calls).to.equal(5);
      expect(cache.state()).to.equal('degraded');
      expect(cache.stats.redisErrors).to.be.greaterThan(0);
      expect(logger.count('warn')).to.equal(1);
      // Once Redis answers again, a probe after the cool-down puts the cache back on it by itself.
      await waitFor('recovery', async () => {
        await cache.get('probe', up.fetch);
        return cache.state() === 'ok';
      });
      expect(logger.lines.at(-1)?.level).to.equal('info');
    } finally {
      admin.disconnect();
    }
  });

  it('no redis at startup: degraded from the first request, gets served from upstream', async () => {
    const deadPort = await freePort();
    const { cache, logger } = make('absent:', recordingLogger(), `redis://127.0.0.1:${deadPort}`);
    const up = countingFetcher();
    const results = await Promise.all(Array.from({ length: 10 }, () => cache.get('absent', up.fetch)));
    expect(results.every((r) => r.entry.body === LIVE)).to.equal(true);
    // Single-flight still coalesces in-process while Redis is away.
    expect(up.calls).to.equal(1);
    await waitFor('connection refused noticed', () => logger.count('warn') === 1);
    expect(cache.state()).to.equal('degraded');
  });
  it('a replica that crashed holding the fetch lock delays others by at most coalesceTimeoutMs', async () => {
    const { cache } = make('orphan:');
    await waitFor('redis ready', () => cache.state() === 'ok');
    const admin = new Redis(redis.url);
    try {
      // The lock of a replica that died mid-fetch: nobody will release it or announce a result.
      await admin.set(entryKey('orphan:', 'orphan').replace(/:e$/, ':l'), 'crashed-replica', 'PX', 60_000);
      const up = countingFetcher();
      const got = await cache.get('orphan', up.fetch);
      expect([got.result, got.entry.body, up.calls]).to.deep.equal(['miss', LIVE, 1]);
    } finally {
      admin.disconnect();
    }
  });

  it('a record it cannot decode (foreign writer, other version) is a miss, not a crash', async () => {
    const { cache } = make('corrupt:');
    await waitFor('redis ready', () => cache.state() === 'ok');
    const admin = new Redis(redis.url);
    try {
      for (const [i, junk] of ['{"v":1,"e":{"status":"200"}}', '{"v":99}', 'not json', '[]'].entries()) {
        await admin.set(entryKey('corrupt:', `bad${i}`), junk, 'PX', 60_000);
        const got = await cache.get(`bad${i}`, countingFetcher().fetch);
        expect([got.result, got.entry.body]).to.deep.equal(['miss', LIVE]);
      }
      expect(cache.state()).to.equal('ok');
    } finally {
      admin.disconnect();
    }
  });
});
