import { expect } from 'chai';
import { ProxyError } from '../../src/errors.js';
import { createRouteMatcher, matchRoute } from '../../src/routes/route-match.js';

/** Routing is pure (path, configured prefix) → route; the matcher adds decoding and a bounded memo. */

const b64 = (url: string): string => Buffer.from(url).toString('base64');
const token = `${b64('http://origin.test/live/index.m3u8')}.m3u8`;

describe('route-match: where a request path goes', () => {
  const table: Array<[string, string | undefined, Record<string, unknown>]> = [
    ['/healthz', undefined, { kind: 'named', name: 'healthz', prefix: '' }],
    ['/hls-proxy/healthz', undefined, { kind: 'named', name: 'healthz', prefix: '/hls-proxy' }],
    ['/hls-proxy/_/player', undefined, { kind: 'named', name: 'player', prefix: '/hls-proxy' }],
    [`/hls-proxy/${token}`, undefined, { kind: 'proxy', prefix: '/hls-proxy', tokenPath: token }],
    [`/hls-proxy/${token}`, '/hls-proxy', { kind: 'proxy', prefix: '/hls-proxy', tokenPath: token }],
    // a front server that strips the configured prefix reaches the same route
    [`/${token}`, '/hls-proxy', { kind: 'proxy', prefix: '/hls-proxy', tokenPath: token }],
    ['/', undefined, { kind: 'none' }],
  ];
  for (const [path, prefix, want] of table) {
    it(`${path.slice(0, 40)} (prefix ${String(prefix)}) → ${String(want.kind)}`, () => {
      expect(matchRoute(path, prefix)).to.include(want);
    });
  }
});

describe('route-match: createRouteMatcher decodes once per path', () => {
  for (const prefix of [undefined, '/hls-proxy']) {
    it(`proxy routes carry the decoded target and are remembered (prefix ${String(prefix)})`, () => {
      const routeOf = createRouteMatcher({ prefix, maxTokenLength: 4096 });
      const first = routeOf(`/hls-proxy/${token}`);
      expect(first.kind).to.equal('proxy');
      if (first.kind !== 'proxy') return;
      expect(first.target.url).to.equal('http://origin.test/live/index.m3u8');
      expect(first.target.ext).to.equal('m3u8');
      expect(routeOf(`/hls-proxy/${token}`)).to.equal(first); // the same object: not decoded again
      expect(Object.isFrozen(first) && Object.isFrozen(first.target)).to.equal(true); // shared between requests
    });
  }

  it('an undecodable token is a BAD_TOKEN every time (never remembered)', () => {
    const routeOf = createRouteMatcher({ prefix: '/hls-proxy', maxTokenLength: 4096 });
    for (let i = 0; i < 2; i++) {
      expect(() => routeOf('/hls-proxy/not-a-token.m3u8')).to.throw(ProxyError).with.property('code', 'BAD_TOKEN');
    }
  });

  it('the token length limit applies to remembered routes as well', () => {
    const routeOf = createRouteMatcher({ prefix: '/hls-proxy', maxTokenLength: 16 });
    expect(() => routeOf(`/hls-proxy/${token}`)).to.throw(ProxyError).with.property('code', 'BAD_TOKEN');
  });

  it('holds at most maxEntries paths, dropping the oldest', () => {
    const routeOf = createRouteMatcher({ prefix: '/p', maxEntries: 2, maxTokenLength: 4096 });
    const path = (i: number) => `/p/${b64(`http://origin.test/${i}.m3u8`)}.m3u8`;
    const one = routeOf(path(1));
    routeOf(path(2));
    expect(routeOf(path(1))).to.equal(one); // still there
    routeOf(path(3)); // evicts the oldest insertion (1)
    const again = routeOf(path(1));
    expect(again).to.not.equal(one);
    expect(again).to.deep.equal(one);
  });
});
