import { expect } from 'chai';
import { request } from 'undici';
import { getFixtures, type Fixtures } from '../support/hls-fixtures.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { startProxy, hlsdUrl, type RunningProxy } from '../support/proxy.js';

/**
 * The public base written into playlists (issue #2 §6): --host/--prefix win; else X-Forwarded-* or
 * RFC 7239 Forwarded from trusted peers; else the request's Host and the echoed leading path.
 */
describe('public base: --host, forwarded headers from trusted peers only, echoed prefix', function () {
  this.timeout(60_000);
  let fixtures: Fixtures;
  let origin: Origin;
  const running: RunningProxy[] = [];

  before(async () => {
    fixtures = await getFixtures();
    origin = await startOrigin({ root: fixtures.root });
  });
  after(async () => {
    await Promise.all(running.map((p) => p.close()));
    await origin?.close();
  });

  async function firstUri(options: Record<string, unknown>, path: string, headers: Record<string, string> = {}): Promise<string> {
    const proxy = await startProxy(options);
    running.push(proxy);
    const url = hlsdUrl(`${proxy.url}${path}`, `${origin.url}/${fixtures.paths.vodMaster}`);
    const res = await request(url, { headers });
    const text = await res.body.text();
    expect(res.statusCode, text).to.equal(200);
    return /^(?!#)(\S+)$/m.exec(text)![1]!.replace(/[^/]+$/, '');
  }

  const cases: Array<[string, Record<string, unknown>, string, Record<string, string>, string | RegExp]> = [
    ['no prefix, no headers: own Host', {}, '', {}, /^http:\/\/127\.0\.0\.1:\d+\/$/],
    ['hlsd: the leading path is echoed', {}, '/hls-proxy', {}, /^http:\/\/127\.0\.0\.1:\d+\/hls-proxy\/$/],
    [
      'X-Forwarded-Proto/Host/Prefix from a trusted (loopback) peer',
      {},
      '/hls-proxy',
      { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'dash.example', 'x-forwarded-prefix': '/hls-proxy' },
      'https://dash.example/hls-proxy/',
    ],
    [
      'RFC 7239 Forwarded from a trusted peer',
      {},
      '/hls-proxy',
      { forwarded: 'for=203.0.113.7;proto=https;host="dash.example:8443"' },
      'https://dash.example:8443/hls-proxy/',
    ],
    [
      'forwarded headers from an UNtrusted peer are ignored',
      { 'trust-proxy': ['none'] },
      '/hls-proxy',
      { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', forwarded: 'host=evil.example;proto=https' },
      /^http:\/\/127\.0\.0\.1:\d+\/hls-proxy\/$/,
    ],
    ['--host with :443 means https; --prefix wins', { host: 'dash.example:443', prefix: '/hls-proxy' }, '/hls-proxy', { 'x-forwarded-host': 'other.example' }, 'https://dash.example/hls-proxy/'],
    ['--prefix also works when the front server strips it', { prefix: '/hls-proxy' }, '', {}, /^http:\/\/127\.0\.0\.1:\d+\/hls-proxy\/$/],
    ['a malformed forwarded host is ignored, never echoed', {}, '', { 'x-forwarded-host': 'bad host/<x>' }, /^http:\/\/127\.0\.0\.1:\d+\/$/],
  ];
  for (const [name, options, path, headers, expected] of cases) {
    it(name, async () => {
      const base = await firstUri(options, path, headers);
      if (typeof expected === 'string') expect(base).to.equal(expected);
      else expect(base).to.match(expected);
    });
  }
});
