import { expect } from 'chai';
import { ffmpegPlay } from '../support/ffmpeg-client.js';
import { hlsdUrl } from '../support/proxy.js';
import { type Fixtures } from '../support/hls-fixtures.js';
import { useStage } from '../support/stage.js';

/**
 * Real players through the proxy (issue #2, tests): ffmpeg reads each ffmpeg-made stream via hlsd-style URLs
 * and decodes it, and the origin's log proves that every request came from the proxy, none straight from the
 * player (a URI the rewriter missed would show up as a request with ffmpeg's own User-Agent).
 */
describe('playback: ffmpeg plays ffmpeg-made HLS through the proxy', function () {
  this.timeout(120_000);
  const stage = useStage();

  const cases: Array<[string, (f: Fixtures) => string, RegExp]> = [
    ['multivariant TS with an alternate audio rendition', (f) => f.paths.vodMaster, /\.ts(\?|$)/],
    ['fMP4 with EXT-X-MAP', (f) => f.paths.fmp4, /\.(m4s|mp4)(\?|$)/],
    ['AES-128 with EXT-X-KEY', (f) => f.paths.aes, /\.key(\?|$)/],
    ['byte-range single file', (f) => f.paths.byterange, /\.ts(\?|$)/],
  ];
  for (const [name, pathOf, mediaPattern] of cases) {
    it(`${name}: decodes, and the origin saw only the proxy`, async () => {
      const entry = `${stage.origin.url}/${pathOf(stage.fixtures)}`;
      const played = await ffmpegPlay(hlsdUrl(stage.proxy.url, entry), { timeoutMs: 60_000 });
      expect(played.ok, `${played.problems.join("; ")}\n${played.stderr}`).to.equal(true);
      expect(stage.origin.log.length).to.be.greaterThan(1);
      const direct = stage.origin.log.filter((e) => e.headers['user-agent'] !== 'hls-sidecar');
      expect(direct.map((e) => e.path), 'requests that bypassed the proxy').to.deep.equal([]);
      expect(stage.origin.log.some((e) => mediaPattern.test(e.path)), 'media requests reached the origin via the proxy').to.equal(true);
    });
  }

  it('the multivariant playlist comes back with every URI under the proxy', async () => {
    const res = await fetch(hlsdUrl(stage.proxy.url, `${stage.origin.url}/${stage.fixtures.paths.vodMaster}`));
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('application/vnd.apple.mpegurl');
    const text = await res.text();
    const uris = [...text.matchAll(/^(?!#)(\S+)$/gm)].map((m) => m[1]!).concat([...text.matchAll(/URI="([^"]+)"/g)].map((m) => m[1]!));
    expect(uris.length).to.be.greaterThan(2);
    for (const u of uris) expect(u.startsWith(`${stage.proxy.url}/`), u).to.equal(true);
    expect(text).to.not.include(stage.origin.url);
  });
});
