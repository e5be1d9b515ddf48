import { expect } from 'chai';
import { ProxyError } from '../../src/errors.js';
import { decodeTarget, encodeTarget, extensionFor, isProxiableUrl, mergeQuery, splitPrefix, type DecodedTarget, type Target } from '../../src/url-codec.js';

const MAX = { maxTokenLength: 4096 };
const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64'); // what hlsd's btoa emits
const b64url = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');

// Chosen so their standard base64 holds the characters hlsd tokens carry and paths mangle.
const URL_SLASH_PLUS = 'http://a.test/?>>>'; // aHR0cDovL2EudGVzdC8/Pj4+
const URL_PAD = 'http://origin.test/seg?a=~~~'; // ...fg==
const URL_PLAIN = 'https://example.com/live/index.m3u8';

function badToken(tokenPath: string, max = MAX.maxTokenLength): void {
  let thrown: unknown;
  try {
    decodeTarget(tokenPath, { maxTokenLength: max });
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `expected BAD_TOKEN for ${JSON.stringify(tokenPath)}`).to.be.instanceOf(ProxyError);
  expect((thrown as ProxyError).code).to.equal('BAD_TOKEN');
}

describe('url-codec: the test inputs are what they claim to be', () => {
  it('base64 of the fixtures contains /, + and =', () => {
    expect(b64(URL_SLASH_PLUS)).to.include('/').and.include('+');
    expect(b64(URL_PAD)).to.match(/==$/);
  });
});

describe('url-codec: decodeTarget accepts everything hlsd emits or accepts', () => {
  const ref = 'https://ref.test/page';
  const table: Array<[string, string, Partial<DecodedTarget>]> = [
    ['btoa(url).m3u8', `${b64(URL_PLAIN)}.m3u8`, { url: URL_PLAIN, ext: 'm3u8' }],
    ['base64 containing / and +', `${b64(URL_SLASH_PLUS)}.ts`, { url: URL_SLASH_PLUS, ext: 'ts' }],
    ['base64 with == padding', `${b64(URL_PAD)}.ts`, { url: URL_PAD, ext: 'ts' }],
    ['percent-encoded base64', `${encodeURIComponent(b64(URL_SLASH_PLUS))}.m3u8`, { url: URL_SLASH_PLUS }],
    ['percent-encoded padding', `${encodeURIComponent(b64(URL_PAD))}.ts`, { url: URL_PAD }],
    ['+ arriving as a space', `${b64(URL_SLASH_PLUS).replaceAll('+', ' ')}.ts`, { url: URL_SLASH_PLUS }],
    ['+ arriving as %20', `${b64(URL_SLASH_PLUS).replaceAll('+', '%20')}.ts`, { url: URL_SLASH_PLUS }],
    ['base64url, unpadded', `${b64url(URL_SLASH_PLUS)}.ts`, { url: URL_SLASH_PLUS }],
    ['base64url, padded', `${b64(URL_PAD).replaceAll('+', '-').replaceAll('/', '_')}.ts`, { url: URL_PAD }],
    ['hlsd _ext separator', `${b64(URL_PLAIN)}_m3u8`, { url: URL_PLAIN, ext: 'm3u8' }],
    ['hlsd _ext upper case', `${b64(URL_SLASH_PLUS)}_TS`, { url: URL_SLASH_PLUS, ext: 'ts' }],
    ['ext is lower-cased', `${b64(URL_PLAIN)}.M3U8`, { ext: 'm3u8' }],
    ['no extension', b64(URL_PLAIN), { url: URL_PLAIN, ext: '' }],
    ["hlsd's default .other", `${b64(URL_PLAIN)}.other`, { ext: 'other' }],
    ['url|referer', `${b64(`${URL_PLAIN}|${ref}`)}.m3u8`, { url: URL_PLAIN, referer: ref }],
    ['url|HTTP referer (case-insensitive split)', `${b64(`${URL_PLAIN}|HTTPS://REF.test/`)}.m3u8`, { url: URL_PLAIN, referer: 'HTTPS://REF.test/' }],
    ['split at the first |http', `${b64(`${URL_PLAIN}|${ref}|http://x.test/`)}.ts`, { url: URL_PLAIN, referer: `${ref}|http://x.test/` }],
    ['trailing newline of `echo url | base64`', `${b64(`${URL_PLAIN}\n`)}.m3u8`, { url: URL_PLAIN }],
    ['hlsd vod_start fragment kept', `${b64(`${URL_PLAIN}#vod_start=30`)}.m3u8`, { url: `${URL_PLAIN}#vod_start=30` }],
    ['Latin-1 bytes (hlsd binary btoa)', `${b64('http://a.test/café')}.ts`, { url: 'http://a.test/café' }],
    ['upper-case scheme', `${b64('HTTP://A.TEST/x')}.ts`, { url: 'HTTP://A.TEST/x' }],
  ];
  for (const [name, token, expected] of table) {
    it(name, () => {
      const got = decodeTarget(token, MAX);
      for (const [k, v] of Object.entries(expected)) expect(got[k as keyof DecodedTarget], k).to.deep.equal(v);
      if (!('referer' in expected)) expect(got.referer).to.equal(undefined);
    });
  }
});

describe('url-codec: encodeTarget → decodeTarget is byte-exact', () => {
  const table: Array<[string, Target, string, string?]> = [
    ['plain', { url: URL_PLAIN }, 'm3u8'],
    ['query with ~ = / % +', { url: 'https://a.test/p/x.m3u8?t=a~b=c/d%2F%+e+&z=%ZZ' }, 'm3u8'],
    ['referer', { url: URL_PLAIN, referer: 'https://ref.test/?q=1' }, 'm3u8'],
    ['url containing |http, no referer', { url: 'http://a.test/x?u=|http://b.test/' }, 'ts'],
    ['url containing |HTTP, with referer', { url: 'http://a.test/x?u=|HTTP://b.test/', referer: 'http://r.test/' }, 'ts'],
    ['vars (with __proto__ and unicode)', { url: URL_PLAIN, vars: { __proto__x: '1', a: 'ü=日本&"\\', ['__proto__']: 'p' } }, 'm3u8'],
    ['signature', { url: URL_PLAIN, referer: 'http://r.test/' }, 'ts', '1700000000_AbC-_0123456789abcdefghijklmnopqrstuvwxyzABCDEF'],
    ['all segments', { url: 'http://a.test/|http://b', referer: 'http://r.test/', vars: { v: 'w' } }, 'key', 'sig'],
    ['empty extension', { url: URL_PLAIN }, ''],
    ['non-ASCII url', { url: 'http://a.test/ü?q=日本' }, 'ts'],
    ['upper-case ext is lowered', { url: URL_PLAIN }, 'TS'],
  ];
  for (const [name, target, ext, sig] of table) {
    it(name, () => {
      const token = encodeTarget(target, ext, sig);
      expect(token).to.match(/^[A-Za-z0-9._~-]*$/);
      const got = decodeTarget(token, MAX);
      expect(got.url).to.equal(target.url);
      expect(got.referer).to.equal(target.referer);
      expect(got.vars === undefined ? undefined : { ...got.vars }).to.deep.equal(target.vars);
      if (target.vars) expect(Object.keys(got.vars!)).to.deep.equal(Object.keys(target.vars));
      expect(got.ext).to.equal(ext.toLowerCase());
      expect(got.signature).to.equal(sig);
    });
  }

  it('a plain target is hlsd-compatible: the payload alone is base64url of the url', () => {
    expect(encodeTarget({ url: URL_PLAIN, referer: 'http://r.test/' }, 'm3u8')).to.equal(`${b64url(`${URL_PLAIN}|http://r.test/`)}.m3u8`);
  });

  it('decoded vars have no prototype to pollute', () => {
    const got = decodeTarget(encodeTarget({ url: URL_PLAIN, vars: { ['__proto__']: 'x' } }, 'm3u8'), MAX);
    expect(Object.getPrototypeOf(got.vars)).to.equal(null);
    expect(got.vars!['__proto__']).to.equal('x');
  });

  const refused: Array<[string, Target, string]> = [
    ['skd:// key URI', { url: 'skd://key-id' }, 'key'],
    ['data: URI', { url: 'data:text/plain,hi' }, 'ts'],
    ['relative URI', { url: '/x.ts' }, 'ts'],
    ['CR LF in url', { url: 'http://a.test/x\r\nSet-Cookie: a=b' }, 'ts'],
    ['space in url', { url: 'http://a.test/x y' }, 'ts'],
    ['bad referer', { url: URL_PLAIN, referer: 'javascript:alert(1)' }, 'ts'],
    ['bad extension', { url: URL_PLAIN }, 'm3u8?x'],
  ];
  for (const [name, target, ext] of refused) {
    it(`refuses to encode: ${name}`, () => {
      expect(() => encodeTarget(target, ext)).to.throw(ProxyError, /malformed proxy token/);
    });
  }
  it('refuses a signature that could break the token', () => {
    expect(() => encodeTarget({ url: URL_PLAIN }, 'ts', 'a.b')).to.throw(ProxyError);
  });
  it('isProxiableUrl', () => {
    expect(isProxiableUrl('https://a.test/')).to.equal(true);
    expect(isProxiableUrl('ftp://a.test/')).to.equal(false);
    expect(isProxiableUrl('http://a.test/\u0085')).to.equal(false);
  });
});

describe('url-codec: decodeTarget rejects garbage with BAD_TOKEN', () => {
  const good = encodeTarget({ url: URL_PLAIN }, 'm3u8');
  const payload = good.slice(0, -5);
  const table: Array<[string, string]> = [
    ['empty', ''],
    ['not base64', '!!!!.m3u8'],
    ['ftp scheme', `${b64('ftp://a.test/x')}.ts`],
    ['javascript scheme', `${b64('javascript:alert(1)')}.m3u8`],
    ['httpfoo (hlsd would accept)', `${b64('httpfoo://a')}.ts`],
    ['CR LF in url', `${b64('http://a.test/x\r\nX-Evil: 1')}.ts`],
    ['NUL in url', `${b64('http://a.test/\0x')}.ts`],
    ['space in url', `${b64('http://a.test/x y')}.ts`],
    ['DEL in url', `${b64('http://a.test/\x7f')}.ts`],
    ['tab in referer', `${b64('http://a.test/|http://r.test/\tx')}.ts`],
    ['referer not http(s)://', `${b64('http://a.test/|httpfoo')}.ts`],
    ['length ≡ 1 mod 4', 'aHR0c.ts'],
    ['= inside', `aHR0=cDov.ts`],
    ['padding on a non-multiple of 4', `${b64(URL_PAD).slice(0, -3)}==.ts`],
    ['mixed alphabets', `${b64(URL_SLASH_PLUS)}_x-y.ts`],
    ['malformed percent-encoding', '%E0%A4%A.m3u8'],
    ['unknown segment tag', `${payload}.x1.m3u8`],
    ['segments out of order', `${payload}.sabc.rx.m3u8`],
    ['repeated segment', `${payload}.sabc.sabc.m3u8`],
    ['empty segment', `${payload}..m3u8`],
    ['empty signature', `${payload}.s.m3u8`],
    ['extension with punctuation', `${payload}.m3u8!`],
    ['extension too long', `${payload}.abcdefghijk`],
    ['vars not JSON', `${payload}.v${b64url('nope')}.m3u8`],
    ['vars not pairs', `${payload}.v${b64url('{"a":"b"}')}.m3u8`],
    ['vars value not a string', `${payload}.v${b64url('[["a",1]]')}.m3u8`],
    ['vars empty', `${payload}.v${b64url('[]')}.m3u8`],
    ['referer segment not a URL', `${payload}.r${b64url('nope')}.m3u8`],
    ['query left on', `${payload}.m3u8?x=1`],
  ];
  for (const [name, token] of table) it(name, () => badToken(token));

  it('over-long token', () => {
    expect(() => decodeTarget(good, { maxTokenLength: good.length })).not.to.throw();
    badToken(good, good.length - 1);
  });
});

describe('url-codec: splitPrefix finds the token hlsd-style', () => {
  const slashy = `${b64(URL_SLASH_PLUS)}.ts`; // contains '/'
  const emitted = encodeTarget({ url: URL_PLAIN }, 'm3u8');
  const table: Array<[string, string, { prefix: string; tokenPath: string } | undefined]> = [
    ['/hls-proxy + slashy token', `/hls-proxy/${slashy}`, { prefix: '/hls-proxy', tokenPath: slashy }],
    ['/a/b + slashy token', `/a/b/${slashy}`, { prefix: '/a/b', tokenPath: slashy }],
    ['no prefix + slashy token', `/${slashy}`, { prefix: '', tokenPath: slashy }],
    ['/hls-proxy + emitted token', `/hls-proxy/${emitted}`, { prefix: '/hls-proxy', tokenPath: emitted }],
    ['prefix made of base64 letters', `/abcd/${slashy}`, { prefix: '/abcd', tokenPath: slashy }],
    ['percent-encoded token', `/p/${encodeURIComponent(b64(URL_SLASH_PLUS))}.ts`, { prefix: '/p', tokenPath: `${encodeURIComponent(b64(URL_SLASH_PLUS))}.ts` }],
    ['query is not part of the token', `/hls-proxy/${slashy}?_HLS_msn=3`, { prefix: '/hls-proxy', tokenPath: slashy }],
    ['no token', '/hls-proxy/index.m3u8', undefined],
    ['empty path', '', undefined],
    ['root', '/', undefined],
  ];
  for (const [name, path, expected] of table) {
    it(name, () => {
      const split = splitPrefix(path);
      expect(split && { prefix: split.prefix, tokenPath: split.tokenPath }).to.deep.equal(expected);
      // The decoded target comes along, so the router does not decode the token twice.
      if (split) expect(split.target).to.deep.equal(decodeTarget(split.tokenPath, { maxTokenLength: 1e6 }));
    });
  }
});

describe('url-codec: extensionFor', () => {
  const d = { manifestExtension: 'm3u8' };
  const table: Array<[string, Parameters<typeof extensionFor>[1], { manifestExtension: string; segmentExtension?: string }, string]> = [
    ['http://a.test/v/index.php?x=1', 'playlist', d, 'm3u8'],
    ['http://a.test/v/index.m3u8', 'playlist', { manifestExtension: 'txt' }, 'txt'],
    ['http://a.test/v/seg1.TS?x=1', 'segment', d, 'ts'],
    ['http://a.test/v/seg1.aac', 'segment', d, 'aac'],
    ['http://a.test/v/seg1', 'segment', d, 'ts'],
    ['http://a.test/v/seg1', 'segment', { ...d, segmentExtension: 'mp4' }, 'mp4'],
    ['http://a.test/v/seg1.m4s', 'segment', { ...d, segmentExtension: 'mp4' }, 'mp4'] /* hlsd: --segment-extension replaces every segment's extension */,
    ['http://a.test/v.dir/seg1', 'segment', d, 'ts'],
    ['http://a.test/v/seg1.m3u8', 'segment', d, 'ts'],
    ['http://a.test/v/seg1.txt', 'segment', { manifestExtension: 'txt' }, 'ts'],
    ['http://a.test/v/seg.verylongext', 'segment', d, 'ts'],
    ['http://a.test/v/seg.t-s', 'segment', d, 'ts'],
    ['http://a.test/v/seg.ts#t=1.mp4', 'segment', d, 'ts'],
    ['http://a.test?x=y.aac', 'segment', d, 'ts'],
    ['http://a.test', 'segment', d, 'ts'],
    ['http://a.test/k/key', 'key', d, 'key'],
    ['http://a.test/k/key', 'key', { ...d, segmentExtension: 'mp4' }, 'key'],
    ['http://a.test/k/k.bin', 'key', d, 'bin'],
    ['http://a.test/init', 'map', d, 'mp4'],
    ['http://a.test/init', 'map', { ...d, segmentExtension: 'm4s' }, 'm4s'],
    ['http://a.test/steer', 'steering', d, 'json'],
    ['http://a.test/list', 'asset-list', d, 'json'],
    ['http://a.test/data', 'session-data', d, 'json'],
  ];
  for (const [url, kind, opts, ext] of table) {
    it(`${kind} ${url} → ${ext}`, () => expect(extensionFor(url, kind, opts)).to.equal(ext));
  }
});

describe('url-codec: mergeQuery (RFC 8216bis §6.2.5.2 delivery directives reach the origin)', () => {
  const table: Array<[string, string, string, readonly string[] | undefined, string]> = [
    ['nothing to add', 'http://a.test/x?b=1', '', undefined, 'http://a.test/x?b=1'],
    ['only ?', 'http://a.test/x?b=1', '?', undefined, 'http://a.test/x?b=1'],
    ['upstream without query', 'http://a.test/x', '_HLS_msn=12&_HLS_part=1', undefined, 'http://a.test/x?_HLS_msn=12&_HLS_part=1'],
    ['leading ? on the request query', 'http://a.test/x', '?_HLS_skip=YES', undefined, 'http://a.test/x?_HLS_skip=YES'],
    ['request wins, rest byte-exact in order', 'http://a.test/x?a=%2f+~&_HLS_msn=3&b=%E2%82%AC', '_HLS_msn=12', undefined, 'http://a.test/x?a=%2f+~&b=%E2%82%AC&_HLS_msn=12'],
    ['all upstream pairs with that name go', 'http://a.test/x?k=1&k=2&j=3', 'k=9', undefined, 'http://a.test/x?j=3&k=9'],
    ['raw names: %6B is not k', 'http://a.test/x?k=1', '%6B=2', undefined, 'http://a.test/x?k=1&%6B=2'],
    ['name without =', 'http://a.test/x?flag=1&z', 'flag', undefined, 'http://a.test/x?z&flag'],
    ['everything replaced', 'http://a.test/x?k=1', 'k=2', undefined, 'http://a.test/x?k=2'],
    ['upstream empty query', 'http://a.test/x?', 'k=2', undefined, 'http://a.test/x?k=2'],
    ['fragment stays last', 'http://a.test/x.m3u8?t=1#vod_start=30', '_HLS_msn=1', undefined, 'http://a.test/x.m3u8?t=1&_HLS_msn=1#vod_start=30'],
    ['password dropped', 'http://a.test/x', 'password=s3cret&_HLS_msn=1', ['password'], 'http://a.test/x?_HLS_msn=1'],
    ['encoded password dropped', 'http://a.test/x?a=1', 'pass%77ord=s3cret', ['password'], 'http://a.test/x?a=1'],
    ['empty request pieces skipped', 'http://a.test/x', '&&a=1&', undefined, 'http://a.test/x?a=1'],
    ['empty upstream pieces kept', 'http://a.test/x?a=1&&b=2', 'c=3', undefined, 'http://a.test/x?a=1&&b=2&c=3'],
  ];
  for (const [name, upstream, query, drop, expected] of table) {
    it(name, () => expect(mergeQuery(upstream, query, drop)).to.equal(expected));
  }
});
