import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHookRunner, hlsdUrlType, loadHooks, type HlsdHooks } from '../../src/hooks.js';
import { rewriteForBase } from '../../src/routes/rewrite-for-base.js';

/**
 * hlsd's hook semantics, reproduced from hls-proxy 3.6.6 (manifest_parser.js redirect_embedded_url /
 * encode_embedded_url / modify_m3u8_content, utils.js get_request_options / should_prefetch_url /
 * parse_req_url).
 */

const PLAYLIST_URL = 'http://origin.example/live/index.m3u8';

function runner(hooks: HlsdHooks) {
  const warnings: string[] = [];
  const r = createHookRunner({ warn: (_o, msg) => warnings.push(msg) });
  r.install(hooks);
  return { r, warnings };
}

describe('hooks: hlsd hook semantics', () => {
  describe('redirect(url, referer_url)', () => {
    const seg = 'http://origin.example/live/seg1.ts';
    const table: Array<[string, (url: string, referer?: string) => unknown, ReturnType<ReturnType<typeof createHookRunner>['redirect']>]> = [
      ['undefined: unchanged', () => undefined, { url: seg, type: undefined, referer: 'http://ref.example/' }],
      ['empty string is falsy: unchanged (hlsd `if (result)`)', () => '', { url: seg, type: undefined, referer: 'http://ref.example/' }],
      ['absolute string: replaces the URL', () => 'https://cdn.example/x.ts', { url: 'https://cdn.example/x.ts', type: undefined, referer: 'http://ref.example/' }],
      ['relative string: resolved against the playlist URL', () => '../other/seg9.ts', { url: 'http://origin.example/other/seg9.ts', type: undefined, referer: 'http://ref.example/' }],
      ['whitespace only: removed', () => '   ', null],
      ['object: url, url_type (lower-cased) and referer_url', () => ({ url: 'http://b.example/s.ts', url_type: ' KEY ', referer_url: 'https://r2.example/' }),
        { url: 'http://b.example/s.ts', type: 'key', referer: 'https://r2.example/' }],
      ['object with a non-http referer_url: referer kept', () => ({ url: seg, referer_url: 'ftp://x' }), { url: seg, type: undefined, referer: 'http://ref.example/' }],
      ['object without a string url: removed', () => ({ url_type: 'ts' }), null],
      ['throws: removed', () => { throw new Error('boom'); }, null],
      ['a non-http(s) result: ignored, never written unproxied', () => 'data:text/plain,x', { url: seg, type: undefined, referer: 'http://ref.example/' }],
    ];
    for (const [name, hook, expected] of table) {
      it(name, () => {
        const { r } = runner({ redirect: hook });
        expect(r.redirect(seg, 'http://ref.example/', PLAYLIST_URL)).to.deep.equal(expected);
      });
    }
    it('is called with the absolute URL and the referer', () => {
      const calls: unknown[] = [];
      const { r } = runner({ redirect: (...args) => void calls.push(args) });
      r.redirect(seg, 'http://ref.example/', PLAYLIST_URL);
      expect(calls).to.deep.equal([[seg, 'http://ref.example/']]);
    });
  });

  describe('the other hooks', () => {
    it('modify_m3u8_content: the result replaces the text; a falsy result keeps it', () => {
      expect(runner({ modify_m3u8_content: (t, u) => `${t}#${u}` }).r.modifyPlaylist('#EXTM3U\n', PLAYLIST_URL)).to.equal(`#EXTM3U\n#${PLAYLIST_URL}`);
      expect(runner({ modify_m3u8_content: () => null }).r.modifyPlaylist('#EXTM3U\n', PLAYLIST_URL)).to.equal('#EXTM3U\n');
    });

    it('add_request_headers: names lower-cased; CR/LF values and hop-by-hop or Host headers refused', () => {
      const { r, warnings } = runner({
        add_request_headers: (url, isM3u8) => ({ 'X-Url': url, 'X-M3u8': isM3u8, Host: 'evil', Connection: 'close', 'X-Bad': 'a\r\nb: c' }),
      });
      expect(r.requestHeaders('http://a/b.m3u8', true)).to.deep.equal({ 'x-url': 'http://a/b.m3u8', 'x-m3u8': 'true' });
      expect(warnings).to.have.length(1); // logged once, not per header or per call
    });

    it('rewrite: a usable URL replaces the request; anything else refuses it', () => {
      const { r } = runner({ rewrite: (u) => (u.includes('deny') ? '' : u.replace('old', 'new')) });
      expect(r.rewrite('http://old.example/a.m3u8')).to.equal('http://new.example/a.m3u8');
      expect(r.rewrite('http://deny.example/a.m3u8')).to.equal(undefined);
      expect(runner({}).r.rewrite('http://x/a.ts')).to.equal('http://x/a.ts');
    });

    it('prefetch: only a strict boolean overrides the default (utils.js should_prefetch_url)', () => {
      const table: Array<[unknown, boolean, boolean]> = [[true, false, true], [false, true, false], ['yes', false, false], [1, true, true], [undefined, true, true]];
      for (const [returned, byDefault, expected] of table) {
        expect(runner({ prefetch: () => returned }).r.prefetch('http://x/a.ts', 'ts', byDefault), String(returned)).to.equal(expected);
      }
    });

    it('redirect_final: applied to the proxied URL; a non-string result is ignored', () => {
      expect(runner({ redirect_final: (u) => `${u}?x=1` }).r.redirectFinal('http://p/abc.ts')).to.equal('http://p/abc.ts?x=1');
      expect(runner({ redirect_final: () => 42 }).r.redirectFinal('http://p/abc.ts')).to.equal('http://p/abc.ts');
    });

    it('a hook that throws falls back to the default and is logged once', () => {
      const { r, warnings } = runner({ modify_m3u8_content: () => { throw new Error('x'); } });
      expect(r.modifyPlaylist('a', 'u')).to.equal('a');
      expect(r.modifyPlaylist('b', 'u')).to.equal('b');
      expect(warnings).to.have.length(1);
    });

    it('url types follow hlsd: MAP is a "ts", steering an "m3u8"', () => {
      expect(['segment', 'map', 'key', 'playlist', 'steering', 'session-data'].map((k) => hlsdUrlType(k as never))).to.deep.equal(['ts', 'ts', 'key', 'm3u8', 'm3u8', 'json']);
    });
  });

  it('the renderer applies redirect (removal, url_type → extension) and redirect_final', () => {
    const { r } = runner({
      redirect: (u) => (u.endsWith('a.ts') ? { url: u, url_type: 'm3u8' } : u.endsWith('b.ts') ? { url: null } : undefined),
      redirect_final: (u) => `${u}#f`,
    });
    const out = rewriteForBase({
      version: '',
      body: '#EXTM3U\n#EXTINF:1,\na.ts\n#EXTINF:1,\nb.ts\n#EXTINF:1,\nc.ts\n',
      finalUrl: PLAYLIST_URL,
      requestUrl: PLAYLIST_URL,
      target: { url: PLAYLIST_URL },
      publicBase: 'http://proxy',
    }, { extOptions: { manifestExtension: 'm3u8', segmentExtension: undefined }, hooks: r });
    const lines = out.split('\n');
    expect(lines[2]).to.match(/^http:\/\/proxy\/[A-Za-z0-9_-]+\.m3u8#f$/);
    expect(lines[4]).to.equal(''); // removed: RFC 8216 §4.1 "Blank lines are ignored."
    expect(lines[6]).to.match(/^http:\/\/proxy\/[A-Za-z0-9_-]+\.ts#f$/);
  });

  describe('loadHooks', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'hls-sidecar-hooks-'));
    });
    after(() => rm(dir, { recursive: true, force: true }));

    const modules: Array<[string, string, string[]]> = [
      ['hooks.cjs', 'module.exports = { rewrite: (u) => u, prefetch_segments: () => [] };', ['rewrite']],
      ['named.mjs', 'export const redirect = (u) => u; export function prefetch() { return true; }', ['redirect', 'prefetch']],
      ['default.mjs', 'export default { redirect_final: (u) => u };', ['redirect_final']],
    ];
    for (const [file, source, names] of modules) {
      it(`loads ${file}`, async () => {
        await writeFile(path.join(dir, file), source);
        const loaded = await loadHooks(file, dir);
        expect(Object.keys(loaded.hooks)).to.have.members(names);
      });
    }
    it('reports hlsd hooks it does not support, and refuses a hook that is not a function', async () => {
      await writeFile(path.join(dir, 'bad.cjs'), 'module.exports = { rewrite: 5 };');
      expect((await loadHooks('hooks.cjs', dir)).unsupported).to.deep.equal(['prefetch_segments']);
      let error: unknown;
      await loadHooks('bad.cjs', dir).catch((e: unknown) => (error = e));
      expect(String(error)).to.include('--hooks: rewrite must be a function');
    });
  });
});
