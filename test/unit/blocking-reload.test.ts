import { expect } from 'chai';
import { isBlockingReload } from '../../src/url-query.js';

// RFC 8216bis §6.2.5.2: "the server MUST hold onto the request until a Playlist contains a Media Segment
// with the specified Media Sequence Number" (and part, with _HLS_part). Such a request never gets a stale
// copy early (the cache's stale wait, issue #15).
describe('isBlockingReload: a playlist request the server must hold (_HLS_msn)', () => {
  const rows: Array<[string, boolean]> = [
    ['http://o.test/live.m3u8?_HLS_msn=12', true],
    ['http://o.test/live.m3u8?token=a~b&_HLS_msn=12&_HLS_part=3', true],
    ['http://o.test/live.m3u8?%5FHLS%5Fmsn=12', true],
    ['http://o.test/live.m3u8?_HLS_skip=YES', false],
    ['http://o.test/live.m3u8?x=_HLS_msn', false],
    ['http://o.test/live.m3u8?_HLS_msnx=1', false],
    ['http://o.test/live.m3u8', false],
    ['http://o.test/live.m3u8#_HLS_msn=1', false],
    ['http://o.test/live.m3u8?a=1#_HLS_msn=1', false],
  ];
  for (const [url, blocking] of rows) it(`${url}: ${blocking}`, () => expect(isBlockingReload(url)).to.equal(blocking));
});
