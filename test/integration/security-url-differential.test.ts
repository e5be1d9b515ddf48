import { expect } from 'chai';
import { request } from 'undici';
import { startOrigin, type Origin } from '../support/origin.js';
import { hlsdUrl, startProxy, type RunningProxy } from '../support/proxy.js';
import { makeSecurityRoot } from '../support/security-kit.js';

/**
 * Parser differentials through HTTP: `http://127.0.0.1:A\@127.0.0.1:B/x.m3u8` is host A to a WHATWG parser
 * (browsers, Node's URL) and host B to an RFC 3986 split, which is where the proxy used to connect. Both
 * origins are allowed, so only the differential check can refuse: the answer is 400 with the fixed
 * catalogue body, and neither origin sees a request. Loopback only. Table of forms:
 * test/unit/upstream-url-differential.test.ts.
 */
describe('security: upstream URLs that WHATWG and RFC 3986 read differently', function () {
  this.timeout(30_000);
  let a: Origin;
  let b: Origin;
  let proxy: RunningProxy;

  before(async () => {
    const root = makeSecurityRoot();
    a = await startOrigin({ root });
    b = await startOrigin({ root });
    proxy = await startProxy({ 'allow-upstream': [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`] });
  });
  after(async () => {
    await proxy?.close();
    await a?.close();
    await b?.close();
  });
  beforeEach(() => {
    a.clearLog();
    b.clearLog();
    a.clearOverrides();
  });

  async function get(url: string): Promise<{ status: number; body: string }> {
    const res = await request(url);
    return { status: res.statusCode, body: await res.body.text() };
  }

  it('the reported case (hlsd base64 token): 400, fixed body, neither origin contacted, playlists and segments alike', async () => {
    const reported = `http://127.0.0.1:${a.port}\\@127.0.0.1:${b.port}/x.m3u8`;
    for (const [upstream, ext] of [[reported, 'm3u8'], [reported.replace('x.m3u8', 'seg0.ts'), 'ts']] as const) {
      const { status, body } = await get(hlsdUrl(proxy.url, upstream, ext));
      expect(status, upstream).to.equal(400);
      expect(body).to.equal('malformed proxy token\n');
      for (const echoed of ['127.0.0.1', String(a.port), String(b.port), '\\']) expect(body).to.not.include(echoed);
    }
    expect(a.countRequests(), 'origin A').to.equal(0);
    expect(b.countRequests(), 'origin B').to.equal(0);
  });

  it('other forms the two parsers read differently: 400, neither origin contacted', async () => {
    const forms = [
      `http://u@127.0.0.1:${a.port}@127.0.0.1:${b.port}/ok.m3u8`, // two "@": first-@ and last-@ parsers differ
      `http://127.0.0.1:${b.port}/ok\\..\\x.m3u8`, // WHATWG: path segments; RFC 3986: data
      `http://127.0.0.1:0${b.port}/ok.m3u8`, // leading zero in the port
      `http://@127.0.0.1:${b.port}/ok.m3u8`, // empty userinfo: credentials to one reader only
      // RFC 3986 §3.2.2 reg-names that WHATWG's IPv4 number parser reads as 127.0.0.1 (§7.4 "Rare IP Address
      // Formats": "not allowed in the URI syntax due to differences between platform implementations").
      ...['2130706433', '0x7f.1', '127.1', '0177.0.0.1', '127.0.0.1.', '%31%32%37.0.0.1'].map((h) => `http://${h}:${b.port}/ok.m3u8`),
    ];
    for (const upstream of forms) {
      const { status, body } = await get(hlsdUrl(proxy.url, upstream));
      expect(status, upstream).to.equal(400);
      expect(body).to.equal('malformed proxy token\n');
    }
    expect(a.countRequests() + b.countRequests()).to.equal(0);
  });

  it('a redirect to such a URL is not followed: 502 (the upstream\'s answer, not the client\'s token), B never contacted', async () => {
    const locations = [`http://127.0.0.1:${a.port}\\@127.0.0.1:${b.port}/ok.m3u8`, `http://2130706433:${b.port}/ok.m3u8`];
    for (const [i, location] of locations.entries()) {
      a.override('/hop.m3u8', (_req, res) => void res.writeHead(302, { location }).end());
      const { status, body } = await get(hlsdUrl(proxy.url, `http://127.0.0.1:${a.port}/hop.m3u8?round=${i}`));
      expect(status, location).to.equal(502);
      expect(body).to.equal('bad response from upstream\n');
    }
    expect(a.countRequests('/hop.m3u8')).to.equal(2);
    expect(b.countRequests()).to.equal(0);
  });

  it('an unambiguous URL still works: userinfo sent as Authorization, signed query byte for byte (200)', async () => {
    const query = '?sig=exp%3D1~acl=%2Flive%2F*~hmac=ab+cd';
    const { status, body } = await get(hlsdUrl(proxy.url, `http://user:pa%24s@127.0.0.1:${a.port}/ok.m3u8${query}`));
    expect(status).to.equal(200);
    expect(body).to.match(/^#EXTM3U/);
    expect(a.log.map((e) => e.path)).to.deep.equal([`/ok.m3u8${query}`]);
    expect(a.log[0]!.headers.authorization).to.equal(`Basic ${Buffer.from('user:pa$s').toString('base64')}`);
    expect(b.countRequests()).to.equal(0);
  });
});
