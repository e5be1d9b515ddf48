import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { configFromOptions, type CacheConfig } from '../../src/config.js';
import { createPlaylistCache } from '../../src/cache/create-cache.js';
import type { CachedPlaylist, PlaylistCache } from '../../src/cache/types.js';
import { keySlot, ownerOf, startCluster, type ClusterNode, type RedisCluster } from '../support/redis-cluster.js';

/**
 * A master of the Redis Cluster dies (SIGKILL) while two proxy instances share their playlist cache on it.
 * What this relies on:
 * - Redis Cluster specification, "Failure detection" and "Replica election and promotion": a master that
 *   does not answer for `cluster-node-timeout` is flagged PFAIL, then FAIL once a majority of masters agree;
 *   its replica then asks for votes and, with a majority, promotes itself and takes over the slots. Until
 *   then (with the default cluster-require-full-coverage yes) commands get connection errors or CLUSTERDOWN.
 * - ioredis Cluster: a per-node connection that is lost is dropped from the pool (nodes do not reconnect by
 *   themselves); a connection error or CLUSTERDOWN is retried after retryDelayOnFailover /
 *   retryDelayOnClusterDown with a refresh of the slot map (CLUSTER SLOTS), and a MOVED reply updates the
 *   slot map and goes to the node it names. The subscriber connection moves to another node when its node
 *   ends. So once the replica is promoted, the client follows it without being restarted.
 * - The cache (redis-connection.ts): every command is bounded by redisTimeoutMs, a failure sends the request
 *   upstream and cools Redis down, and a later command that succeeds (a probe) puts it back to 'ok'.
 * Assertions are about outcomes (every get answered with the right body, sharing and coalescing back),
 * never about how fast: the watchdog on each get is only there so that a hang fails instead of stalling.
 */

const VOD = '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\ns1.ts\n#EXT-X-ENDLIST\n';
const PREFIX = 'failover:';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Documented defaults, with a Redis timeout that a loaded 2-core machine still meets when healthy.
const config = (redisUrl: string): CacheConfig => ({
  ...configFromOptions().cache,
  redisUrl,
  redisKeyPrefix: PREFIX,
  redisTimeoutMs: 500,
  coalesceTimeoutMs: 1000,
});

/** The slot of the cache's entry key for a playlist URL: `<prefix>{sha256 base64url}:e` (redis-store.ts). */
const slotOf = (url: string): number => keySlot(`${PREFIX}{${createHash('sha256').update(url).digest('base64url')}}:e`);

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !(await cond()); await sleep(100)) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
  }
}

function countingFetcher() {
  const f = {
    calls: 0,
    fetch: async (): Promise<Omit<CachedPlaylist, 'ttlMs'>> => {
      f.calls++;
      // Long enough that concurrent gets arrive while the leader holds the lock.
      await sleep(100);
      return { status: 200, body: VOD, finalUrl: 'http://o.test/v.m3u8', contentType: 'application/vnd.apple.mpegurl', fetchedAt: 0 };
    },
  };
  return f;
}

function recordingLogger() {
  const lines: Array<'warn' | 'info'> = [];
  return { lines, warn: () => void lines.push('warn'), info: () => void lines.push('info') };
}

describe('redis cache on a Redis Cluster: master failover', function () {
  // Generous: six nodes to start and replicate on a small, possibly busy machine.
  this.timeout(30_000);
  let cluster: RedisCluster;
  const open: PlaylistCache[] = [];

  before(async () => {
    // 3 masters with one replica each; a short node timeout so failover takes seconds, not 15 s.
    cluster = await startCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 });
  });
  after(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await cluster?.stop();
  });

  it('keeps answering while a master dies and its replica is promoted, then shares and coalesces again', async function () {
    this.timeout(45_000);
    const before = await cluster.topology(cluster.ports[0]!);
    const masters = before.filter((n) => n.master && n.slots.length > 0);
    expect(masters).to.have.length(3);

    // Two proxy instances, seeded with every master as a deployment would list them.
    const url = cluster.url(masters.map((m) => m.port));
    const logs = [recordingLogger(), recordingLogger()];
    const [a, b] = logs.map((logger) => createPlaylistCache(config(url), { logger })) as [PlaylistCache, PlaylistCache];
    open.push(a, b);
    await waitFor('both instances on the cluster', () => a.state() === 'ok' && b.state() === 'ok', 10_000);

    // Playlists until every master owns at least one (slots are deterministic: sha256 + CRC16).
    const owned = new Map<string, string[]>(masters.map((m) => [m.id, []]));
    for (let n = 0; [...owned.values()].some((list) => list.length === 0); n++) {
      const key = `http://o.test/live-${n}.m3u8`;
      owned.get(ownerOf(before, slotOf(key))!.id)!.push(key);
    }
    const keys = [...owned.values()].flat();
    // The slot computed here is the one Redis computes for the real key name.
    const sample = `${PREFIX}{${createHash('sha256').update(keys[0]!).digest('base64url')}}:e`;
    expect(await cluster.call(cluster.ports[0]!, 'cluster', 'keyslot', sample)).to.equal(slotOf(keys[0]!));

    // Healthy: written once by one instance, a hit on the other.
    const up = countingFetcher();
    for (const key of keys) {
      expect((await a.get(key, up.fetch)).result, key).to.equal('miss');
      expect((await b.get(key, up.fetch)).result, key).to.equal('hit');
    }
    expect(up.calls).to.equal(keys.length);

    // The victim: a master owning some of those playlists, preferably the one holding a cache's pub/sub
    // subscription (ioredis puts it on a seed node), so the subscriber has to move too.
    const numsub = async (port: number): Promise<number> =>
      Number(((await cluster.call(port, 'pubsub', 'numsub', `${PREFIX}filled`)) as [string, number])[1]);
    const subs = await Promise.all(masters.map((m) => numsub(m.port)));
    const victim = masters[Math.max(0, subs.findIndex((n) => n > 0))]!;
    const replica = before.find((n) => n.masterId === victim.id)!;
    expect(replica, 'replica of the victim').to.not.equal(undefined);
    const victimKey = (n: number): string => {
      for (let i = 0; ; i++) {
        const key = `http://o.test/fresh-${n}-${i}.m3u8`;
        if (ownerOf(before, slotOf(key))!.id === victim.id) return key;
      }
    };
    const otherKey = (n: number): string => {
      for (let i = 0; ; i++) {
        const key = `http://o.test/other-${n}-${i}.m3u8`;
        if (ownerOf(before, slotOf(key))!.id !== victim.id) return key;
      }
    };

    // Traffic on both instances throughout: playlists written before (served from the in-process layer or
    // Redis) and never-seen ones on the victim's slots and elsewhere (read, lock, fetch, write in Redis).
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const tally = { gets: 0, failures: [] as string[], hung: 0, wrongBodies: 0 };
    const WATCHDOG_MS = 15_000;
    const watched = async (cache: PlaylistCache, key: string): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      const hang = new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), WATCHDOG_MS)));
      try {
        const got = await Promise.race([cache.get(key, up.fetch), hang]);
        if (got === 'hung') tally.hung++;
        else if (got.entry.body !== VOD) tally.wrongBodies++;
      } catch (err) {
        tally.failures.push(String(err));
      } finally {
        clearTimeout(timer);
        tally.gets++;
      }
    };
    let stopTraffic = false;
    const traffic = (async () => {
      for (let tick = 0; !stopTraffic; tick++) {
        const batch = [keys[tick % keys.length]!, victimKey(tick), otherKey(tick)];
        await Promise.all(batch.flatMap((key) => [watched(a, key), watched(b, key)]));
        await sleep(50);
      }
    })();

    try {
      await sleep(300);
      const errorsBefore = a.stats.redisErrors + b.stats.redisErrors;
      await cluster.kill(victim.port);

      // The replica takes over the victim's slots (healthy() also waits for every live node to agree).
      const after = await cluster.healthy(20_000);
      const promoted = after.find((n) => n.id === replica.id)!;
      expect(promoted.master, 'replica promoted').to.equal(true);
      expect([promoted.port, promoted.slots]).to.deep.equal([replica.port, victim.slots]);

      // The caches come back to Redis by themselves while traffic goes on.
      await waitFor('both instances back on the cluster', () => a.state() === 'ok' && b.state() === 'ok', 15_000);
      stopTraffic = true;
      await traffic;
      // The outage was seen (gets sent upstream instead of failing), and no get failed, hung or was wrong.
      expect(a.stats.redisErrors + b.stats.redisErrors).to.be.greaterThan(errorsBefore);
      expect({ failures: tally.failures, hung: tally.hung, wrongBodies: tally.wrongBodies, unhandled }).to.deep.equal({
        failures: [],
        hung: 0,
        wrongBodies: 0,
        unhandled: [],
      });
      expect(tally.gets).to.be.greaterThan(6);
      // Each instance said once that it went degraded, and later that Redis was back.
      for (const log of logs) expect(log.lines.lastIndexOf('info')).to.be.greaterThan(log.lines.indexOf('warn')).and.greaterThan(0);

      // Sharing across the failover, without restarting anything: a new playlist on the promoted node's
      // slots, written by one instance, is a hit on the other, with one upstream fetch.
      const shared = victimKey(1_000);
      const fetched = up.calls;
      expect((await a.get(shared, up.fetch)).result).to.equal('miss');
      const seen = await b.get(shared, up.fetch);
      expect([seen.result, seen.entry.body, up.calls - fetched]).to.deep.equal(['hit', VOD, 1]);
      const entry = `${PREFIX}{${createHash('sha256').update(shared).digest('base64url')}}:e`;
      expect(await cluster.call(replica.port, 'exists', entry), 'entry on the promoted node').to.equal(1);

      // Coalescing across instances: 20 concurrent gets of another new playlist there, one fetch.
      const together = victimKey(1_001);
      const fetchedBefore = up.calls;
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).get(together, up.fetch)));
      expect(up.calls - fetchedBefore).to.equal(1);
      expect(results.every((r) => r.entry.body === VOD)).to.equal(true);
      expect([a.state(), b.state()]).to.deep.equal(['ok', 'ok']);

      // Both subscriptions live on surviving nodes (the one on the victim moved), so waiters are woken by
      // PUBLISH rather than by their poll.
      const live = cluster.ports.filter((p) => p !== victim.port);
      await waitFor('two subscribers on live nodes', async () => (await Promise.all(live.map(numsub))).reduce((s, n) => s + n, 0) === 2, 10_000);
    } finally {
      stopTraffic = true;
      await traffic;
      process.removeListener('unhandledRejection', onUnhandled);
    }
  });
});
