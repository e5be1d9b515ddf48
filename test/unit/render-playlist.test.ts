import { expect } from 'chai';
import { createRenderer } from '../../src/routes/render-playlist.js';
import { decodeTarget } from '../../src/url-codec.js';

describe('render-playlist: rewriting for a public base, memoised per version and base', () => {
  const renderer = createRenderer({ manifestExtension: 'm3u8', segmentExtension: undefined }, {});
  const input = (body: string, publicBase = 'https://dash.example/hls-proxy', version = 'v1') => ({
    version,
    body,
    finalUrl: 'http://origin.test/live/index.m3u8',
    requestUrl: 'http://origin.test/live/index.m3u8',
    target: { url: 'http://origin.test/live/index.m3u8' },
    publicBase,
  });

  it('writes every URI under the public base, decodable to the resolved upstream URL', () => {
    const out = renderer.render(input('#EXTM3U\n#EXTINF:2,\nseg1.ts?tok=a~b%2F=\n'));
    const uri = out.split('\n')[2]!;
    expect(uri.startsWith('https://dash.example/hls-proxy/')).to.equal(true);
    expect(decodeTarget(uri.slice('https://dash.example/hls-proxy/'.length), { maxTokenLength: 4096 }).url).to.equal('http://origin.test/live/seg1.ts?tok=a~b%2F=');
  });

  it('a URI no token can carry is left as written instead of failing the playlist', () => {
    const out = renderer.render(input('#EXTM3U\n#EXTINF:2,\nseg 1.ts\n#EXTINF:2,\nseg2.ts\n', undefined, 'v2'));
    const lines = out.split('\n');
    expect(lines[2]).to.equal('http://origin.test/live/seg 1.ts');
    expect(lines[4]!.startsWith('https://dash.example/hls-proxy/')).to.equal(true);
  });

  it('memoises per (version, base): another base gets its own URLs', () => {
    const body = '#EXTM3U\n#EXTINF:2,\nseg1.ts\n';
    const a = renderer.render(input(body, 'https://a.example/p', 'v3'));
    const b = renderer.render(input(body, 'https://b.example/p', 'v3'));
    expect(a).to.include('https://a.example/p/');
    expect(b).to.include('https://b.example/p/');
    expect(renderer.render(input(body, 'https://a.example/p', 'v3'))).to.equal(a);
  });
});
