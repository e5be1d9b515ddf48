import { expect } from 'chai';
import { createRenderer, OFFLOAD_CHARS, type RenderInput } from '../../src/routes/render-playlist.js';
import { createRenderPool } from '../../src/routes/render-pool.js';
import { tsxRenderWorker } from '../support/render-worker.js';
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

  it('writes every URI under the public base, decodable to the resolved upstream URL', async () => {
    const out = (await renderer.render(input('#EXTM3U\n#EXTINF:2,\nseg1.ts?tok=a~b%2F=\n'))).toString();
    const uri = out.split('\n')[2]!;
    expect(uri.startsWith('https://dash.example/hls-proxy/')).to.equal(true);
    expect(decodeTarget(uri.slice('https://dash.example/hls-proxy/'.length), { maxTokenLength: 4096 }).url).to.equal('http://origin.test/live/seg1.ts?tok=a~b%2F=');
  });

  it('a URI no token can carry is left as written instead of failing the playlist', async () => {
    const out = (await renderer.render(input('#EXTM3U\n#EXTINF:2,\nseg 1.ts\n#EXTINF:2,\nseg2.ts\n', undefined, 'v2'))).toString();
    const lines = out.split('\n');
    expect(lines[2]).to.equal('http://origin.test/live/seg 1.ts');
    expect(lines[4]!.startsWith('https://dash.example/hls-proxy/')).to.equal(true);
  });

  it('memoises per (version, base): another base gets its own URLs', async () => {
    const body = '#EXTM3U\n#EXTINF:2,\nseg1.ts\n';
    const a = (await renderer.render(input(body, 'https://a.example/p', 'v3'))).toString();
    const b = (await renderer.render(input(body, 'https://b.example/p', 'v3'))).toString();
    expect(a).to.include('https://a.example/p/');
    expect(b).to.include('https://b.example/p/');
    expect((await renderer.render(input(body, 'https://a.example/p', 'v3'))).toString()).to.equal(a);
  });

  it('a big playlist is rewritten on the worker thread, byte-identical to the main-thread result', async () => {
    const pool = createRenderPool({ extOptions: { manifestExtension: 'm3u8', segmentExtension: undefined }, signKeys: [], signTtlSec: 0 }, tsxRenderWorker);
    try {
      const lines = ['#EXTM3U', '#EXT-X-TARGETDURATION:4'];
      for (let i = 0; i < 20_000; i++) lines.push('#EXTINF:4,', `seg${i}.ts?tok=a~b%2F=`);
      const body = `${lines.join('\n')}\n#EXT-X-ENDLIST\n`;
      expect(body.length).to.be.at.least(OFFLOAD_CHARS);
      let offloaded = 0;
      const counting = { run: (i: RenderInput) => (offloaded++, pool.run(i)), close: () => pool.close() };
      const viaWorker = await createRenderer({ manifestExtension: 'm3u8', segmentExtension: undefined }, { pool: counting }).render(input(body, undefined, ''));
      const onMain = await renderer.render(input(body, undefined, ''));
      expect(offloaded).to.equal(1);
      expect(viaWorker.equals(onMain)).to.equal(true);
    } finally {
      await pool.close();
    }
  });

  it('viewers asking for a new version at once share one rewrite', async () => {
    let runs = 0;
    const slow = { run: (i: RenderInput) => (runs++, new Promise<Buffer>((r) => setTimeout(() => r(Buffer.from(i.body)), 20))), close: async () => undefined };
    const r = createRenderer({ manifestExtension: 'm3u8', segmentExtension: undefined }, { pool: slow });
    const body = `#EXTM3U\n${'#EXTINF:4,\nseg.ts\n'.repeat(20_000)}`;
    const outs = await Promise.all(Array.from({ length: 10 }, () => r.render(input(body, undefined, 'shared-version'))));
    expect(runs).to.equal(1);
    expect(new Set(outs).size).to.equal(1);
  });

  it('a worker that cannot start: the playlist is rewritten on the main thread, and the failure reported once', async () => {
    const errors: unknown[] = [];
    const broken = { run: () => Promise.reject(new Error('no worker')), close: async () => undefined };
    const r = createRenderer({ manifestExtension: 'm3u8', segmentExtension: undefined }, { pool: broken, onPoolError: (e) => errors.push(e) });
    const body = `#EXTM3U\n${'#EXTINF:4,\nseg.ts\n'.repeat(20_000)}`;
    const first = await r.render(input(body, undefined, ''));
    await r.render(input(body, undefined, ''));
    expect(first.toString().split('\n')[2]!.startsWith('https://dash.example/hls-proxy/')).to.equal(true);
    expect(errors).to.have.length(1);
  });
});
