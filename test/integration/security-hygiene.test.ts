import { expect } from 'chai';
import type { ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { startOrigin, type Origin } from '../support/origin.js';
import { startProxy, type RunningProxy } from '../support/proxy.js';
import { makeSecurityRoot, rawRequest, tokenPath } from '../support/security-kit.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Request hygiene (issue #5 §4): malformed and hostile requests are refused before any upstream contact,
 * nothing sensitive crosses the proxy in either direction, and hostile upstream bodies are bounded.
 */

const MiB = 1024 * 1024;
const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64');

/** Writes playlist-looking bytes forever (until the reader goes away), `chunk` at a time, every `everyMs`. */
function endless(res: ServerResponse, chunk: string, everyMs: number): void {
  res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' });
  res.write('#EXTM3U\n');
  const tick = (): void => {
    if (res.destroyed) return;
    const more = res.write(chunk);
    if (everyMs > 0) setTimeout(tick, everyMs);
    else if (more) setImmediate(tick);
    else res.once('drain', tick);
  };
  tick();
}

describe('security: request hygiene and hostile upstream bodies', function () {
  this.timeout(30_000);
  let origin: Origin;
  let p: RunningProxy;

  before(async () => {
    origin = await startOrigin({ root: makeSecurityRoot() });
    p = await startProxy({
      'allow-upstream': [`127.0.0.1:${origin.port}`],
      'max-url-length': 1024,
      'max-header-size': 4096,
      'max-playlist-size': 2 * MiB,
      'playlist-timeout': 1500,
    });
  });
  after(async () => {
    await p?.close();
    await origin?.close();
  });
  beforeEach(() => {
    origin.clearLog();
    origin.clearOverrides();
  });

  const ok = (): string => tokenPath(`${origin.url}/ok.m3u8`);
  const raw = (head: string): Promise<{ status: number | undefined; text: string }> => rawRequest(p.port, head);

  describe('malformed HTTP (raw socket): 400/414/431, upstream never contacted', () => {
    const cases: Array<[string, () => string, number]> = [
      // RFC 9112 §6.1: a message with both is a smuggling attempt; a server ought to treat it as an error.
      ['Content-Length and Transfer-Encoding together', () => `GET ${ok()} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`, 400],
      ['two different Content-Length values', () => `GET ${ok()} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab`, 400],
      ['a NUL in a header value', () => `GET ${ok()} HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\nConnection: close\r\n\r\n`, 400],
      ['a bare LF inside a header line', () => `GET ${ok()} HTTP/1.1\r\nHost: x\r\nX-A: a\nX-B: b\r\nConnection: close\r\n\r\n`, 400],
      ['a URL longer than --max-url-length', () => `GET /${'A'.repeat(2000)}.m3u8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 414],
      ['headers larger than --max-header-size', () => `GET ${ok()} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\nConnection: close\r\n\r\n`, 431],
      ['a method other than GET/HEAD/OPTIONS', () => `POST ${ok()} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, 405],
      ['%0d%0a in the path after the token', () => `GET ${ok().replace('.m3u8', '%0d%0aX-Injected:%201.m3u8')} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 400],
      ['%0d%0a in the extension', () => `GET ${ok()}%0d%0a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 400],
      ['CR LF inside the embedded URL', () => `GET /${b64(`${origin.url}/ok.m3u8\r\nX-Injected: 1`)}.m3u8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 400],
      ['NUL inside the embedded URL', () => `GET /${b64(`${origin.url}/ok\0.m3u8`)}.m3u8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 400],
    ];
    for (const [label, head, status] of cases) {
      it(`${label} → ${status}`, async () => {
        const res = await raw(head());
        expect(res.status, res.text.slice(0, 200)).to.equal(status);
        expect(res.text).to.not.include('X-Injected');
        expect(origin.countRequests()).to.equal(0);
      });
    }
  });

  describe('hostile tokens: refused without upstream contact', () => {
    const tokens: Array<[string, () => string, number]> = [
      ['not base64', () => '/!!!!.m3u8', 400],
      ['truncated base64', () => `/${b64(`${origin.url}/ok.m3u8`).slice(0, 13)}.m3u8`, 400],
      ['bad padding', () => `/${b64(`${origin.url}/ok.m3u8`).replace(/=*$/, '')}===.m3u8`, 400],
      ['mixed alphabets', () => `/${b64(`${origin.url}/ok.m3u8`).replace(/.$/, '-').replace(/^(.)/, '+')}.m3u8`, 400],
      ['empty token', () => '/.m3u8', 400],
      ['longer than --max-url-length', () => `/${b64(`${origin.url}/${'a'.repeat(1500)}.m3u8`)}.m3u8`, 414],
      ['file: URL', () => `/${b64('file:///etc/passwd')}.m3u8`, 400],
      ['gopher: URL', () => `/${b64(`gopher://127.0.0.1:${origin.port}/_GET%20/`)}.ts`, 400],
      ['data: URL', () => `/${b64('data:application/vnd.apple.mpegurl,#EXTM3U')}.m3u8`, 400],
      ['javascript: URL', () => `/${b64('javascript:alert(1)')}.m3u8`, 400],
      ['scheme-relative URL', () => `/${b64(`//127.0.0.1:${origin.port}/ok.m3u8`)}.m3u8`, 400],
      ['unknown token segment', () => `/${b64(`${origin.url}/ok.m3u8`)}.x123.m3u8`, 400],
      ['over-long signature segment', () => `/${Buffer.from(`${origin.url}/ok.m3u8`).toString('base64url')}.s${'A'.repeat(300)}.m3u8`, 400],
    ];
    for (const [label, path, status] of tokens) {
      it(`${label} → ${status}`, async () => {
        const res = await request(`${p.url}${path()}`);
        const body = await res.body.text();
        expect(res.statusCode).to.equal(status);
        expect(body.length).to.be.lessThan(64); // a fixed catalogue message, nothing echoed
        expect(origin.countRequests()).to.equal(0);
      });
    }

    it('a percent-encoded CR LF inside the upstream URL stays percent-encoded: no header is injected upstream', async () => {
      const res = await request(`${p.url}${tokenPath(`${origin.url}/x%0d%0aX-Injected:%201/seg0.ts`, 'ts')}`);
      await res.body.text();
      expect(res.statusCode).to.equal(404);
      expect(origin.log[0]!.path).to.equal('/x%0d%0aX-Injected:%201/seg0.ts');
      expect(origin.log[0]!.headers).to.not.have.property('x-injected');
    });
  });

  describe('headers across the proxy', () => {
    it('hop-by-hop, Connection-named, Proxy-Authorization, Cookie and Authorization never reach the upstream (default)', async () => {
      const res = await raw(
        `GET ${tokenPath(`${origin.url}/seg0.ts`, 'ts')} HTTP/1.1\r\nHost: x\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\nTE: trailers\r\n` +
          'Proxy-Authorization: Basic cHJveHk6cHc=\r\nCookie: session=abc\r\nAuthorization: Bearer t0ken\r\nKeep-Alive: timeout=5\r\nRange: bytes=0-9\r\n\r\n',
      );
      expect(res.status).to.equal(206);
      const seen = origin.log[0]!.headers;
      for (const h of ['x-secret', 'te', 'proxy-authorization', 'cookie', 'authorization', 'keep-alive']) expect(seen, h).to.not.have.property(h);
      expect(seen.range).to.equal('bytes=0-9'); // the control: an allowlisted header does cross
    });

    it('Upgrade is not forwarded (and no upgrade happens)', async () => {
      const res = await raw(`GET ${tokenPath(`${origin.url}/seg0.ts`, 'ts')} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\r\n`);
      expect(res.status).to.not.equal(101);
      for (const e of origin.log) expect(e.headers).to.not.have.property('upgrade');
    });

    it('--forward-cookies / --forward-authorization forward them, except when the client names them in Connection', async () => {
      const fwd = await startProxy({ 'allow-upstream': [`127.0.0.1:${origin.port}`], 'forward-cookies': true, 'forward-authorization': true });
      try {
        const path = tokenPath(`${origin.url}/seg0.ts`, 'ts');
        await rawRequest(fwd.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n`);
        expect(origin.log[0]!.headers.cookie).to.equal('a=1');
        expect(origin.log[0]!.headers.authorization).to.equal('Bearer t');
        await rawRequest(fwd.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nConnection: close, Cookie\r\n\r\n`);
        expect(origin.log[1]!.headers).to.not.have.property('cookie');
      } finally {
        await fwd.close();
      }
    });

    it('upstream Set-Cookie never reaches the client, for segments and playlists', async () => {
      for (const path of [tokenPath(`${origin.url}/set-cookie/seg0.ts`, 'ts'), tokenPath(`${origin.url}/set-cookie/ok.m3u8`)]) {
        const res = await request(`${p.url}${path}`);
        await res.body.text();
        expect(res.statusCode).to.equal(200);
        expect(res.headers).to.not.have.property('set-cookie');
      }
      expect(origin.log.every((e) => e.path.includes('/set-cookie/'))).to.equal(true);
    });
  });

  describe('hostile upstream playlists are bounded', () => {
    it('a never-ending playlist body → 502 at --max-playlist-size, and the upstream read is aborted', async () => {
      origin.override('/endless-fast.m3u8', (_req, res) => endless(res, `#${'x'.repeat(16383)}\n`, 0));
      const res = await request(`${p.url}${tokenPath(`${origin.url}/endless-fast.m3u8`)}`);
      expect(res.statusCode).to.equal(502);
      expect(await res.body.text()).to.equal('upstream playlist exceeds the size limit\n');
      await waitFor('the upstream response to be aborted', () => origin.log[0]?.aborted === true);
    });

    it('a trickling never-ending playlist → 504 at --playlist-timeout, and the upstream read is aborted', async () => {
      origin.override('/endless-slow.m3u8', (_req, res) => endless(res, '#\n', 50));
      const res = await request(`${p.url}${tokenPath(`${origin.url}/endless-slow.m3u8`)}`);
      expect(res.statusCode).to.equal(504);
      await res.body.text();
      await waitFor('the upstream response to be aborted', () => origin.log[0]?.aborted === true);
    });

    it('a gzip bomb (32 MiB of playlist in 32 KiB) → 502 once the DECOMPRESSED size passes the limit', async () => {
      const bomb = gzipSync(Buffer.concat([Buffer.from('#EXTM3U\n'), Buffer.alloc(32 * MiB, 0x0a)]), { level: 9 });
      expect(bomb.length).to.be.lessThan(64 * 1024);
      origin.override('/bomb.m3u8', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', 'content-encoding': 'gzip', 'content-length': bomb.length });
        res.end(bomb);
      });
      const res = await request(`${p.url}${tokenPath(`${origin.url}/bomb.m3u8`)}`);
      expect(res.statusCode).to.equal(502);
      await res.body.text();
    });

    const longLines: Array<[string, string]> = [
      ['a 1 MiB URI line', `#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n${'a'.repeat(MiB)}.ts\n#EXT-X-ENDLIST\n`],
      ['a 1 MiB quoted attribute', `#EXTM3U\n#EXT-X-DATERANGE:ID="x",START-DATE="2020-01-01T00:00:00Z",X-DATA="${'a'.repeat(MiB)}"\n#EXTINF:4,\nseg0.ts\n`],
      ['a 1 MiB line of unbalanced quotes and commas', `#EXTM3U\n#EXT-X-KEY:${'URI=",'.repeat(MiB / 8)}\n#EXTINF:4,\nseg0.ts\n`],
      ['a 1 MiB #EXT-X-DEFINE line', `#EXTM3U\n#EXT-X-DEFINE:NAME="v",VALUE="${'{$v}'.repeat(MiB / 8)}"\n#EXTINF:4,\n{$v}{$v}.ts\n`],
    ];
    for (const [label, body] of longLines) {
      it(`${label}: answered (200, a playlist), the proxy stays responsive`, async () => {
        origin.override('/long.m3u8', (_req, res) => void res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' }).end(body));
        const res = await request(`${p.url}${tokenPath(`${origin.url}/long.m3u8?${label.length}-${body.length}`)}`);
        const text = await res.body.text();
        expect(res.statusCode).to.equal(200);
        expect(text.startsWith('#EXTM3U')).to.equal(true);
        const health = await request(`${p.url}/healthz`);
        await health.body.text();
        expect(health.statusCode).to.equal(200);
      });
    }
  });

  describe('slow-loris', () => {
    it('a client that dribbles its headers is cut off after the headers timeout; a normal request still works', async () => {
      const slow = await startProxy({}, { serverTimeouts: { headersMs: 400, requestMs: 800, checkIntervalMs: 100 } });
      try {
        const { connect } = await import('node:net');
        const socket = connect({ host: '127.0.0.1', port: slow.port });
        let received = '';
        let sent = 0;
        const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
        socket.on('error', () => undefined);
        socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
        const timer = setInterval(() => {
          if (socket.destroyed || sent >= 200) return clearInterval(timer);
          socket.write(`X-Drip-${sent++}: y\r\n`); // never the final empty line
        }, 50);
        await closed;
        clearInterval(timer);
        expect(sent).to.be.lessThan(200); // cut off by the server, not by this test giving up
        expect(received).to.match(/^HTTP\/1\.1 408 /); // RFC 9110 §15.5.9
        const res = await request(`${slow.url}/healthz`);
        await res.body.text();
        expect(res.statusCode).to.equal(200);
      } finally {
        await slow.close();
      }
    });
  });
});
