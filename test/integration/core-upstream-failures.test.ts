import { expect } from 'chai';
import { request } from 'undici';
import { startOrigin } from '../support/origin.js';
import { startProxy, hlsdUrl } from '../support/proxy.js';
import { useStage } from '../support/stage.js';

/**
 * Redirects, compression, limits, timeouts and client aborts against a real local upstream (issue #2 §3, §5, §8).
 */
describe('upstream: redirects, compression, limits, timeouts, aborts', function () {
  this.timeout(60_000);
  const stage = useStage({ 'headers-timeout': 800, 'body-timeout': 800, 'playlist-timeout': 3000, 'max-redirects': 3, 'max-playlist-size': 64 * 1024 });

  async function playlist(upstream: string): Promise<{ status: number; text: string }> {
    const res = await request(hlsdUrl(stage.proxy.url, upstream));
    return { status: res.statusCode, text: await res.body.text() };
  }
  const decode = (proxied: string) => Buffer.from(proxied.slice(proxied.lastIndexOf('/') + 1).split('.')[0]!, 'base64url').toString();

  it('follows redirects and resolves relative URIs against the FINAL URL (RFC 8216 §4.1 / RFC 3986 §5.1.3)', async () => {
    const { status, text } = await playlist(`${stage.origin.url}/redirect-abs/${stage.fixtures.paths.aes}`);
    expect(status).to.equal(200);
    const key = /URI="([^"]+)"/.exec(text)![1]!;
    expect(decode(key)).to.match(new RegExp(`^${stage.origin.url}/moved/`));
  });

  it('more redirects than --max-redirects: 502', async () => {
    expect((await playlist(`${stage.origin.url}/redirect/5/${stage.fixtures.paths.aes}`)).status).to.equal(502);
    expect((await playlist(`${stage.origin.url}/redirect/2/${stage.fixtures.paths.aes}`)).status).to.equal(200);
  });

  for (const enc of ['gzip', 'br', 'deflate']) {
    it(`a ${enc}-encoded playlist is decoded and rewritten`, async () => {
      const { status, text } = await playlist(`${stage.origin.url}/${enc}/${stage.fixtures.paths.aes}`);
      expect(status).to.equal(200);
      expect(text.startsWith('#EXTM3U')).to.equal(true);
      expect(text).to.include(`${stage.proxy.url}/`);
    });
  }

  it('a playlist over --max-playlist-size: 502 with a clear message', async () => {
    stage.origin.override('/huge.m3u8', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' });
      res.end(`#EXTM3U\n${'#EXTINF:1,\nseg.ts\n'.repeat(10_000)}`);
    });
    const { status, text } = await playlist(`${stage.origin.url}/huge.m3u8`);
    expect(status).to.equal(502);
    expect(text).to.equal('upstream playlist exceeds the size limit\n');
  });

  it('a hanging upstream: 504 after the headers timeout, not forever', async () => {
    expect((await playlist(`${stage.origin.url}/hang`)).status).to.equal(504);
    const seg = await request(hlsdUrl(stage.proxy.url, `${stage.origin.url}/hang`, 'ts'));
    await seg.body.text();
    expect(seg.statusCode).to.equal(504);
  });

  it('an upstream body that stalls mid-segment: the client connection is cut, not held', async () => {
    const res = await request(hlsdUrl(stage.proxy.url, `${stage.origin.url}/stall/${stage.fixtures.paths.bigSegment}`, 'ts'));
    expect(res.statusCode).to.equal(200);
    let error: unknown;
    try {
      await res.body.arrayBuffer();
    } catch (err) {
      error = err;
    }
    expect(error, 'truncated body reported to the client').to.be.instanceOf(Error);
  });

  it('an unreachable upstream: 502', async () => {
    const { status } = await playlist('http://127.0.0.1:1/x.m3u8');
    expect(status).to.equal(502);
  });

  it('clients that hang up mid-download: every upstream request is aborted (no socket left open)', async () => {
    // A fresh origin and proxy, so no keep-alive socket from another test is counted.
    const lonely = await startOrigin({ root: stage.fixtures.root });
    const own = await startProxy();
    try {
      for (let i = 0; i < 20; i++) {
        const ac = new AbortController();
        const res = await request(hlsdUrl(own.url, `${lonely.url}/${stage.fixtures.paths.bigFile}`, 'bin'), { signal: ac.signal });
        expect(res.statusCode).to.equal(200);
        for await (const _chunk of res.body) break;
        ac.abort();
      }
      const deadline = Date.now() + 5000;
      while (lonely.openSockets() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(lonely.openSockets(), 'upstream sockets still open').to.equal(0);
    } finally {
      await own.close();
      await lonely.close();
    }
  });
});
