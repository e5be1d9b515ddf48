import { expect } from 'chai';
import { configFromOptions } from '../../src/config.js';
import { clusterOptionsFor } from '../../src/cache/redis-connection.js';
import { createPlaylistCache } from '../../src/cache/create-cache.js';
import { startCluster, type RedisCluster } from '../support/redis-cluster.js';

/**
 * `--redis redis+cluster://h1:p1,h2:p2` (issue #3 §1: "Sentinel/Cluster through ioredis options"): a real
 * 3-master Redis Cluster on loopback ports. Entry and lock keys share a `{hash}` tag, so the cross-replica
 * lock (SET NX + GET) stays on one node, and classic PUBLISH is broadcast to every node of the cluster.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const logger = { warn: () => undefined, info: () => undefined };

describe('redis cache on a Redis Cluster', function () {
  this.timeout(20_000);
  let cluster: RedisCluster;
  let ports: number[] = [];

  before(async () => {
    cluster = await startCluster({ masters: 3 });
    ports = cluster.ports;
  });
  after(async () => cluster?.stop());

  const cases: Array<{ url: string; nodes?: Array<{ host: string; port: number }>; tls?: boolean; password?: string; bad?: true }> = [
    { url: 'redis+cluster://a:7000,b:7001', nodes: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }] },
    { url: 'rediss+cluster://:s%40cret@a:7000/', nodes: [{ host: 'a', port: 7000 }], tls: true, password: 's@cret' },
    { url: 'redis+cluster://[::1]:7000,b', nodes: [{ host: '::1', port: 7000 }, { host: 'b', port: 6379 }] },
    { url: 'redis+cluster://a:7000/3', bad: true },
    { url: 'redis+cluster://a:notaport', bad: true },
  ];
  for (const c of cases) {
    it(`parses ${c.url}`, () => {
      if (c.bad) {
        expect(() => clusterOptionsFor(c.url)).to.throw();
        return;
      }
      const parsed = clusterOptionsFor(c.url)!;
      expect(parsed.nodes).to.deep.equal(c.nodes);
      expect(parsed.redisOptions.tls !== undefined).to.equal(c.tls === true);
      expect(parsed.redisOptions.password).to.equal(c.password);
    });
  }

  it('accepts redis+cluster:// and rediss+cluster:// as --redis', () => {
    for (const url of ['redis+cluster://127.0.0.1:7000', 'rediss+cluster://127.0.0.1:7000']) {
      expect(configFromOptions({ redis: url }).cache.redisUrl).to.equal(url);
    }
  });

  it('shares entries across instances and coalesces 50 concurrent gets into one fetch', async () => {
    const cfg = configFromOptions({ redis: cluster.url([ports[0]!, ports[1]!]) }).cache;
    const a = createPlaylistCache(cfg, { logger });
    const b = createPlaylistCache(cfg, { logger });
    try {
      for (let i = 0; i < 100 && (a.state() !== 'ok' || b.state() !== 'ok'); i++) await sleep(100);
      expect([a.state(), b.state()]).to.deep.equal(['ok', 'ok']);
      let fetches = 0;
      const fetcher = async () => {
        fetches++;
        // Long enough that every concurrent get arrives while the leader holds the lock.
        await sleep(200);
        return { status: 200, body: '#EXTM3U\n#EXT-X-ENDLIST\n', finalUrl: 'http://o.test/v.m3u8', contentType: 'application/vnd.apple.mpegurl', fetchedAt: 0 };
      };
      expect((await a.get('http://o.test/v.m3u8', fetcher)).result).to.equal('miss');
      expect((await b.get('http://o.test/v.m3u8', fetcher)).result).to.equal('hit');
      expect(fetches).to.equal(1);

      // Several keys, so the lock/entry pairs land on more than one master.
      for (const n of [1, 2, 3, 4, 5]) {
        fetches = 0;
        const url = `http://o.test/live-${n}.m3u8`;
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).get(url, fetcher)));
        expect(fetches, url).to.equal(1);
        expect(results.every((r) => r.entry.body === '#EXTM3U\n#EXT-X-ENDLIST\n'), url).to.equal(true);
      }
      // The entries really live in the cluster, on more than one master (key hashes are deterministic).
      const sizes = await Promise.all(ports.map(async (p) => Number(await cluster.call(p, 'dbsize'))));
      expect(sizes.filter((n) => n > 0).length).to.be.at.least(2);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
