import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromOptions } from '../../src/config.js';
import { createPlaylistCache } from '../../src/cache/create-cache.js';
import { startRedis, freePort, type RedisServer } from '../support/redis-server.js';

/**
 * `--redis redis+sentinel://host:port/masterName` (issue #3 §1: "Sentinel/Cluster through ioredis options"):
 * a real redis-server master and a real Sentinel (redis-server --sentinel) on loopback ports; the cache finds
 * the master through the Sentinel and shares entries between two instances.
 */
describe('redis cache through Sentinel', function () {
  this.timeout(30_000);
  let master: RedisServer;
  let sentinel: ChildProcess | undefined;
  let dir: string;
  let sentinelPort: number;

  before(async () => {
    master = await startRedis();
    sentinelPort = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'hls-sidecar-sentinel-'));
    const conf = join(dir, 'sentinel.conf');
    // Sentinel rewrites its config file, so it must be writable and its own.
    writeFileSync(conf, `port ${sentinelPort}\nbind 127.0.0.1\nsentinel monitor media 127.0.0.1 ${master.port} 1\n`);
    sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    process.once('exit', () => sentinel?.kill('SIGKILL'));
  });
  after(async () => {
    sentinel?.kill('SIGKILL');
    await master?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the master through the Sentinel and shares entries across instances', async () => {
    const cfg = configFromOptions({ redis: `redis+sentinel://127.0.0.1:${sentinelPort}/media` }).cache;
    const logger = { warn: () => undefined, info: () => undefined };
    const a = createPlaylistCache(cfg, { logger });
    const b = createPlaylistCache(cfg, { logger });
    try {
      for (let i = 0; i < 100 && (a.state() !== 'ok' || b.state() !== 'ok'); i++) await new Promise((r) => setTimeout(r, 100));
      expect([a.state(), b.state()]).to.deep.equal(['ok', 'ok']);
      let fetches = 0;
      const fetcher = async () => {
        fetches++;
        return { status: 200, body: '#EXTM3U\n#EXT-X-ENDLIST\n', finalUrl: 'http://o.test/v.m3u8', contentType: 'application/vnd.apple.mpegurl', fetchedAt: 0 };
      };
      expect((await a.get('http://o.test/v.m3u8', fetcher)).result).to.equal('miss');
      expect((await b.get('http://o.test/v.m3u8', fetcher)).result).to.equal('hit');
      expect(fetches).to.equal(1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
