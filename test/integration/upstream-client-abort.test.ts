import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGzip } from 'node:zlib';
import { configFromOptions } from '../../src/config.js';
import { ProxyError } from '../../src/errors.js';
import { createUpstream, type Upstream } from '../../src/upstream/client.js';

/**
 * fetchPlaylist's overall deadline and the caller's signal cancel the upstream request through a RequestAbort
 * (src/upstream/request-abort.ts) rather than an AbortController: undici must still abort before the
 * headers, mid-body (plain and gzip) and between redirect hops, and the upstream socket must be closed.
 */
describe('upstream client: playlist deadline and cancel (RequestAbort)', function () {
  this.timeout(20_000);
  let server: http.Server;
  let base: string;
  let upstream: Upstream;
  let closed = 0;
  const seen: string[] = [];
  const sockets = new Set<import('node:net').Socket>();

  // Trickles a playlist forever: each chunk well within the body timeout, the whole past the deadline.
  const trickle = (res: http.ServerResponse, gzip: boolean): void => {
    res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
    const z = gzip ? createGzip() : undefined;
    z?.pipe(res);
    const write = (text: string): void => {
      if (!z) res.write(text);
      else z.write(text, () => z.flush()); // one valid, still unfinished gzip stream
    };
    let i = 0;
    write('#EXTM3U\n');
    const t = setInterval(() => write(`#EXTINF:1,\nseg${i++}.ts\n`), 40);
    res.on('close', () => {
      clearInterval(t);
      z?.destroy();
    });
  };

  before(async () => {
    server = http.createServer((req, res) => {
      const path = req.url ?? '/';
      seen.push(path);
      if (path.startsWith('/hang')) return; // never answers
      if (path.startsWith('/trickle-gzip')) return trickle(res, true);
      if (path.startsWith('/trickle')) return trickle(res, false);
      if (path.startsWith('/redirect-slow')) {
        setTimeout(() => res.writeHead(302, { location: '/hang' }).end(), 100);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' }).end('#EXTM3U\n#EXT-X-ENDLIST\n');
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => {
        sockets.delete(s);
        closed++;
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    upstream = createUpstream(configFromOptions({ 'playlist-timeout': 400, 'headers-timeout': 5000, 'body-timeout': 5000 }));
  });

  after(async () => {
    await upstream.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const code = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
      return 'resolved';
    } catch (err) {
      return err instanceof ProxyError ? err.code : String(err);
    }
  };

  /** Waits until the server has seen `n` more upstream sockets close than `from`. */
  const socketsClosed = async (from: number, n = 1): Promise<void> => {
    for (let i = 0; i < 100 && closed < from + n; i++) await new Promise((r) => setTimeout(r, 20));
    expect(closed - from, 'upstream sockets closed').to.be.at.least(n);
  };

  it('a normal fetch still works (control)', async () => {
    const p = await upstream.fetchPlaylist(`${base}/ok.m3u8`, { headers: {} });
    expect(p.body).to.equal('#EXTM3U\n#EXT-X-ENDLIST\n');
  });

  for (const [name, path] of [
    ['no headers', '/hang'],
    ['a plain body that never ends', '/trickle'],
    ['a gzip body that never ends', '/trickle-gzip'],
    ['a redirect to an upstream that never answers', '/redirect-slow'],
  ] as const) {
    it(`the deadline ends a fetch with ${name}: UPSTREAM_TIMEOUT, and the upstream socket is closed`, async () => {
      const before = closed;
      // UPSTREAM_TIMEOUT is the overall deadline's code; the 5 s phase timeouts would give other codes.
      expect(await code(upstream.fetchPlaylist(`${base}${path}`, { headers: {} }))).to.equal('UPSTREAM_TIMEOUT');
      await socketsClosed(before);
    });
  }

  for (const [name, path] of [
    ['before the headers', '/hang'],
    ['mid-body', '/trickle'],
  ] as const) {
    it(`the caller's signal cancels ${name}: CLIENT_GONE, and the upstream socket is closed`, async () => {
      const before = closed;
      const controller = new AbortController();
      const p = code(upstream.fetchPlaylist(`${base}${path}`, { headers: {}, signal: controller.signal }));
      setTimeout(() => controller.abort(), 100);
      expect(await p).to.equal('CLIENT_GONE');
      await socketsClosed(before);
    });
  }

  it('an already aborted signal never reaches the upstream', async () => {
    const controller = new AbortController();
    controller.abort();
    expect(await code(upstream.fetchPlaylist(`${base}/hang-never`, { headers: {}, signal: controller.signal }))).to.equal('CLIENT_GONE');
    // Nothing else is in flight: a control fetch after it arrives first if the aborted one was dispatched.
    await upstream.fetchPlaylist(`${base}/ok.m3u8?after`, { headers: {} });
    expect(seen).to.not.include('/hang-never');
  });
});
