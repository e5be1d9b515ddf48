/**
 * What the front server's cache may keep (routes/front-cache.ts): the `X-Accel-Expires` of each reply.
 * The nginx side (that only marked replies are kept, Range around the cache) is in
 * test/integration/front-cache.test.ts.
 */
import { expect } from 'chai';
import {
  FRONT_CACHE_MIN_FRESH_S,
  SEGMENT_FRONT_DEFAULT_S,
  SEGMENT_FRONT_MAX_BYTES,
  SEGMENT_FRONT_MAX_S,
  playlistFrontExpires,
  segmentFrontExpires,
} from '../../src/routes/front-cache.js';

describe('front cache: what nginx may keep', () => {
  describe('playlists: one second, only when fresh 2 s more, only public', () => {
    const table: Array<['public' | 'private', number, string | undefined]> = [
      ['public', FRONT_CACHE_MIN_FRESH_S, '1'],
      ['public', 30, '1'],
      ['public', FRONT_CACHE_MIN_FRESH_S - 1, undefined],
      ['public', 0, undefined],
      ['private', 30, undefined],
    ];
    for (const [scope, maxAge, expected] of table) {
      it(`${scope}, fresh ${maxAge} s → ${String(expected)}`, () => expect(playlistFrontExpires(scope, maxAge)).to.equal(expected));
    }
  });

  describe('segments, keys, init sections', () => {
    const segment = { 'content-type': 'video/mp2t', 'content-length': '1500000' };
    const table: Array<[string, number, Record<string, string | string[]>, string | undefined]> = [
      // RFC 8216 §6.2.2 bounds how soon a segment URL can hold other bytes; 6 s is inside that bound.
      ['no freshness from the origin: the default', 200, {}, String(SEGMENT_FRONT_DEFAULT_S)],
      // RFC 9111 §5.2.2.5 "The no-store response directive indicates that a cache MUST NOT store any part of either the immediate request or the response"
      ['no-store', 200, { 'cache-control': 'no-store' }, undefined],
      // §5.2.2.7 "The private response directive indicates that a shared cache MUST NOT store the response"
      ['private', 200, { 'cache-control': 'private, max-age=60' }, undefined],
      // §5.2.2.4 no-cache: "the response MUST NOT be used to satisfy any other request without forwarding it for validation"
      ['no-cache', 200, { 'cache-control': 'No-Cache' }, undefined],
      ['max-age', 200, { 'cache-control': 'public, max-age=30' }, '30'],
      // §5.2.2.10 s-maxage: "for a shared cache, the maximum age specified by this directive overrides the maximum age specified by either the max-age directive or the Expires header field"
      ['s-maxage over max-age', 200, { 'cache-control': 'max-age=30, s-maxage=10' }, '10'],
      ['Age subtracted (§4.2.3)', 200, { 'cache-control': 'max-age=30', age: '25' }, '5'],
      ['already stale', 200, { 'cache-control': 'max-age=30', age: '40' }, undefined],
      ['max-age=0', 200, { 'cache-control': 'max-age=0' }, undefined],
      ['a long max-age is capped', 200, { 'cache-control': 'max-age=31536000, immutable' }, String(SEGMENT_FRONT_MAX_S)],
      ['Expires minus Date', 200, { date: 'Tue, 24 Nov 2026 06:00:00 GMT', expires: 'Tue, 24 Nov 2026 06:00:20 GMT' }, '20'],
      // §5.3 "A cache recipient MUST interpret invalid date formats, especially the value "0", as representing a time in the past"
      ['Expires: 0', 200, { date: 'Tue, 24 Nov 2026 06:00:00 GMT', expires: '0' }, undefined],
      ['max-age wins over Expires (§5.3)', 200, { 'cache-control': 'max-age=8', date: 'Tue, 24 Nov 2026 06:00:00 GMT', expires: '0' }, '8'],
      ['a range (206) is never kept', 206, { 'content-range': 'bytes 0-99/1500000', 'content-length': '100' }, undefined],
      ['304', 304, {}, undefined],
      ['404', 404, {}, undefined],
      ['no Content-Length (chunked)', 200, { 'content-length': '' }, undefined],
      ['over the size limit', 200, { 'content-length': String(SEGMENT_FRONT_MAX_BYTES + 1) }, undefined],
      ['at the size limit', 200, { 'content-length': String(SEGMENT_FRONT_MAX_BYTES) }, String(SEGMENT_FRONT_DEFAULT_S)],
      ['Set-Cookie', 200, { 'set-cookie': ['a=b'] }, undefined],
      ['Vary: *', 200, { vary: '*' }, undefined],
    ];
    for (const [name, status, extra, expected] of table) {
      it(`${name} → ${String(expected)}`, () => {
        const headers: Record<string, string | string[] | undefined> = { ...segment, ...extra };
        if (headers['content-length'] === '') delete headers['content-length'];
        expect(segmentFrontExpires('public', status, headers)).to.equal(expected);
      });
    }
    it('a reply let through by who asked (private scope) is never kept, whatever the origin allows', () => {
      expect(segmentFrontExpires('private', 200, { ...segment, 'cache-control': 'public, max-age=600' })).to.equal(undefined);
      expect(segmentFrontExpires('private', 200, segment)).to.equal(undefined);
    });
  });
});
