import { expect } from 'chai';
import { createResolver, removeDotSegments, resolveReference } from '../../src/manifest/resolve.js';

// RFC 3986 §5.4: "Within a representation with a well defined base URI of http://a/b/c/d;p?q a relative reference
// is transformed to its target URI as follows."
const BASE = 'http://a/b/c/d;p?q';

describe('manifest resolveReference: RFC 3986 §5.4.1 normal examples', () => {
  const normal: Array<[string, string]> = [
    ['g:h', 'g:h'],
    ['g', 'http://a/b/c/g'],
    ['./g', 'http://a/b/c/g'],
    ['g/', 'http://a/b/c/g/'],
    ['/g', 'http://a/g'],
    ['//g', 'http://g'],
    ['?y', 'http://a/b/c/d;p?y'],
    ['g?y', 'http://a/b/c/g?y'],
    ['#s', 'http://a/b/c/d;p?q#s'],
    ['g#s', 'http://a/b/c/g#s'],
    ['g?y#s', 'http://a/b/c/g?y#s'],
    [';x', 'http://a/b/c/;x'],
    ['g;x', 'http://a/b/c/g;x'],
    ['g;x?y#s', 'http://a/b/c/g;x?y#s'],
    ['', 'http://a/b/c/d;p?q'],
    ['.', 'http://a/b/c/'],
    ['./', 'http://a/b/c/'],
    ['..', 'http://a/b/'],
    ['../', 'http://a/b/'],
    ['../g', 'http://a/b/g'],
    ['../..', 'http://a/'],
    ['../../', 'http://a/'],
    ['../../g', 'http://a/g'],
  ];
  for (const [ref, target] of normal) {
    it(`"${ref}" -> "${target}"`, () => expect(resolveReference(BASE, ref)).to.equal(target));
  }
});

describe('manifest resolveReference: RFC 3986 §5.4.2 abnormal examples', () => {
  // "Parsers must be careful in handling cases where there are more ".." segments in a relative-path reference than
  // there are hierarchical levels in the base URI's path."
  const abnormal: Array<[string, string]> = [
    ['../../../g', 'http://a/g'],
    ['../../../../g', 'http://a/g'],
    ['/./g', 'http://a/g'],
    ['/../g', 'http://a/g'],
    ['g.', 'http://a/b/c/g.'],
    ['.g', 'http://a/b/c/.g'],
    ['g..', 'http://a/b/c/g..'],
    ['..g', 'http://a/b/c/..g'],
    ['./../g', 'http://a/b/g'],
    ['./g/.', 'http://a/b/c/g/'],
    ['g/./h', 'http://a/b/c/g/h'],
    ['g/../h', 'http://a/b/c/h'],
    ['g;x=1/./y', 'http://a/b/c/g;x=1/y'],
    ['g;x=1/../y', 'http://a/b/c/y'],
    ['g?y/./x', 'http://a/b/c/g?y/./x'],
    ['g?y/../x', 'http://a/b/c/g?y/../x'],
    ['g#s/./x', 'http://a/b/c/g#s/./x'],
    ['g#s/../x', 'http://a/b/c/g#s/../x'],
    // "http:g" -> "http:g" ; for strict parsers
    ['http:g', 'http:g'],
  ];
  for (const [ref, target] of abnormal) {
    it(`"${ref}" -> "${target}"`, () => expect(resolveReference(BASE, ref)).to.equal(target));
  }
});

describe('manifest resolveReference: byte-exact', () => {
  const base = 'https://origin.example/live/main/index.m3u8?tok=a~b%2F=';
  const cases: Array<[string, string, string]> = [
    ['signed query token', 'seg_00001.ts?token=abc~x%2F=', 'https://origin.example/live/main/seg_00001.ts?token=abc~x%2F='],
    ['plus, percent, tilde, equals kept', 's.ts?a=1+2&b=%2B%2f&c=~=', 'https://origin.example/live/main/s.ts?a=1+2&b=%2B%2f&c=~='],
    ['invalid percent escape kept', 's%zz.ts?x=%', 'https://origin.example/live/main/s%zz.ts?x=%'],
    ['%2e is not a dot segment', '%2e%2e/s.ts', 'https://origin.example/live/main/%2e%2e/s.ts'],
    ['characters URL() would encode', 's {x}|^`.ts?q="<>"', 'https://origin.example/live/main/s {x}|^`.ts?q="<>"'],
    ['non-ASCII kept, not punycoded or encoded', '//bücher.example/ä.ts?ö=ü', 'https://bücher.example/ä.ts?ö=ü'],
    ['host case kept', '//CDN.Example/S.ts', 'https://CDN.Example/S.ts'],
    ['absolute URL kept as is (no trailing slash added)', 'http://h.example', 'http://h.example'],
    ['colon in the query stays on the fast path result', 's.ts?t=12:00', 'https://origin.example/live/main/s.ts?t=12:00'],
    ['fragment kept', 's.ts#t=1,2', 'https://origin.example/live/main/s.ts#t=1,2'],
    ['query-only reference replaces the base query', '?x=%2F', 'https://origin.example/live/main/index.m3u8?x=%2F'],
    ['base query is not inherited by a path', 's.ts', 'https://origin.example/live/main/s.ts'],
  ];
  for (const [name, ref, target] of cases) {
    it(name, () => expect(resolveReference(base, ref)).to.equal(target));
  }

  it('does not take the fast path when the base path has dot segments', () => {
    expect(resolveReference('http://h/a/../b/p.m3u8', 's.ts')).to.equal('http://h/b/s.ts');
  });

  it('base with authority and empty path merges to "/"', () => {
    expect(resolveReference('http://h', 's.ts')).to.equal('http://h/s.ts');
    expect(resolveReference('http://h?q', 's.ts')).to.equal('http://h/s.ts');
  });

  it('a resolver bound to one base gives the same answers as resolveReference', () => {
    const r = createResolver(BASE);
    for (const ref of ['g', '../g', '?y', '', 'g:h', '//g/./x']) expect(r(ref)).to.equal(resolveReference(BASE, ref));
  });
});

describe('manifest removeDotSegments (RFC 3986 §5.2.4)', () => {
  // The two examples of §5.2.4.
  it('"/a/b/c/./../../g" -> "/a/g"', () => expect(removeDotSegments('/a/b/c/./../../g')).to.equal('/a/g'));
  it('"mid/content=5/../6" -> "mid/6"', () => expect(removeDotSegments('mid/content=5/../6')).to.equal('mid/6'));
  it('stays linear on a huge path', () => {
    const path = '/a/..'.repeat(200_000) + '/x';
    expect(removeDotSegments(path)).to.equal('/x');
  });
});
