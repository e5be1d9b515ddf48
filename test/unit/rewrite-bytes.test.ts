/**
 * The render worker's byte path (src/routes/rewrite-bytes.ts) against the string path it stands in for
 * (rewrite-for-base.ts, whose output the golden and conformance tests pin): for every fixture, corpus
 * playlist and random playlist, under several configurations, it either declines or writes exactly
 * Buffer.from(rewriteForBase(...)). It must not decline the playlists it exists for (big media playlists).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ByteWriter } from '../../src/routes/byte-writer.js';
import { rewriteBytes } from '../../src/routes/rewrite-bytes.js';
import { rewriteForBase, type RenderInput, type RewriteDeps } from '../../src/routes/rewrite-for-base.js';
import { createSigner } from '../../src/signing.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const plainExt = { manifestExtension: 'm3u8', segmentExtension: undefined };

interface Variant {
  name: string;
  deps: RewriteDeps;
  referer?: string;
  publicBase: string;
  finalUrl: string;
}

const VARIANTS: Variant[] = [
  { name: 'plain', deps: { extOptions: plainExt }, publicBase: 'https://public.test/hls-proxy', finalUrl: 'http://origin.test/path/to/playlist.m3u8?tok=a~b%2F=' },
  // Base directories of every length modulo 3: the token's first bytes are encoded once per playlist.
  { name: 'base dir 1 mod 3', deps: { extOptions: plainExt }, publicBase: 'http://p.test', finalUrl: 'http://o.test/ab/x.m3u8' },
  { name: 'base dir 2 mod 3', deps: { extOptions: plainExt }, publicBase: 'http://p.test', finalUrl: 'http://o.test/abc/x.m3u8' },
  { name: 'signed', deps: { extOptions: plainExt, signer: createSigner(['k1', 'k0'], 0, () => 0) }, publicBase: 'http://p.test/x', finalUrl: 'https://o.test/v/index.m3u8' },
  { name: 'signed, expiring', deps: { extOptions: plainExt, signer: createSigner(['k1'], 3600, () => 1_700_000_000_000) }, publicBase: 'http://p.test', finalUrl: 'https://o.test/v/index.m3u8' },
  { name: 'segment extension, non-ASCII referer', deps: { extOptions: { manifestExtension: 'M3U8', segmentExtension: 'TS' } }, referer: 'http://ref.test/é?a=|b', publicBase: 'http://p.test', finalUrl: 'http://o.test/a/b.m3u8' },
  { name: 'referer, manifest extension ts', deps: { extOptions: { manifestExtension: 'ts', segmentExtension: undefined } }, referer: 'https://r.test/', publicBase: 'http://[::1]:8080/hls', finalUrl: 'http://o.test/a/b/' },
  { name: 'non-ASCII base and public base', deps: { extOptions: plainExt }, publicBase: 'https://prøxy.test/p', finalUrl: 'http://o.test/vidéo/index.m3u8' },
];

function inputFor(body: string, v: Variant): RenderInput {
  return {
    version: '',
    body,
    finalUrl: v.finalUrl,
    requestUrl: v.finalUrl,
    target: v.referer ? { url: v.finalUrl, referer: v.referer } : { url: v.finalUrl },
    publicBase: v.publicBase,
  };
}

const writer = new ByteWriter(16); // tiny: growth is exercised on every playlist

/** 'declined' or 'equal'; throws (chai) when the bytes differ. */
function compare(body: string, v: Variant, label: string): 'declined' | 'equal' {
  const input = inputFor(body, v);
  const src = Buffer.from(body, 'utf8');
  if (!rewriteBytes(src, src.length, input, v.deps, writer)) return 'declined';
  const want = Buffer.from(rewriteForBase(input, v.deps), 'utf8');
  const got = Buffer.from(writer.buf.subarray(0, writer.len));
  if (!got.equals(want)) {
    const a = got.toString().split('\n');
    const b = want.toString().split('\n');
    const i = a.findIndex((line, k) => line !== b[k]);
    expect(a[i], `${label} (${v.name}), line ${i + 1}`).to.equal(b[i]);
    expect(got.length, `${label} (${v.name})`).to.equal(want.length);
  }
  return 'equal';
}

function playlists(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...playlists(p));
    else if (/\.m3u8?$/.test(name)) out.push(p);
  }
  return out;
}

function mediaPlaylist(n: number, eol = '\n'): string {
  const lines = ['#EXTM3U', '#EXT-X-TARGETDURATION:4', '#EXT-X-KEY:METHOD=AES-128,URI="../keys/k.bin",IV=0x1'];
  for (let i = 0; i < n; i++) lines.push('#EXTINF:4.000,', `seg${String(i).padStart(6, '0')}.ts?tok=a~b%2F=`);
  return `${lines.join(eol)}${eol}#EXT-X-ENDLIST${eol}`;
}

describe('rewrite-bytes: the render worker writes the bytes the string path would', () => {
  it('every fixture and corpus playlist, in every configuration: declined or byte-identical', () => {
    const files = playlists(FIXTURES);
    expect(files.length).to.be.greaterThan(100);
    let equal = 0;
    for (const file of files) {
      const body = readFileSync(file, 'utf8');
      for (const v of VARIANTS) if (compare(body, v, file) === 'equal') equal++;
    }
    // Media playlists are taken (most of the corpus); multivariant ones and those with variables are not.
    expect(equal).to.be.greaterThan(files.length * 2);
  });

  it('a big media playlist is taken, not declined: LF, CRLF, a BOM, no final newline', () => {
    for (const body of [mediaPlaylist(3000), mediaPlaylist(3000, '\r\n'), `\uFEFF${mediaPlaylist(100)}`, mediaPlaylist(100).trimEnd()]) {
      for (const v of VARIANTS) expect(compare(body, v, 'generated')).to.equal('equal');
    }
  });

  it('the lines it leaves to the string path come out as that path writes them', () => {
    const odd = [
      '#EXTM3U',
      '#EXT-X-MAP:uri="init.mp4"', // lower-case attribute name
      '#EXT-X-PART:DURATION=1,URI="p1.m4s"',
      '#EXT-X-PRELOAD-HINT:TYPE=MAP,URI="i2.mp4"',
      '#EXT-X-DATERANGE:ID="a",X-ASSET-LIST="list.json"',
      '#EXT-X-DATERANGE:ID="b",X-ASSET-URİ="x.m3u8"', // non-ASCII in a tag line
      '#EXTINF:4,a title with URI in it',
      'seg 1.ts', // no token can carry it: left as the absolute URL
      'https://cdn.test/abs.ts',
      '/rooted.ts',
      '../up.ts',
      'a/./b.ts',
      'a{$v}.ts',
      'weird|http://x.test/',
      'skd://key',
      'vidéo.ts',
      '\uFEFFbom-in-the-middle.ts',
      '?only-query',
      'trailing-slash/',
      'x.toolongextension',
      'x.TS',
      'x.m3u8',
      'x.a-b',
      '  \tspaced.ts \r',
      '',
    ].join('\n');
    const outcomes = VARIANTS.map((v) => compare(odd, v, 'odd lines'));
    // Declined only because of the BOM in the middle (a line on its own would lose it); without it, taken.
    expect(outcomes.every((o) => o === 'declined')).to.equal(true);
    for (const v of VARIANTS) expect(compare(odd.replace('\uFEFF', ''), v, 'odd lines')).to.equal('equal');
  });

  it('declines what carries state across lines: variables and variant streams', () => {
    const v = VARIANTS[0]!;
    expect(compare('#EXTM3U\n#EXT-X-DEFINE:NAME="v",VALUE="x"\n{$v}.ts\n', v, 'define')).to.equal('declined');
    expect(compare('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n', v, 'variant')).to.equal('declined');
    expect(compare('#EXTM3U\nseg.ts\n', { ...v, deps: { ...v.deps, hooks: {} as never } }, 'hooks')).to.equal('declined');
    expect(compare('#EXTM3U\nseg.ts\n', { ...v, finalUrl: 'file:///x/y.m3u8' }, 'not http')).to.equal('declined');
  });

  it('random playlists: declined or byte-identical', () => {
    const piece = fc.constantFrom(
      'a', 'seg.ts', 'x.M4S', '/', '.', '..', '?', '#', '&', '=', ',', '"', "'", ' ', '\t', '\r', ':', '//', '%2F', '~', '+', '|',
      '{$', '}', '{$v}', 'http://h/', 'HTTPS://H', 'data:', 'skd://', 'URI', 'uri', 'LIST', 'é', '\uD83D\uDE00', '\u0131',
    );
    const text = fc.string({ unit: piece, maxLength: 10 });
    const tag = fc.constantFrom('EXTINF', 'EXT-X-KEY', 'EXT-X-MAP', 'EXT-X-PART', 'EXT-X-MEDIA', 'EXT-X-DATERANGE', 'EXT-X-PRELOAD-HINT', 'EXT-X-VENDOR', 'EXT-X-STREAM-INF', 'EXT-X-DEFINE');
    const attribute = fc.tuple(fc.constantFrom('URI', 'uri', 'X-ASSET-LIST', 'TYPE', 'NAME', 'VALUE'), fc.oneof(text, text.map((t) => `"${t}"`), text.map((t) => `"${t}`)))
      .map(([n, val]) => `${n}=${val}`);
    const line = fc.oneof(
      { weight: 3, arbitrary: fc.tuple(tag, fc.array(attribute, { maxLength: 3 })).map(([t, as]) => `#${t}:${as.join(',')}`) },
      { weight: 4, arbitrary: text },
      { weight: 1, arbitrary: text.map((t) => `# ${t}`) },
    );
    const playlist = fc
      .tuple(fc.boolean(), fc.array(fc.tuple(line, fc.constantFrom('\n', '\r\n')), { maxLength: 20 }), fc.boolean())
      .map(([bom, lines, end]) => {
        const s = (bom ? '\uFEFF' : '') + lines.map(([l, eol]) => l + eol).join('');
        return end ? s : s.replace(/\r?\n$/, '');
      });
    let taken = 0;
    fc.assert(
      fc.property(playlist, fc.constantFrom(...VARIANTS), (p, v) => {
        if (compare(p, v, JSON.stringify(p)) === 'equal') taken++;
      }),
      { numRuns: 2000 },
    );
    expect(taken, 'playlists compared rather than declined').to.be.greaterThan(400);
  });
});
