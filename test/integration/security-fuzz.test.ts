import { expect } from 'chai';
import { request } from 'undici';
import { startOrigin, type Origin } from '../support/origin.js';
import { startProxy, type RunningProxy } from '../support/proxy.js';
import { makeSecurityRoot, rawRequest, tableResolver } from '../support/security-kit.js';

/**
 * A bounded fuzz run of the HTTP front (issue #5 §4): 5 s of random paths, tokens, methods and headers
 * over raw sockets. The proxy must stay up, every answer must be a well-formed HTTP/1.1 response with an
 * expected status (never a 500), and the upstream the policy refuses must never be contacted. Targets are
 * loopback or names a table resolver refuses to resolve, so nothing can leave the machine.
 */

const DURATION_MS = 5000;
const WORKERS = 4;
const STATUSES = new Set([200, 204, 206, 304, 400, 403, 404, 405, 412, 414, 416, 431, 502, 504]);

/** mulberry32: small, seeded, so a failure names a reproducible seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('security: fuzzing the HTTP front (bounded, 5 s)', function () {
  this.timeout(30_000);
  let origin: Origin;
  let secret: Origin;
  let proxy: RunningProxy;

  before(async () => {
    const root = makeSecurityRoot();
    origin = await startOrigin({ root });
    secret = await startOrigin({ root });
    proxy = await startProxy(
      { 'allow-upstream': [`127.0.0.1:${origin.port}`], 'max-url-length': 2048, 'max-header-size': 4096, 'playlist-timeout': 2000 },
      { resolveHost: tableResolver({}) },
    );
  });
  after(async () => {
    await proxy?.close();
    await origin?.close();
    await secret?.close();
  });

  it('stays up; every response is well-formed with an expected status; the refused upstream is never contacted', async () => {
    const seed = Date.now() % 1_000_000;
    const rand = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const int = (n: number): number => Math.floor(rand() * n);
    const hosts = [
      `127.0.0.1:${origin.port}`, `127.0.0.1:${secret.port}`, `2130706433:${secret.port}`, `[::1]:${secret.port}`,
      `localhost:${secret.port}`, 'x.test', `127.0.0.1:${origin.port}@127.0.0.1:${secret.port}`, `127.0.0.1:${origin.port}.`,
    ];
    const paths = ['/ok.m3u8', '/seg0.ts', '/sub/ok.m3u8', '/gzip/ok.m3u8', '/redirect/2/ok.m3u8', '/status/500', '/nope', '/set-cookie/seg0.ts'];
    const junk = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(0x21 + int(94))).join('');

    const randomUrl = (): string => `${pick(['http', 'https', 'HTTP', 'ftp', 'file', ''])}://${pick(hosts)}${pick(paths)}${rand() < 0.3 ? `?${junk(int(20))}` : ''}`;
    const encode = (url: string): string =>
      rand() < 0.5 ? Buffer.from(url).toString('base64url') : encodeURIComponent(Buffer.from(url).toString('base64'));
    function mutate(s: string): string {
      const i = int(s.length + 1);
      switch (int(6)) {
        case 0: return s.slice(0, i);
        case 1: return s.slice(0, i) + junk(1 + int(3)) + s.slice(i);
        case 2: return s.slice(0, i) + pick(['%00', '%0d%0a', '%2e%2e/', '%', '%zz', '//', '.s', '.v', '.r', '..']) + s.slice(i);
        case 3: return s.slice(0, i) + s.slice(i + 1 + int(4));
        case 4: return s + s;
        default: return s;
      }
    }
    function randomPath(): string {
      const ext = pick(['m3u8', 'ts', 'key', 'mp4', '', 'M3U8', junk(3)]);
      let p = `${pick(['', '', '/hls-proxy', '/a/b'])}/${encode(randomUrl())}.${ext}`;
      if (rand() < 0.5) p = mutate(p);
      if (rand() < 0.1) p = pick(['/', '/healthz', '/readyz', '/metrics', '*', `/${junk(int(3000))}`, '/../../etc/passwd']);
      if (rand() < 0.2) p += `?${pick(['_HLS_msn=1', 'password=x', junk(10), '%', 'a=%0d%0a'])}`;
      return p.replace(/[\s]/g, '%20');
    }
    const headerNames = ['Range', 'If-None-Match', 'If-Range', 'Forwarded', 'X-Forwarded-For', 'X-Forwarded-Host', 'X-Forwarded-Proto',
      'X-Forwarded-Prefix', 'Connection', 'Cookie', 'Authorization', 'X-HLS-Sidecar-Password', 'Accept-Encoding', 'Origin', 'TE', 'Upgrade', 'X-Request-Id'];
    const headerValues = ['bytes=0-9', 'bytes=-5', 'bytes=9-0', '*', 'for=127.0.0.1;host=evil.test', '10.0.0.1, 127.0.0.1', 'close', 'gzip',
      'https', '/p', '"x"', 'a=b', 'websocket', () => junk(int(200))];
    let count = 0;
    const deadline = Date.now() + DURATION_MS;

    async function worker(): Promise<void> {
      while (Date.now() < deadline) {
        const method = pick(['GET', 'GET', 'GET', 'HEAD', 'OPTIONS', 'POST', 'BREW']);
        const lines = [`${method} ${randomPath()} HTTP/1.1`, 'Host: 127.0.0.1'];
        for (let h = int(4); h > 0; h--) {
          const v = pick(headerValues);
          lines.push(`${pick(headerNames)}: ${typeof v === 'function' ? v() : v}`);
        }
        lines.push('Connection: close');
        const req = `${lines.join('\r\n')}\r\n\r\n`;
        const res = await rawRequest(proxy.port, req, 10_000);
        count++;
        const why = `seed ${seed}, request:\n${req}\nresponse:\n${res.text.slice(0, 300)}`;
        expect(res.status, why).to.not.equal(undefined);
        expect(STATUSES.has(res.status!), why).to.equal(true);
        const headEnd = res.text.indexOf('\r\n\r\n');
        expect(headEnd, why).to.be.greaterThan(0);
        const length = /\r\ncontent-length: (\d+)\r\n/i.exec(res.text.slice(0, headEnd + 2));
        if (length && method !== 'HEAD' && res.status !== 304 && res.status !== 204) {
          expect(Buffer.byteLength(res.text.slice(headEnd + 4), 'latin1'), why).to.equal(Number(length[1]));
        }
      }
    }
    await Promise.all(Array.from({ length: WORKERS }, worker));

    expect(count).to.be.greaterThan(50);
    expect(secret.countRequests(), `seed ${seed}`).to.equal(0);
    expect(origin.countRequests()).to.be.greaterThan(0); // the fuzz did reach the allowed upstream
    const health = await request(`${proxy.url}/healthz`);
    await health.body.text();
    expect(health.statusCode).to.equal(200);
  });
});
