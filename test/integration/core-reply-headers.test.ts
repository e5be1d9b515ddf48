/**
 * The headers every reply carries, whatever route wrote it (issue #2 §7 CORS; issue #7 X-Request-Id): the
 * playlist and stream routes put them into their single writeHead (routes/respond.ts#setHeaders), every
 * other route sets them before writing. One table of replies, each checked the same way, so a route that
 * forgets them fails here.
 */
import { expect } from 'chai';
import { request } from 'undici';
import { hlsdUrl, OFFLOAD_STAGE } from '../support/proxy.js';
import { useStage, type Stage } from '../support/stage.js';

const EXPOSED = 'Age, Content-Length, Content-Range, X-HLS-Sidecar-Cache';

interface Case {
  name: string;
  status: number;
  url: (stage: Stage) => string;
  method?: 'GET' | 'HEAD' | 'OPTIONS' | 'POST';
  headers?: Record<string, string>;
}

const CASES: Case[] = [
  { name: 'playlist (miss, then hit)', status: 200, url: (s) => hlsdUrl(s.proxy.url, `${s.origin.url}/${s.fixtures.paths.vodVariants[0]}`) },
  { name: 'playlist (hit)', status: 200, url: (s) => hlsdUrl(s.proxy.url, `${s.origin.url}/${s.fixtures.paths.vodVariants[0]}`) },
  { name: 'playlist HEAD', status: 200, method: 'HEAD', url: (s) => hlsdUrl(s.proxy.url, `${s.origin.url}/${s.fixtures.paths.vodVariants[0]}`) },
  { name: 'segment (streamed)', status: 200, url: (s) => hlsdUrl(s.proxy.url, `${s.origin.url}/${s.fixtures.paths.bigSegment}`, 'ts') },
  { name: 'segment Range', status: 206, headers: { range: 'bytes=0-99' }, url: (s) => hlsdUrl(s.proxy.url, `${s.origin.url}/${s.fixtures.paths.bigSegment}`, 'ts') },
  { name: 'playlist found at a segment URL (rewritten)', status: 200, url: (s) => hlsdUrl(s.proxy.url, `${s.origin.url}/${s.fixtures.paths.vodVariants[1]}`, 'ts') },
  { name: 'upstream 404 on a playlist', status: 404, url: (s) => hlsdUrl(s.proxy.url, `${s.origin.url}/status/404`) },
  { name: 'upstream 404 on a segment', status: 404, url: (s) => hlsdUrl(s.proxy.url, `${s.origin.url}/status/404`, 'ts') },
  // Behind nginx (HLS_TEST_OFFLOAD=1) a token nginx itself refuses (`%%%`) would test nginx: one it passes.
  { name: 'malformed token', status: 400, url: (s) => `${s.proxy.url}/${OFFLOAD_STAGE ? '!!!' : '%%%'}.m3u8` },
  { name: 'unknown path', status: 404, url: (s) => `${s.proxy.url}/` },
  { name: 'method not allowed', status: 405, method: 'POST', url: (s) => `${s.proxy.url}/healthz` },
  { name: 'healthz', status: 200, url: (s) => `${s.proxy.url}/healthz` },
  { name: 'preflight', status: 204, method: 'OPTIONS', headers: { 'access-control-request-method': 'GET' }, url: (s) => hlsdUrl(s.proxy.url, `${s.origin.url}/a.ts`, 'ts') },
];

async function reply(stage: Stage, c: Case, origin: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  const res = await request(c.url(stage), { method: c.method ?? 'GET', headers: { origin, ...c.headers } });
  await res.body.dump();
  return { status: res.statusCode, headers: res.headers };
}

describe('headers on every reply: X-Request-Id and CORS, whichever route answered', function () {
  this.timeout(30_000);

  describe('--cors-origin "*" (default)', function () {
    const stage = useStage();
    for (const c of CASES) {
      it(`${c.name}: ${c.status}, with X-Request-Id and CORS`, async () => {
        const r = await reply(stage, c, 'https://dash.example');
        expect(r.status).to.equal(c.status);
        expect(String(r.headers['x-request-id'])).to.match(/^[0-9a-f]{12}-[0-9a-z]+$/);
        expect(r.headers['access-control-allow-origin']).to.equal('*');
        if (c.name !== 'preflight') expect(r.headers['access-control-expose-headers']).to.equal(EXPOSED);
      });
    }
  });

  describe('--cors-origin with a list: the Origin echoed when listed, Vary: Origin always', function () {
    const stage = useStage({ 'cors-origin': 'https://dash.example,https://ops.example', 'cors-credentials': true });
    for (const c of CASES.filter((x) => ['playlist (hit)', 'segment (streamed)', 'upstream 404 on a playlist', 'healthz'].includes(x.name))) {
      it(`${c.name}: listed origin echoed with credentials; another one gets none`, async () => {
        const listed = await reply(stage, c, 'https://ops.example');
        expect(listed.status).to.equal(c.status);
        expect(listed.headers['access-control-allow-origin']).to.equal('https://ops.example');
        expect(listed.headers['access-control-allow-credentials']).to.equal('true');
        expect(listed.headers.vary).to.equal('Origin');
        const other = await reply(stage, c, 'https://evil.example');
        expect(other.headers['access-control-allow-origin']).to.equal(undefined);
        expect(other.headers['access-control-allow-credentials']).to.equal(undefined);
        expect(other.headers.vary).to.equal('Origin');
        expect(String(other.headers['x-request-id'])).to.match(/^[0-9a-f]{12}-[0-9a-z]+$/);
      });
    }
  });
});
