import { expect } from 'chai';
import { request } from 'undici';
import { hlsdUrl, OFFLOAD_STAGE } from '../support/proxy.js';
import { useStage } from '../support/stage.js';

/**
 * HTTP semantics of proxied segments and playlists against a real local upstream (issue #2 §4, §5, §8):
 * statuses pass through, Range/If-None-Match work end to end, HEAD and OPTIONS never download a body.
 */
describe('http semantics: status, Range, validators, HEAD, OPTIONS', function () {
  this.timeout(60_000);
  const stage = useStage();
  const seg = () => `${stage.origin.url}/${stage.fixtures.paths.bigSegment}`;

  for (const status of [404, 403, 410, 429]) {
    it(`upstream ${status} on a segment stays ${status}`, async () => {
      const res = await request(hlsdUrl(stage.proxy.url, `${stage.origin.url}/status/${status}`, 'ts'));
      await res.body.text();
      expect(res.statusCode).to.equal(status);
    });
    it(`upstream ${status} on a playlist stays ${status}, with a short fixed body`, async () => {
      const res = await request(hlsdUrl(stage.proxy.url, `${stage.origin.url}/status/${status}`));
      expect(res.statusCode).to.equal(status);
      expect(await res.body.text()).to.equal('upstream error\n');
    });
  }

  it('upstream 500 becomes 502 (bad gateway)', async () => {
    const res = await request(hlsdUrl(stage.proxy.url, `${stage.origin.url}/status/500`, 'ts'));
    await res.body.text();
    expect(res.statusCode).to.equal(502);
  });

  it('Range: 206 with only the range moved, Content-Range copied', async () => {
    const res = await request(hlsdUrl(stage.proxy.url, seg(), 'ts'), { headers: { range: 'bytes=100-1123' } });
    const body = Buffer.from(await res.body.arrayBuffer());
    expect(res.statusCode).to.equal(206);
    expect(body.length).to.equal(1024);
    expect(String(res.headers['content-range'])).to.match(/^bytes 100-1123\/\d+$/);
    expect(res.headers['accept-ranges']).to.equal('bytes');
    // An instruction to the front nginx, which keeps X-Accel-* to itself (HLS_TEST_OFFLOAD=1 puts one here).
    if (!OFFLOAD_STAGE) expect(res.headers['x-accel-buffering'], 'a front nginx streams media, buffers playlists').to.equal('no');
    expect(stage.origin.log.at(-1)!.headers.range).to.equal('bytes=100-1123');
  });

  it('unsatisfiable Range: 416 passes through', async () => {
    const res = await request(hlsdUrl(stage.proxy.url, seg(), 'ts'), { headers: { range: 'bytes=999999999-' } });
    await res.body.text();
    expect(res.statusCode).to.equal(416);
  });

  it('If-None-Match with the current ETag: 304 passes through', async () => {
    const first = await request(hlsdUrl(stage.proxy.url, seg(), 'ts'));
    await first.body.dump();
    const etag = String(first.headers.etag);
    expect(etag).to.not.equal('undefined');
    const res = await request(hlsdUrl(stage.proxy.url, seg(), 'ts'), { headers: { 'if-none-match': etag } });
    await res.body.text();
    expect(res.statusCode).to.equal(304);
  });

  it('HEAD is sent upstream as HEAD: no body downloaded', async () => {
    const res = await request(hlsdUrl(stage.proxy.url, seg(), 'ts'), { method: 'HEAD' });
    await res.body.text();
    expect(res.statusCode).to.equal(200);
    expect(Number(res.headers['content-length'])).to.be.greaterThan(1_000_000);
    expect(stage.origin.log.map((e) => e.method)).to.deep.equal(['HEAD']);
  });

  it('OPTIONS preflight is answered locally, upstream never contacted', async () => {
    const res = await request(hlsdUrl(stage.proxy.url, seg(), 'ts'), {
      method: 'OPTIONS',
      headers: { origin: 'https://dash.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' },
    });
    await res.body.text();
    expect(res.statusCode).to.equal(204);
    expect(res.headers['access-control-allow-origin']).to.equal('*');
    expect(String(res.headers['access-control-allow-headers'])).to.match(/range/i);
    expect(stage.origin.log).to.have.length(0);
  });

  it('Set-Cookie from upstream never reaches the client; client cookies and Authorization never reach upstream', async () => {
    const res = await request(hlsdUrl(stage.proxy.url, `${stage.origin.url}/set-cookie/${stage.fixtures.paths.bigSegment}`, 'ts'), {
      headers: { cookie: 'session=secret', authorization: 'Bearer secret' },
    });
    await res.body.dump();
    expect(res.headers['set-cookie']).to.equal(undefined);
    expect(stage.origin.log.at(-1)!.headers.cookie).to.equal(undefined);
    expect(stage.origin.log.at(-1)!.headers.authorization).to.equal(undefined);
  });

  it('hop-by-hop headers from the client are not forwarded (RFC 9110 §7.6.1)', async () => {
    const res = await request(hlsdUrl(stage.proxy.url, `${stage.origin.url}/echo-headers`, 'json'), {
      headers: { connection: 'keep-alive, x-secret', 'x-secret': 'no', te: 'trailers', 'proxy-authorization': 'Basic eA==' },
    });
    const seen = (await res.body.json()) as Record<string, string>;
    expect(seen['x-secret']).to.equal(undefined);
    expect(seen.te).to.equal(undefined);
    expect(seen['proxy-authorization']).to.equal(undefined);
  });

  it('a Range header on a playlist request still gets the whole rewritten playlist (ffmpeg sends bytes=0-)', async () => {
    const res = await request(hlsdUrl(stage.proxy.url, `${stage.origin.url}/${stage.fixtures.paths.vodMaster}`), { headers: { range: 'bytes=0-10' } });
    const text = await res.body.text();
    expect(res.statusCode).to.equal(200);
    expect(text.startsWith('#EXTM3U')).to.equal(true);
    expect(text.length).to.be.greaterThan(11);
  });

  it('query params players add (_HLS_msn, _HLS_part, _HLS_skip, others) reach the upstream', async () => {
    const res = await request(`${hlsdUrl(stage.proxy.url, `${stage.origin.url}/${stage.fixtures.paths.vodMaster}?tok=a~b%2F=`)}?_HLS_msn=12&_HLS_part=3&_HLS_skip=YES&x=1`);
    await res.body.text();
    expect(res.statusCode).to.equal(200);
    expect(stage.origin.log.at(-1)!.path).to.equal(`/${stage.fixtures.paths.vodMaster}?tok=a~b%2F=&_HLS_msn=12&_HLS_part=3&_HLS_skip=YES&x=1`);
  });

  it('garbage tokens are 400 with a fixed body that echoes nothing', async () => {
    const res = await request(`${stage.proxy.url}/hls-proxy/%3Cscript%3E.m3u8`);
    const text = await res.body.text();
    expect(res.statusCode).to.equal(400);
    expect(text).to.not.include('script');
  });

  it('/healthz answers 200, under any prefix', async () => {
    for (const p of ['/healthz', '/hls-proxy/healthz']) {
      const res = await request(`${stage.proxy.url}${p}`);
      expect(res.statusCode, p).to.equal(200);
      expect(await res.body.text()).to.equal('ok\n');
    }
  });
});
