import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { CacheConfig } from '../../src/config.js';
import { ProxyError } from '../../src/errors.js';
import { createPlaylistCache } from '../../src/cache/create-cache.js';
import type { CachedPlaylist, CacheGetResult, CacheResult, PlaylistCache } from '../../src/cache/types.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

/**
 * One contract, two backends (issue #3): the in-process cache and the Redis-backed cache must behave the
 * same. Freshness runs on an injected clock; only Redis' own PX expiry is real time, and it is checked by
 * reading PTTL, not by sleeping.
 */

const LIVE = '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:6,\ns1.ts\n';
const LLHLS = '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-PART-INF:PART-TARGET=1.0\n#EXTINF:4,\ns1.mp4\n#EXT-X-PART:DURATION=1,URI="p.mp4"\n';
const MULTIVARIANT = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow.m3u8\n';
const VOD = `${LIVE}#EXT-X-ENDLIST\n`;

const baseConfig: CacheConfig = {
  redisUrl: undefined, redisKeyPrefix: 'contract:', redisTimeoutMs: 500, maxEntries: 1000, maxBytes: 64 * 1024 * 1024,
  liveTtlMinMs: 200, liveTtlMaxMs: 6000, masterTtlMs: 10_000, vodTtlMs: 600_000,
  errorTtlMs: 1000, staleIfErrorMs: 30_000, staleWaitMs: 0, coalesceTimeoutMs: 3000,
};

const silent = { warn: () => undefined, info: () => undefined };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A scripted upstream: each call answers with the next step (a body, or an error to throw). */
function fakeUpstream(steps: Array<string | Error>, delayMs = 0) {
  const up = {
    calls: 0,
    signals: [] as AbortSignal[],
    fetcher: async (signal: AbortSignal): Promise<Omit<CachedPlaylist, 'ttlMs'>> => {
      const step = steps[Math.min(up.calls, steps.length - 1)]!;
      up.calls++;
      up.signals.push(signal);
      if (delayMs) await sleep(delayMs);
      if (step instanceof Error) throw step;
      return { status: 200, body: step, finalUrl: 'http://origin.test/final.m3u8', contentType: 'application/vnd.apple.mpegurl', fetchedAt: 0 };
    },
  };
  return up;
}

async function rejection(p: Promise<unknown>): Promise<ProxyError> {
  const err = await p.then(() => new Error('expected the get to fail'), (e: unknown) => e);
  expect(err).to.be.instanceOf(ProxyError);
  return err as ProxyError;
}

const tally = (results: CacheGetResult[]): Partial<Record<CacheResult, number>> =>
  results.reduce<Partial<Record<CacheResult, number>>>((t, r) => ({ ...t, [r.result]: (t[r.result] ?? 0) + 1 }), {});

interface Backend { name: string; make(overrides?: Partial<CacheConfig>): Promise<PlaylistCache> }

describe('playlist cache', () => {
  let redis: RedisServer;
  let clockNow = 1_700_000_000_000;
  const clock = (): number => clockNow;
  const open: PlaylistCache[] = [];
  let prefixSeq = 0;

  before(async function () {
    this.timeout(10_000);
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });

  const memory: Backend = {
    name: 'memory',
    make: async (overrides = {}) => track(createPlaylistCache({ ...baseConfig, ...overrides }, { logger: silent, clock })),
  };
  const track = (cache: PlaylistCache): PlaylistCache => (open.push(cache), cache);

  /** Each make() is one replica with its own ioredis connections; sharedPrefix puts several on one keyspace. */
  const redisBackend = (sharedPrefix?: () => string): Backend => ({
    name: 'redis',
    async make(overrides = {}) {
      const redisKeyPrefix = sharedPrefix?.() ?? `contract${++prefixSeq}:`;
      const cache = track(createPlaylistCache({ ...baseConfig, redisUrl: redis.url, redisKeyPrefix, ...overrides }, { logger: silent, clock }));
      await waitFor('redis ready', () => cache.state() === 'ok');
      return cache;
    },
  });

  function contract(backend: Backend): void {
    describe(`playlist cache contract: ${backend.name}`, () => {
      beforeEach(() => {
        clockNow += 10_000_000;
      });

      it('serves a hit after a miss, with the upstream fields and a truthful age', async () => {
        const cache = await backend.make();
        const up = fakeUpstream([LIVE]);
        const first = await cache.get('http://origin.test/live.m3u8', up.fetcher);
        const fields = { status: 200, body: LIVE, finalUrl: 'http://origin.test/final.m3u8', contentType: 'application/vnd.apple.mpegurl', ttlMs: 3000, fetchedAt: clockNow };
        expect(first).to.deep.equal({ result: 'miss', ageMs: 0, entry: fields });
        clockNow += 1200;
        const second = await cache.get('http://origin.test/live.m3u8', up.fetcher);
        expect([second.result, second.ageMs, up.calls]).to.deep.equal(['hit', 1200, 1]);
        expect(second.entry).to.deep.equal(fields);
        expect(cache.stats).to.include({ hits: 1, misses: 1, fetches: 1 });
      });

      const ttlTable: Array<[string, string, number]> = [
        ['live: half of EXT-X-TARGETDURATION', LIVE, 3000],
        ['LL-HLS: half of PART-TARGET', LLHLS, 500],
        ['multivariant: masterTtlMs', MULTIVARIANT, 10_000],
        ['VOD: vodTtlMs', VOD, 600_000],
      ];
      for (const [name, body, ttl] of ttlTable) {
        it(`keeps a ${name} fresh for ${ttl} ms, then refetches`, async () => {
          const cache = await backend.make();
          const up = fakeUpstream([body]);
          const key = `http://origin.test/${ttl}.m3u8`;
          expect((await cache.get(key, up.fetcher)).entry.ttlMs).to.equal(ttl);
          clockNow += ttl - 1;
          expect((await cache.get(key, up.fetcher)).result).to.equal('hit');
          clockNow += 1;
          expect((await cache.get(key, up.fetcher)).result).to.equal('miss');
          expect(up.calls).to.equal(2);
        });
      }

      it('keeps LL-HLS delivery directives apart (RFC 8216bis §6.2.5: _HLS_msn/_HLS_part name different responses)', async () => {
        const cache = await backend.make();
        const keys = ['http://o.test/ll.m3u8', 'http://o.test/ll.m3u8?_HLS_msn=5', 'http://o.test/ll.m3u8?_HLS_msn=5&_HLS_part=1', 'http://o.test/ll.m3u8?_HLS_skip=YES'];
        for (const [i, key] of keys.entries()) expect((await cache.get(key, fakeUpstream([`${LLHLS}#${i}\n`]).fetcher)).result).to.equal('miss');
        for (const [i, key] of keys.entries()) {
          const got = await cache.get(key, fakeUpstream(['wrong']).fetcher);
          expect([got.result, got.entry.body]).to.deep.equal(['hit', `${LLHLS}#${i}\n`]);
        }
      });

      const errorTable: Array<[string, Error, string, number | undefined]> = [
        ['upstream 404 passed through', new ProxyError('UPSTREAM_STATUS', { status: 404 }), 'UPSTREAM_STATUS', 404],
        ['connection refused (raw, classified)', Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 'UPSTREAM_UNREACHABLE', undefined],
        ['playlist timeout', new ProxyError('UPSTREAM_TIMEOUT'), 'UPSTREAM_TIMEOUT', undefined],
      ];
      for (const [name, thrown, code, status] of errorTable) {
        it(`remembers an upstream error for errorTtlMs and re-throws it with the same code: ${name}`, async () => {
          const cache = await backend.make();
          const up = fakeUpstream([thrown, LIVE]);
          const key = `http://o.test/err-${code}.m3u8`;
          const first = await rejection(cache.get(key, up.fetcher));
          expect([first.code, first.statusOverride]).to.deep.equal([code, status]);
          clockNow += 999;
          const again = await rejection(cache.get(key, up.fetcher));
          expect([again.code, again.statusOverride, up.calls]).to.deep.equal([code, status, 1]);
          clockNow += 1;
          expect([(await cache.get(key, up.fetcher)).result, up.calls]).to.deep.equal(['miss', 2]);
        });
      }

      it('serves a stale copy when the refresh fails (RFC 5861 §4), retrying upstream once per errorTtlMs', async () => {
        const cache = await backend.make();
        const outage = new ProxyError('UPSTREAM_STATUS', { status: 503 });
        const up = fakeUpstream([LIVE, outage, outage, outage]);
        const key = 'http://o.test/stale.m3u8';
        await cache.get(key, up.fetcher);
        clockNow += 3000; // expired
        const stale = await cache.get(key, up.fetcher);
        expect([stale.result, stale.entry.body, stale.ageMs]).to.deep.equal(['stale', LIVE, 3000]);
        expect(up.calls).to.equal(2);
        clockNow += 500; // within errorTtlMs of the failure: no new upstream request
        expect((await cache.get(key, up.fetcher)).result).to.equal('stale');
        expect(up.calls).to.equal(2);
        clockNow += 500;
        expect((await cache.get(key, up.fetcher)).result).to.equal('stale');
        expect(up.calls).to.equal(3);
        clockNow += 3000 + 30_000; // past the stale-if-error window
        const err = await rejection(cache.get(key, up.fetcher));
        expect([err.code, err.statusOverride]).to.deep.equal(['UPSTREAM_STATUS', 503]);
        expect(cache.stats.stale).to.equal(3);
      });

      it('passes an upstream 404 through instead of hiding it behind a stale copy', async () => {
        const cache = await backend.make();
        const up = fakeUpstream([LIVE, new ProxyError('UPSTREAM_STATUS', { status: 404 })]);
        await cache.get('http://o.test/gone.m3u8', up.fetcher);
        clockNow += 3000;
        const err = await rejection(cache.get('http://o.test/gone.m3u8', up.fetcher));
        expect(err.statusOverride).to.equal(404);
      });

      /** A fetcher whose first answer is immediate and whose later ones wait for open(). */
      function gatedUpstream(first: string | Error, later: string) {
        let open!: () => void;
        const gate = new Promise<void>((r) => { open = r; });
        const up = {
          calls: 0,
          open: () => open(),
          fetcher: async (): Promise<Omit<CachedPlaylist, 'ttlMs'>> => {
            up.calls++;
            if (up.calls > 1) await gate;
            const step = up.calls > 1 ? later : first;
            if (step instanceof Error) throw step;
            return { status: 200, body: step, finalUrl: 'http://origin.test/final.m3u8', contentType: 'application/vnd.apple.mpegurl', fetchedAt: 0 };
          },
        };
        return up;
      }
      const LIVE2 = LIVE.replace('s1.ts', 's2.ts');

      // Issue #15: an origin that stops answering (link down, connect timeout) must not hold every viewer
      // of a live channel for the whole connect timeout while a copy one refresh old exists.
      it('answers from the expired copy when a refresh outlasts staleWaitMs; the refresh still fills the cache', async () => {
        const cache = await backend.make({ staleWaitMs: 50 });
        const up = gatedUpstream(LIVE, LIVE2);
        const key = 'http://o.test/slow.m3u8';
        await cache.get(key, up.fetcher);
        clockNow += 3000; // expired
        // The refresh never finishes until open(): an answer at all means the viewer did not wait for it.
        const first = await cache.get(key, up.fetcher);
        const second = await cache.get(key, up.fetcher);
        expect([first.result, first.entry.body, second.result, up.calls]).to.deep.equal(['stale', LIVE, 'stale', 2]);
        up.open();
        let next = await cache.get(key, up.fetcher);
        for (let i = 0; i < 100 && next.entry.body !== LIVE2; i++) { await sleep(10); next = await cache.get(key, up.fetcher); }
        expect([next.entry.body, up.calls]).to.deep.equal([LIVE2, 2]);
      });

      it('answers a recent upstream failure again when the next refresh outlasts staleWaitMs', async () => {
        const cache = await backend.make({ staleWaitMs: 50 });
        const up = gatedUpstream(new ProxyError('UPSTREAM_TIMEOUT'), LIVE2);
        const key = 'http://o.test/down.m3u8';
        expect((await rejection(cache.get(key, up.fetcher))).code).to.equal('UPSTREAM_TIMEOUT');
        clockNow += 1500; // past errorTtlMs: a new refresh, which hangs
        expect((await rejection(cache.get(key, up.fetcher))).code).to.equal('UPSTREAM_TIMEOUT');
        expect(up.calls).to.equal(2);
        up.open();
      });

      it('past the stale-if-error window, answers the failure that made the copy stale when the next refresh outlasts staleWaitMs', async () => {
        const cache = await backend.make({ staleWaitMs: 50 });
        let calls = 0;
        let open!: () => void;
        const gate = new Promise<void>((r) => { open = r; });
        const fetcher = async (): Promise<Omit<CachedPlaylist, 'ttlMs'>> => {
          calls++;
          if (calls === 2) throw new ProxyError('UPSTREAM_CONNECT_TIMEOUT');
          if (calls > 2) await gate;
          return { status: 200, body: LIVE, finalUrl: 'http://origin.test/final.m3u8', contentType: 'application/vnd.apple.mpegurl', fetchedAt: 0 };
        };
        const key = 'http://o.test/window-end.m3u8';
        await cache.get(key, fetcher);
        clockNow += 3000;
        expect((await cache.get(key, fetcher)).result).to.equal('stale'); // the refresh failed: stale
        clockNow += 30_000; // the copy's window is over; the failure is 30 s old, within its own window
        expect((await rejection(cache.get(key, fetcher))).code).to.equal('UPSTREAM_CONNECT_TIMEOUT');
        expect(calls).to.equal(3);
        open();
      });

      it('waits for the refresh when there is nothing to fall back on, or staleWaitMs is 0 (a blocking LL-HLS reload)', async () => {
        const cache = await backend.make({ staleWaitMs: 50 });
        const up = gatedUpstream(LIVE, LIVE2);
        const key = 'http://o.test/wait.m3u8';
        await cache.get(key, up.fetcher);
        clockNow += 3000;
        const blocking = cache.get(key, up.fetcher, { staleWaitMs: 0 });
        const fresh = cache.get('http://o.test/new.m3u8', up.fetcher);
        const settled = await Promise.race([blocking.then(() => 'answered'), fresh.then(() => 'answered'), sleep(300).then(() => 'waiting')]);
        expect(settled).to.equal('waiting');
        up.open();
        expect([(await blocking).entry.body, (await fresh).entry.body]).to.deep.equal([LIVE2, LIVE2]);
      });

      it('coalesces 200 concurrent gets for one key into exactly one upstream fetch', async () => {
        const cache = await backend.make();
        const up = fakeUpstream([LIVE], 30);
        const results = await Promise.all(Array.from({ length: 200 }, () => cache.get('http://o.test/burst.m3u8', up.fetcher)));
        expect([up.calls, tally(results)]).to.deep.equal([1, { miss: 1, coalesced: 199 }]);
        expect(results.every((r) => r.entry.body === LIVE)).to.equal(true);
        expect(cache.stats).to.include({ fetches: 1, misses: 1, coalesced: 199 });
      });

      it('shares one failure with every concurrent waiter', async () => {
        const cache = await backend.make();
        const up = fakeUpstream([new ProxyError('UPSTREAM_STATUS', { status: 410 })], 20);
        const errors = await Promise.all(Array.from({ length: 20 }, () => rejection(cache.get('http://o.test/410.m3u8', up.fetcher))));
        expect(up.calls).to.equal(1);
        expect(new Set(errors.map((e) => `${e.code}/${e.statusOverride}`))).to.deep.equal(new Set(['UPSTREAM_STATUS/410']));
      });

      it('lets a viewer give up without aborting the shared fetch', async () => {
        const cache = await backend.make();
        const up = fakeUpstream([LIVE], 60);
        const viewer = new AbortController();
        const leaving = cache.get('http://o.test/leave.m3u8', up.fetcher, { signal: viewer.signal });
        const staying = cache.get('http://o.test/leave.m3u8', up.fetcher);
        await waitFor('fetch started', () => up.calls === 1);
        viewer.abort();
        expect((await rejection(leaving)).code).to.equal('CLIENT_GONE');
        expect((await staying).entry.body).to.equal(LIVE);
        expect(up.signals[0]!.aborted).to.equal(false);
        expect((await cache.get('http://o.test/leave.m3u8', up.fetcher)).result).to.equal('hit');
        expect(up.calls).to.equal(1);
      });

      it('close() aborts in-flight fetches and refuses later gets', async () => {
        const cache = await backend.make();
        let seen: AbortSignal | undefined;
        const hanging = cache.get('http://o.test/hang.m3u8', (signal) => {
          seen = signal;
          return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
        });
        await waitFor('fetch started', () => seen !== undefined);
        await cache.close();
        expect(seen!.aborted).to.equal(true);
        expect((await rejection(hanging)).code).to.equal('SHUTTING_DOWN');
        expect((await rejection(cache.get('http://o.test/x.m3u8', fakeUpstream([LIVE]).fetcher))).code).to.equal('SHUTTING_DOWN');
      });
    });
  }

  contract(memory);
  contract(redisBackend());

  describe('playlist cache: memory backend specifics', () => {
    it('is bounded by maxEntries (least recently used goes first)', async () => {
      const cache = await memory.make({ maxEntries: 2 });
      const up = fakeUpstream([VOD]);
      await cache.get('a', up.fetcher);
      await cache.get('b', up.fetcher);
      await cache.get('a', up.fetcher); // a is now the most recent
      await cache.get('c', up.fetcher); // evicts b
      expect((await cache.get('a', up.fetcher)).result).to.equal('hit');
      expect((await cache.get('b', up.fetcher)).result).to.equal('miss');
      expect(cache.state()).to.equal('memory');
    });

    it('is bounded by maxBytes of playlist text too (least recently used goes first)', async () => {
      const cache = await memory.make({ maxBytes: VOD.length * 2 + 1 });
      const up = fakeUpstream([VOD]);
      await cache.get('a', up.fetcher);
      await cache.get('b', up.fetcher);
      await cache.get('c', up.fetcher); // over the byte budget: evicts a
      expect((await cache.get('b', up.fetcher)).result).to.equal('hit');
      expect((await cache.get('a', up.fetcher)).result).to.equal('miss');
    });
  });

  describe('playlist cache: redis backend specifics', () => {
    let raw: Redis;
    before(() => void (raw = new Redis(redis.url)));
    after(() => raw.disconnect());
    const entryKey = (prefix: string, key: string): string => `${prefix}{${createHash('sha256').update(key).digest('base64url')}}:e`;

    it('coalesces 300 gets spread over 3 replicas into exactly one upstream fetch', async () => {
      const prefix = `replicas${++prefixSeq}:`;
      const backend = redisBackend(() => prefix);
      const replicas = await Promise.all([backend.make(), backend.make(), backend.make()]);
      const up = fakeUpstream([LIVE], 50);
      const results = await Promise.all(Array.from({ length: 300 }, (_, i) => replicas[i % 3]!.get('http://o.test/shared.m3u8', up.fetcher)));
      expect([up.calls, tally(results)]).to.deep.equal([1, { miss: 1, coalesced: 299 }]);
      expect(results.every((r) => r.entry.body === LIVE)).to.equal(true);
      expect(replicas.map((r) => r.stats.fetches).reduce((a, b) => a + b)).to.equal(1);
    });

    it('shares error entries across replicas with the same code and status', async () => {
      const prefix = `errshare${++prefixSeq}:`;
      const [a, b] = await Promise.all([redisBackend(() => prefix).make(), redisBackend(() => prefix).make()]);
      const up = fakeUpstream([new ProxyError('UPSTREAM_STATUS', { status: 404 })]);
      await rejection(a!.get('http://o.test/404.m3u8', up.fetcher));
      const err = await rejection(b!.get('http://o.test/404.m3u8', up.fetcher));
      expect([err.code, err.statusOverride, up.calls]).to.deep.equal(['UPSTREAM_STATUS', 404, 1]);
    });

    it('keeps a playlist and an outage in Redis for their freshness plus the stale-if-error window (PX), a 404 for errorTtlMs', async () => {
      const prefix = `px${++prefixSeq}:`;
      const cache = await redisBackend(() => prefix).make();
      await cache.get('live', fakeUpstream([LIVE]).fetcher);
      expect(await raw.pttl(entryKey(prefix, 'live'))).to.be.within(3000 + 30_000 - 5000, 3000 + 30_000);
      await rejection(cache.get('down', fakeUpstream([new ProxyError('UPSTREAM_UNREACHABLE')]).fetcher));
      expect(await raw.pttl(entryKey(prefix, 'down'))).to.be.within(1000 + 30_000 - 5000, 1000 + 30_000);
      await rejection(cache.get('gone', fakeUpstream([new ProxyError('UPSTREAM_STATUS', { status: 404 })]).fetcher));
      expect(await raw.pttl(entryKey(prefix, 'gone'))).to.be.within(1, 1000);
    });
  });
});
