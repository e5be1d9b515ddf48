/**
 * Graceful shutdown of the real CLI process (issue #6; docs/deploy.md "Stop timeouts"): on SIGTERM the
 * proxy stops accepting connections, lets in-flight responses finish within --shutdown-timeout, closes
 * Redis and exits 0. Service managers (systemd TimeoutStopSec, Compose stop_grace_period) rely on exactly
 * this: a segment being downloaded when a replica is stopped must arrive whole.
 *
 * The client holds the 20 MB download paused while SIGTERM arrives, so the transfer is provably in flight
 * (backpressure stalls the proxy's pipeline), then reads the rest; no assertion depends on elapsed time.
 */
import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { pausedDownload } from '../support/downloads.js';
import { getFixtures, patternBytes, type Fixtures } from '../support/hls-fixtures.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { hlsdUrl, startProxyProcess, type ProxyProcess } from '../support/proxy.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';

/** 'refused' once a fresh TCP connect gets ECONNREFUSED; polls while the listener is still closing. */
async function newConnectionsRefused(port: number, attempts = 200): Promise<string> {
  let last = 'never tried';
  for (let i = 0; i < attempts; i++) {
    last = await new Promise<string>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => { socket.destroy(); resolve('connected'); });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    if (last === 'ECONNREFUSED') return 'refused';
    await delay(20);
  }
  return last;
}

/** A raw connection that has sent all but the final CRLF of a GET; finish() sends it and reads to EOF. */
async function halfSentRequest(port: number, path: string): Promise<{ finish(): Promise<string> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  let reply = '';
  socket.setEncoding('latin1').on('data', (d: string) => (reply += d));
  const ended = new Promise<string>((resolve, reject) => {
    socket.once('end', () => resolve(reply));
    socket.once('error', reject);
  });
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n`);
  return {
    finish() {
      socket.write('\r\n');
      return ended.finally(() => socket.destroy());
    },
  };
}


describe('graceful shutdown of the CLI process (SIGTERM)', function () {
  this.timeout(40_000);
  let fixtures: Fixtures;
  let origin: Origin;
  let redis: RedisServer | undefined;
  const procs: ProxyProcess[] = [];

  before(async () => {
    fixtures = await getFixtures();
    origin = await startOrigin({ root: fixtures.root });
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await origin?.close();
    await redis?.stop();
  });

  // The origin is on loopback, which the egress policy refuses unless named (issue #5).
  const allowOrigin = (): string[] => ['--allow-upstream', `127.0.0.1:${origin.port}`];
  const bigUrl = (proxy: ProxyProcess): string => hlsdUrl(proxy.url, `${origin.url}/${fixtures.paths.bigFile}`, 'ts');

  /** The scenario of the brief, shared by the memory and Redis variants. */
  async function drainDuringDownload(proxy: ProxyProcess): Promise<void> {
    const agent = new http.Agent({ keepAlive: true });
    try {
      const dl = pausedDownload(bigUrl(proxy), agent);
      await dl.paused;
      expect(origin.activeResponses(), 'the origin response is still streaming').to.be.greaterThan(0);
      // A connection whose request is half sent is in flight too (not idle): it is finished, not dropped.
      const late = await halfSentRequest(proxy.port, '/healthz');

      proxy.child.kill('SIGTERM');
      expect(await newConnectionsRefused(proxy.port), 'a new connection after SIGTERM').to.equal('refused');
      expect(proxy.child.exitCode, 'still draining while the download is paused').to.equal(null);

      // RFC 9112 §9.6: a server that is shutting down answers with `Connection: close` and then closes, so
      // a keep-alive client cannot hold the draining process open (or send it more work).
      const lateReply = await late.finish();
      expect(lateReply).to.match(/^HTTP\/1\.1 200 /);
      expect(lateReply).to.match(/\r\nconnection: close\r\n/i);

      dl.resume();
      const got = await dl.done;
      expect(got.status).to.equal(200);
      expect(got.complete, got.error).to.equal(true);
      expect(got.body.length).to.equal(fixtures.bigFileSize);
      // Byte-exact: big/file-20m.bin is a period-251 pattern.
      expect(got.body.equals(patternBytes(0, fixtures.bigFileSize - 1)), 'body differs from the fixture').to.equal(true);

      expect(await proxy.exited, proxy.output()).to.equal(0);
      expect(proxy.output()).to.include('shutting down');
    } finally {
      agent.destroy();
    }
  }

  it('a 20 MB download in flight at SIGTERM completes byte-exact; new connections are refused; exit 0', async () => {
    const proxy = await startProxyProcess([...allowOrigin(), '--shutdown-timeout', '30000', '--log-level', 'info']);
    procs.push(proxy);
    await drainDuringDownload(proxy);
  });

  it('with --redis: drains the download, closes Redis, exits 0', async () => {
    redis = await startRedis();
    const proxy = await startProxyProcess([...allowOrigin(), '--shutdown-timeout', '30000', '--log-level', 'info', '--redis', redis.url]);
    procs.push(proxy);
    // Ready with Redis connected: /readyz says ok (degraded would mean the connection is not up). The proxy
    // accepts connections before its Redis client has finished connecting, so give it a moment.
    let state = '';
    for (let i = 0; i < 50 && !state.startsWith('ok'); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      state = await (await request(`${proxy.url}/readyz`)).body.text();
    }
    expect(state).to.match(/^ok/);

    const admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await admin.connect();
    try {
      // Connections other than this admin one are the proxy's (client + subscriber).
      const others = async (): Promise<number> => String(await admin.client('LIST')).trim().split('\n').length - 1;
      expect(await others(), 'proxy connections to redis before SIGTERM').to.be.greaterThan(0);
      await drainDuringDownload(proxy);
      // Exit alone would close the sockets too; the point checked here is that close() returned (exit 0,
      // not a hang on a Redis connection) and nothing is left behind.
      expect(await others(), 'proxy connections to redis after exit').to.equal(0);
      expect(proxy.output()).to.not.match(/"level":(50|60)/);
    } finally {
      admin.disconnect();
    }
  });

  it('with --redis, Redis gone before SIGTERM: still exits 0 (closing a dead connection does not hang)', async () => {
    const r = await startRedis();
    const proxy = await startProxyProcess([...allowOrigin(), '--shutdown-timeout', '30000', '--redis', r.url]);
    procs.push(proxy);
    await r.kill();
    expect(await proxy.stop('SIGTERM'), proxy.output()).to.equal(0);
  });

  it('a download still stalled when --shutdown-timeout runs out is cut, and the process exits 0', async () => {
    const proxy = await startProxyProcess([...allowOrigin(), '--shutdown-timeout', '1000']);
    procs.push(proxy);
    const agent = new http.Agent({ keepAlive: true });
    try {
      const dl = pausedDownload(bigUrl(proxy), agent);
      await dl.paused;
      proxy.child.kill('SIGTERM');
      expect(await proxy.exited, proxy.output()).to.equal(0);
      dl.resume();
      const got = await dl.done;
      expect(got.complete).to.equal(false);
      expect(got.body.length).to.be.below(fixtures.bigFileSize);
    } finally {
      agent.destroy();
    }
  });
});
