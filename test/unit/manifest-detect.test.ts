import { expect } from 'chai';
import { looksLikePlaylist } from '../../src/manifest/detect.js';

// RFC 8216 §4: "Each Playlist file MUST be identifiable either by the path component of its URI or by HTTP
// Content-Type." Origins often get the type wrong, so the body is sniffed too (§4.3.1.1: EXTM3U "MUST be the
// first line of every Media Playlist and every Master Playlist").
describe('manifest looksLikePlaylist', () => {
  const cases: Array<[string, string | undefined, string, boolean]> = [
    ['application/vnd.apple.mpegurl', 'application/vnd.apple.mpegurl', '', true],
    ['application/x-mpegURL with params', 'application/x-mpegURL; charset=utf-8', '', true],
    ['audio/mpegurl', 'audio/mpegurl', '', true],
    ['audio/x-mpegurl, upper case, spaces', '  AUDIO/X-MPEGURL ;x=1', '', true],
    ['text/plain body #EXTM3U', 'text/plain', '#EXTM3U\n#EXT-X-VERSION:3', true],
    ['no type, BOM and whitespace before #EXTM3U', undefined, '\uFEFF \r\n\t#EXTM3U', true],
    ['octet-stream with a TS body', 'application/octet-stream', 'G@\u0011\u0010', false],
    ['type prefix is not enough', 'application/vnd.apple.mpegurl2', '', false],
    ['no type, empty body', undefined, '', false],
    ['#EXTM3 is not #EXTM3U', undefined, '#EXTM3', false],
    ['lower-case tag is not the tag', 'text/plain', '#extm3u', false],
    ['HTML error page', 'text/html', '<html>#EXTM3U</html>', false],
  ];
  for (const [name, type, head, expected] of cases) {
    it(`${name} -> ${expected}`, () => expect(looksLikePlaylist(type, head)).to.equal(expected));
  }
});
