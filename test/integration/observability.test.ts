import { expect } from 'chai';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { createLogger } from '../../src/observability/logger.js';
import { getFixtures, type Fixtures } from '../support/hls-fixtures.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { freePort } from '../support/ports.js';
import { hlsdUrl, startProxy, startProxyProcess, type RunningProxy } from '../support/proxy.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Issue #7 §3: Prometheus metrics, a separate metrics port, structured JSON request logs with a request id,
 * and no secret ever logged in full. Metric values are read back from /metrics, logs through a pino
 * destination handed to the app.
 */

/** The value of one sample line (`name{labels} value`), 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_:]+)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return 0;
}

async function metricsOf(base: string): Promise<string> {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).to.equal(200);
  expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

function logCapture(): { lines: Array<Record<string, unknown>>; raw: () => string; stream: Writable } {
  let raw = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw += chunk.toString();
      done();
    },
  });
  return { lines: [], raw: () => raw, stream };
}

function parseLines(raw: string): Array<Record<string, unknown>> {
  return raw.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('observability: metrics, metrics port, request logs', function () {
  this.timeout(60_000);
  let fixtures: Fixtures;
  let origin: Origin;

  before(async () => {
    fixtures = await getFixtures();
    origin = await startOrigin({ root: fixtures.root });
  });
  after(() => origin?.close());
  beforeEach(() => origin.clearLog());

  describe('/metrics', () => {
    let proxy: RunningProxy;
    before(async () => {
      proxy = await startProxy({ 'headers-timeout': 500, 'body-timeout': 60_000 });
    });
    after(() => proxy?.close());

    it('requests by route and status, a latency histogram, cache results, upstream requests and errors by host', async () => {
      const playlist = hlsdUrl(proxy.url, `${origin.url}/${fixtures.paths.vodVariants[1]}`);
      await (await fetch(playlist)).text(); // miss
      await (await fetch(playlist)).text(); // hit
      await (await fetch(hlsdUrl(proxy.url, `${origin.url}/status/503/x.ts`, 'ts'))).text();
      await (await fetch(hlsdUrl(proxy.url, `${origin.url}/hang`, 'ts'))).text();
      const m = await metricsOf(proxy.url);
      expect(sample(m, 'hls_sidecar_requests_total', { route: 'playlist', status: '200' })).to.equal(2);
      expect(sample(m, 'hls_sidecar_requests_total', { route: 'stream', status: '502' })).to.equal(1);
      expect(sample(m, 'hls_sidecar_requests_total', { route: 'stream', status: '504' })).to.equal(1);
      expect(sample(m, 'hls_sidecar_request_duration_seconds_count', { route: 'playlist' })).to.equal(2);
      expect(sample(m, 'hls_sidecar_request_duration_seconds_bucket', { route: 'playlist', le: '+Inf' })).to.equal(2);
      expect(sample(m, 'hls_sidecar_cache_hits_total')).to.equal(1);
      expect(sample(m, 'hls_sidecar_cache_misses_total')).to.equal(1);
      expect(m).to.include('hls_sidecar_cache_coalesced_total');
      expect(m).to.include('hls_sidecar_cache_stale_total');
      expect(sample(m, 'hls_sidecar_cache_state')).to.equal(0); // in-process cache
      expect(sample(m, 'hls_sidecar_upstream_requests_total', { host: '127.0.0.1', type: 'playlist' })).to.equal(1);
      expect(sample(m, 'hls_sidecar_upstream_requests_total', { host: '127.0.0.1', type: 'media' })).to.equal(2);
      expect(sample(m, 'hls_sidecar_upstream_errors_total', { host: '127.0.0.1', code: 'UPSTREAM_STATUS' })).to.equal(1);
      expect(sample(m, 'hls_sidecar_upstream_errors_total', { host: '127.0.0.1', code: 'UPSTREAM_HEADERS_TIMEOUT' })).to.equal(1);
    });

    it('bytes streamed counts the bytes actually sent: a whole segment exactly, an abandoned download only its part', async () => {
      const before = sample(await metricsOf(proxy.url), 'hls_sidecar_bytes_streamed_total');
      const seg = await fetch(hlsdUrl(proxy.url, `${origin.url}/${fixtures.paths.vodFirstSegment}`, 'ts'));
      const size = (await seg.arrayBuffer()).byteLength;
      await waitFor('bytes streamed to reach the body size', async () => sample(await metricsOf(proxy.url), 'hls_sidecar_bytes_streamed_total') === before + size);

      const mid = sample(await metricsOf(proxy.url), 'hls_sidecar_bytes_streamed_total');
      const res = await request(hlsdUrl(proxy.url, `${origin.url}/${fixtures.paths.bigFile}`, 'bin'));
      expect(Number(res.headers['content-length'])).to.equal(fixtures.bigFileSize);
      for await (const _chunk of res.body) break; // one chunk, then hang up
      await waitFor('open streams to drop to 0', async () => sample(await metricsOf(proxy.url), 'hls_sidecar_open_streams') === 0);
      const sent = sample(await metricsOf(proxy.url), 'hls_sidecar_bytes_streamed_total') - mid;
      expect(sent).to.be.greaterThan(0);
      expect(sent).to.be.lessThan(fixtures.bigFileSize);
    });

    it('open streams: a stalled download counts while it lasts', async () => {
      const res = await request(hlsdUrl(proxy.url, `${origin.url}/stall/${fixtures.paths.bigSegment}`, 'ts'));
      expect(res.statusCode).to.equal(200);
      expect(sample(await metricsOf(proxy.url), 'hls_sidecar_open_streams')).to.equal(1);
      res.body.destroy();
      await waitFor('open streams to drop to 0', async () => sample(await metricsOf(proxy.url), 'hls_sidecar_open_streams') === 0);
    });
  });

  it('Redis state is exported: up while it answers, down when it is gone', async () => {
    let redis: RedisServer | undefined = await startRedis();
    const proxy = await startProxy({ redis: redis.url, 'redis-timeout': 200 });
    try {
      await (await fetch(hlsdUrl(proxy.url, `${origin.url}/${fixtures.paths.vodVariants[0]}`))).text();
      let m = await metricsOf(proxy.url);
      expect(sample(m, 'hls_sidecar_redis_up')).to.equal(1);
      expect(sample(m, 'hls_sidecar_cache_state')).to.equal(1);
      await redis.kill();
      redis = undefined;
      await waitFor('the cache state metric to read degraded (2)', async () => {
        await (await fetch(hlsdUrl(proxy.url, `${origin.url}/${fixtures.paths.vodVariants[1]}`))).text();
        m = await metricsOf(proxy.url);
        return sample(m, 'hls_sidecar_cache_state') === 2;
      });
      expect(m).to.match(/^hls_sidecar_redis_up 0$/m);
    } finally {
      await proxy.close();
      await redis?.stop();
    }
  });

  it('--metrics-port serves /metrics and /readyz on their own port; nothing else there', async () => {
    const port = await freePort();
    const proxy = await startProxy({ 'metrics-port': port });
    try {
      expect(proxy.app.metricsAddress()?.port).to.equal(port);
      const side = `http://127.0.0.1:${port}`;
      expect(await metricsOf(side)).to.include('hls_sidecar_requests_total');
      const ready = await fetch(`${side}/readyz`);
      expect([ready.status, await ready.text()]).to.deep.equal([200, 'ok\n']);
      const other = await fetch(hlsdUrl(side, `${origin.url}/${fixtures.paths.vodMaster}`));
      expect(other.status).to.equal(404);
      await other.text();
      expect(origin.countRequests()).to.equal(0);
    } finally {
      await proxy.close();
    }
  });

  describe('request logs', () => {
    const SIGN_KEY = 'sign-key-0123456789-abcdefghij';
    const PASSWORD = 'hunter2-very-secret';
    const UPSTREAM_SECRET = 'cdn-token-s3cr3t-value-42';

    it('one JSON line per request at debug (-v 3): id (X-Request-Id from a trusted peer), method, route, status, duration, upstream host, cache result', async () => {
      const cap = logCapture();
      const proxy = await startProxy({}, { logger: createLogger('debug', cap.stream) });
      try {
        const url = hlsdUrl(proxy.url, `${origin.url}/${fixtures.paths.vodVariants[0]}`);
        const r1 = await fetch(url, { headers: { 'x-request-id': 'edge-abc.123' } });
        expect(r1.headers.get('x-request-id')).to.equal('edge-abc.123');
        await r1.text();
        await (await fetch(url)).text();
        await (await fetch(`${proxy.url}/healthz`, { headers: { 'x-request-id': 'bad id with spaces' } })).text();
      } finally {
        await proxy.close();
      }
      const lines = parseLines(cap.raw()).filter((l) => l.msg === 'request');
      expect(lines).to.have.length(3);
      const [first, second, third] = lines as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
      expect(first).to.include({ id: 'edge-abc.123', method: 'GET', route: 'playlist', status: 200, upstreamHost: '127.0.0.1', cache: 'miss', level: 20 });
      expect(first.ms).to.be.a('number');
      expect(second).to.include({ route: 'playlist', cache: 'hit' });
      // Made here: a per-process random prefix and a counter (src/observability/request-id.ts).
      expect(second.id).to.match(/^[0-9a-f]{12}-[0-9a-z]+$/);
      expect(third.id).to.match(/^[0-9a-f]{12}-[0-9a-z]+$/).and.not.equal(second.id);
      expect(third).to.include({ route: 'healthz', status: 200 });
      expect(third.id).to.not.equal('bad id with spaces');
    });

    it('X-Request-Id from an untrusted peer is replaced', async () => {
      const cap = logCapture();
      const proxy = await startProxy({ 'trust-proxy': ['none'] }, { logger: createLogger('info', cap.stream) });
      try {
        const res = await fetch(`${proxy.url}/healthz`, { headers: { 'x-request-id': 'spoofed-id' } });
        expect(res.headers.get('x-request-id')).to.not.equal('spoofed-id');
        await res.text();
      } finally {
        await proxy.close();
      }
      const [line] = parseLines(cap.raw()).filter((l) => l.msg === 'request');
      expect(line?.id).to.not.equal('spoofed-id');
    });

    it('tokens, signing keys, passwords and upstream query secrets never appear in full, even at trace level', async () => {
      const cap = logCapture();
      const proxy = await startProxy(
        { 'sign-key': [SIGN_KEY], 'acl-pass': [PASSWORD], 'require-signature': false, 'log-level': 'trace' },
        { logger: createLogger('trace', cap.stream) },
      );
      const upstream = `${origin.url}/${fixtures.paths.vodVariants[0]}?token=${UPSTREAM_SECRET}`;
      const token = hlsdUrl(proxy.url, upstream).slice(proxy.url.length + 1);
      try {
        const ok = await fetch(`${proxy.url}/${token}?password=${PASSWORD}`);
        const text = await ok.text();
        const child = text.split('\n').find((l) => l.startsWith('http'));
        if (child) await (await fetch(child)).arrayBuffer();
        await (await fetch(`${proxy.url}/${token}?password=wrong-${PASSWORD}`)).text();
        await (await fetch(`${proxy.url}/${token}`, { headers: { 'x-hls-sidecar-password': PASSWORD } })).text();
      } finally {
        await proxy.close();
      }
      const raw = cap.raw();
      expect(parseLines(raw).filter((l) => l.msg === 'request').length).to.be.at.least(3);
      for (const secret of [SIGN_KEY, PASSWORD, UPSTREAM_SECRET, token, token.slice(10, 60)]) {
        expect(raw.includes(secret), `log contains ${secret.slice(0, 12)}…`).to.equal(false);
      }
    });
  });

  it('the start-up banner: address, public base, cache, egress, and warnings for risky settings, without secrets', async () => {
    const proc = await startProxyProcess([
      '--req-insecure', '--trust-proxy', 'all', '--http-proxy', 'http://proxyuser:proxy-pass-123@127.0.0.1:9',
      '--header', 'Authorization: Bearer upstream-bearer-456', '--host', 'tv.example:443', '--prefix', '/hls-proxy', '--prefetch',
    ]);
    const out = await (async () => {
      try {
        await (await fetch(`${proc.url}/hls-proxy/healthz`)).text();
        return proc.output();
      } finally {
        await proc.stop();
      }
    })();
    const lines = parseLines(out.split('\n').filter((l) => l.startsWith('{')).join('\n'));
    const banner = lines.find((l) => String(l.msg).startsWith('hls-sidecar listening on'));
    expect(banner).to.not.equal(undefined);
    expect(banner!.listen).to.equal(`http://127.0.0.1:${proc.port}`);
    expect(banner!.publicBase).to.equal('https://tv.example/hls-proxy');
    expect(banner!.cache).to.deep.include({ backend: 'memory', state: 'memory' });
    expect(banner!.egress).to.deep.include({ via: 'http://***@127.0.0.1:9', tls: 'certificates NOT verified', headers: ['authorization'] });
    expect(banner!.prefetch).to.deep.equal({ maxSegments: 20, cacheTimeoutSec: 60 });
    const warnings = lines.filter((l) => l.level === 40).map((l) => String(l.msg));
    expect(warnings.some((w) => w.includes('--req-insecure'))).to.equal(true);
    expect(warnings.some((w) => w.includes('--trust-proxy trusts every peer'))).to.equal(true);
    expect(warnings.some((w) => w.includes('credentials travel in clear text'))).to.equal(true);
    for (const secret of ['proxy-pass-123', 'upstream-bearer-456']) expect(out).to.not.include(secret);
  });
});
