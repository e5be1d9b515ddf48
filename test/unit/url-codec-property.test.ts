import { expect } from 'chai';
import fc from 'fast-check';
import { ProxyError } from '../../src/errors.js';
import { decodeTarget, encodeTarget, isProxiableUrl, mergeQuery, splitPrefix, type Target } from '../../src/url-codec.js';

const RUNS = { numRuns: 300 };
const MAX = { maxTokenLength: 1 << 20 };

// Every printable ASCII character except space (RFC 3986 §2 excludes the rest; the codec refuses them).
const PRINTABLE = Array.from({ length: 0x7e - 0x20 }, (_, i) => String.fromCharCode(0x21 + i));
const FORBIDDEN = /[\s\x00-\x1f\x7f-\x9f]/;
const queryUnit = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...PRINTABLE) },
  { weight: 1, arbitrary: fc.constantFrom('|http', '|HTTP', '%', '%2F', '~', '=', '/', '+', '.') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }).filter((s) => !FORBIDDEN.test(s)) },
);
const segment = fc.string({ unit: fc.constantFrom(...'abcXYZ019-._~%!$&\'()*+,;=:@'.split('')), maxLength: 12 });

const httpUrl = fc
  .record({
    scheme: fc.constantFrom('http', 'https', 'HTTP', 'Https'),
    host: fc.domain(),
    port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    path: fc.array(segment, { maxLength: 5 }),
    query: fc.option(fc.string({ unit: queryUnit, maxLength: 60 }), { nil: undefined }),
  })
  .map(({ scheme, host, port, path, query }) =>
    `${scheme}://${host}${port ? `:${port}` : ''}/${path.join('/')}${query === undefined ? '' : `?${query}`}`,
  );

const target: fc.Arbitrary<Target> = fc
  .record({
    url: httpUrl,
    referer: fc.option(httpUrl, { nil: undefined }),
    // 'binary' units include lone surrogates: variables are carried as JSON, which escapes them.
    vars: fc.option(fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 16 }), { minKeys: 1, maxKeys: 4 }), { nil: undefined }),
  })
  .map((t) => {
    const out: Target = { url: t.url };
    if (t.referer !== undefined) out.referer = t.referer;
    if (t.vars !== undefined) out.vars = t.vars;
    return out;
  });

describe('url-codec properties', () => {
  it('encode → decode round-trips url, referer, vars, ext and signature byte-exactly', () => {
    fc.assert(
      fc.property(
        target,
        fc.stringMatching(/^[a-z0-9]{0,10}$/),
        fc.option(fc.stringMatching(/^[A-Za-z0-9_-]{1,60}$/), { nil: undefined }),
        (t, ext, sig) => {
          const token = encodeTarget(t, ext, sig);
          expect(token).to.match(/^[A-Za-z0-9._-]+$/);
          const got = decodeTarget(token, MAX);
          expect(got.url).to.equal(t.url);
          expect(got.referer).to.equal(t.referer);
          expect(got.vars === undefined ? undefined : Object.entries(got.vars)).to.deep.equal(t.vars === undefined ? undefined : Object.entries(t.vars));
          expect(got.ext).to.equal(ext);
          expect(got.signature).to.equal(sig);
        },
      ),
      RUNS,
    );
  });

  it('splitPrefix finds a lower-case prefix in front of any emitted token', () => {
    const prefix = fc.array(fc.stringMatching(/^[a-z0-9-]{1,8}$/), { maxLength: 3 }).map((s) => s.map((x) => `/${x}`).join(''));
    fc.assert(
      fc.property(prefix, target, (p, t) => {
        const token = encodeTarget(t, 'm3u8');
        expect(splitPrefix(`${p}/${token}`)).to.deep.include({ prefix: p, tokenPath: token });
      }),
      RUNS,
    );
  });

  it('decodeTarget throws nothing but ProxyError(BAD_TOKEN), and what it accepts is a clean http(s) URL', () => {
    const tokenish = fc.string({ unit: fc.constantFrom(...'aHR0cDovL2V4+/=%._- _|'.split('')), maxLength: 80 });
    const mutated = fc
      .tuple(target, fc.nat(), fc.string({ unit: 'binary', maxLength: 3 }), fc.nat({ max: 3 }))
      .map(([t, at, insert, del]) => {
        const token = encodeTarget(t, 'ts');
        const i = at % (token.length + 1);
        return token.slice(0, i) + insert + token.slice(i + del);
      });
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), tokenish, mutated), (input) => {
        try {
          const got = decodeTarget(input, MAX);
          expect(isProxiableUrl(got.url), got.url).to.equal(true);
          if (got.referer !== undefined) expect(isProxiableUrl(got.referer)).to.equal(true);
          expect(got.ext).to.match(/^[a-z0-9]{0,10}$/);
        } catch (err) {
          if (!(err instanceof ProxyError) || err.code !== 'BAD_TOKEN') throw err;
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('mergeQuery keeps untouched upstream pairs and every request pair byte-exact, in order', () => {
    const raw = fc.string({ unit: fc.constantFrom(...'ab_HLS%2F+~=/?:@!$\'()*,;'.split('')), maxLength: 8 });
    const name = fc.string({ unit: fc.constantFrom(...'abk_%2B+~'.split('')), minLength: 1, maxLength: 4 });
    const pair = fc.tuple(name, raw).map(([n, v]) => `${n}=${v}`);
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 6 }), fc.array(pair, { maxLength: 4 }), (up, req) => {
        const upstream = `https://o.test/p.m3u8${up.length ? `?${up.join('&')}` : ''}`;
        const merged = mergeQuery(upstream, req.join('&'));
        const reqNames = new Set(req.map((p) => p.slice(0, p.indexOf('='))));
        const expected = [...up.filter((p) => !reqNames.has(p.slice(0, p.indexOf('=')))), ...req];
        if (req.length === 0) expect(merged).to.equal(upstream);
        else expect(merged).to.equal(`https://o.test/p.m3u8${expected.length ? `?${expected.join('&')}` : ''}`);
      }),
      RUNS,
    );
  });
});
