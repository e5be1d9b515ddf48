/**
 * Cache-Control for a reply whose access check depended on who asked (upstream/headers.ts#scoped).
 * RFC 9111 §5.2.2.7: "The private response directive indicates that a shared cache MUST NOT store the
 * response"; `public` (§5.2.2.9), `s-maxage` (§5.2.2.10) and `proxy-revalidate` (§5.2.2.8) speak to shared
 * caches only, so they go; what the viewer's own cache may do (max-age, no-store, ...) stays.
 */
import { expect } from 'chai';
import { scoped } from '../../src/upstream/headers.js';

describe('cache scope of a reply (RFC 9111 §5.2.2.7 private)', () => {
  const table: Array<[string | undefined, string]> = [
    [undefined, 'private'],
    ['max-age=60', 'private, max-age=60'],
    ['public, max-age=60', 'private, max-age=60'],
    ['public, s-maxage=600, max-age=60', 'private, max-age=60'],
    ['max-age=60, proxy-revalidate', 'private, max-age=60'],
    ['no-store', 'private, no-store'],
    ['private', 'private'],
    ['Private="set-cookie", no-cache', 'private, no-cache'],
    ['  max-age=5 ,, must-revalidate ', 'private, max-age=5, must-revalidate'],
    ['publicity=1', 'private, publicity=1'],
  ];
  for (const [upstream, expected] of table) {
    it(`${JSON.stringify(upstream)} → ${JSON.stringify(expected)}`, () => {
      const headers = upstream === undefined ? { etag: '"x"' } : { etag: '"x"', 'cache-control': upstream };
      const out = scoped(headers, 'private');
      expect(out['cache-control']).to.equal(expected);
      expect(out.etag).to.equal('"x"');
    });
  }

  it('a public reply is passed on as it is (the same object)', () => {
    const headers = { 'cache-control': 'public, max-age=60' };
    expect(scoped(headers, 'public')).to.equal(headers);
  });
});
