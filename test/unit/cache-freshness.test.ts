import { expect } from 'chai';
import { configFromOptions, type CacheConfig } from '../../src/config.js';
import { ProxyError } from '../../src/errors.js';
import { allowsStale, classifyPlaylist, errorEntry, errorFromEntry, keepMsFor, ttlFor } from '../../src/cache/freshness.js';

// The documented defaults, with the few fields these tests pin.
const cfg: CacheConfig = { ...configFromOptions().cache, redisKeyPrefix: 't:', maxEntries: 100, maxBytes: 1024 * 1024 };

const media = (targetDuration: string, extra = ''): string =>
  `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:${targetDuration}\n#EXT-X-MEDIA-SEQUENCE:7\n${extra}#EXTINF:6.0,\nseg7.ts\n`;
const llhls = (partTarget: string, targetDuration = '4'): string =>
  `#EXTM3U\n#EXT-X-TARGETDURATION:${targetDuration}\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3.0\n` +
  `#EXT-X-PART-INF:PART-TARGET=${partTarget}\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:4.0,\ns1.mp4\n#EXT-X-PART:DURATION=1.0,URI="p1.mp4"\n`;
const multivariant = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1280000,RESOLUTION=640x360\nlow/index.m3u8\n';
const iframeOnlyMultivariant = '#EXTM3U\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=86000,URI="low/iframe.m3u8"\n';

describe('cache freshness: ttlFor derives the lifetime from the playlist', () => {
  const table: Array<{ name: string; entry: { status: number; body: string; errorCode?: string }; kind: string; ttl: number; rfc?: string }> = [
    {
      name: 'live media playlist: half the target duration',
      entry: { status: 200, body: media('6') },
      kind: 'live',
      ttl: 3000,
      rfc: 'RFC 8216 §6.3.4: "it MUST wait for a period of one-half the target duration before retrying"',
    },
    { name: 'live, CRLF line ends', entry: { status: 200, body: media('4').replace(/\n/g, '\r\n') }, kind: 'live', ttl: 2000 },
    { name: 'live, long target clamped to liveTtlMaxMs', entry: { status: 200, body: media('30') }, kind: 'live', ttl: 6000 },
    { name: 'live, tiny target clamped to liveTtlMinMs', entry: { status: 200, body: media('0') }, kind: 'live', ttl: 200 },
    {
      name: 'LL-HLS: half the PART-TARGET, not the target duration',
      entry: { status: 200, body: llhls('1.0') },
      kind: 'll-hls',
      ttl: 500,
      rfc: 'RFC 8216bis §4.4.3.7: PART-TARGET, the Part Target Duration, paces an LL-HLS playlist',
    },
    { name: 'LL-HLS, fractional PART-TARGET', entry: { status: 200, body: llhls('0.6') }, kind: 'll-hls', ttl: 300 },
    { name: 'LL-HLS, PART-TARGET below the floor clamped', entry: { status: 200, body: llhls('0.2') }, kind: 'll-hls', ttl: 200 },
    {
      name: 'multivariant (EXT-X-STREAM-INF)',
      entry: { status: 200, body: multivariant },
      kind: 'multivariant',
      ttl: 10_000,
      rfc: 'RFC 8216 §4.3.4.2: EXT-X-STREAM-INF belongs to a Multivariant Playlist',
    },
    { name: 'multivariant with only I-frame streams', entry: { status: 200, body: iframeOnlyMultivariant }, kind: 'multivariant', ttl: 10_000 },
    {
      name: 'VOD (#EXT-X-ENDLIST)',
      entry: { status: 200, body: `${media('10')}#EXT-X-ENDLIST\n` },
      kind: 'vod',
      ttl: 600_000,
      rfc: 'RFC 8216 §4.3.3.4: EXT-X-ENDLIST "indicates that no more Media Segments will be added"',
    },
    { name: 'VOD by EXT-X-PLAYLIST-TYPE:VOD', entry: { status: 200, body: media('10', '#EXT-X-PLAYLIST-TYPE:VOD\n') }, kind: 'vod', ttl: 600_000 },
    { name: 'ended LL-HLS stream is VOD', entry: { status: 200, body: `${llhls('1.0')}#EXT-X-ENDLIST\n` }, kind: 'vod', ttl: 600_000 },
    { name: 'EVENT playlist is still live', entry: { status: 200, body: media('8', '#EXT-X-PLAYLIST-TYPE:EVENT\n') }, kind: 'live', ttl: 4000 },
    { name: 'upstream 404 body', entry: { status: 404, body: 'not found' }, kind: 'error', ttl: 1000 },
    { name: 'upstream 503 even with a playlist body', entry: { status: 503, body: media('6') }, kind: 'error', ttl: 1000 },
    { name: 'fetch failure (errorCode)', entry: { status: 504, body: '', errorCode: 'UPSTREAM_TIMEOUT' }, kind: 'error', ttl: 1000 },
    { name: 'not a playlist: most conservative live lifetime', entry: { status: 200, body: '<html></html>' }, kind: 'unknown', ttl: 200 },
    { name: 'tag names in a URI line are not tags', entry: { status: 200, body: `${media('6')}x#EXT-X-ENDLIST.ts\n` }, kind: 'live', ttl: 3000 },
  ];

  for (const row of table) {
    it(`${row.name} → ${row.ttl} ms${row.rfc ? ` (${row.rfc})` : ''}`, () => {
      expect(classifyPlaylist(row.entry)).to.equal(row.kind);
      expect(ttlFor(row.entry, cfg)).to.equal(row.ttl);
    });
  }

  it('every lifetime follows its CacheConfig override', () => {
    const o: CacheConfig = { ...cfg, liveTtlMinMs: 50, liveTtlMaxMs: 60_000, masterTtlMs: 7, vodTtlMs: 8, errorTtlMs: 9 };
    expect(ttlFor({ status: 200, body: media('30') }, o)).to.equal(15_000);
    expect(ttlFor({ status: 200, body: llhls('0.2') }, o)).to.equal(100);
    expect(ttlFor({ status: 200, body: multivariant }, o)).to.equal(7);
    expect(ttlFor({ status: 200, body: `${media('6')}#EXT-X-ENDLIST` }, o)).to.equal(8);
    expect(ttlFor({ status: 500, body: '' }, o)).to.equal(9);
  });

  it('a playlist and an outage are kept for their lifetime plus the stale-if-error window; an answer (4xx) only for its lifetime', () => {
    const ok = { status: 200, body: media('6'), finalUrl: 'u', contentType: 'x', fetchedAt: 0, ttlMs: 3000 };
    expect(keepMsFor(ok, cfg)).to.equal(33_000);
    // The outage stays known after errorTtlMs for the stale wait (issue #15); usable() still retries it then.
    expect(keepMsFor({ ...ok, status: 502, ttlMs: 1000, errorCode: 'UPSTREAM_STATUS' }, cfg)).to.equal(31_000);
    expect(keepMsFor({ ...ok, status: 504, ttlMs: 1000, errorCode: 'UPSTREAM_CONNECT_TIMEOUT' }, cfg)).to.equal(31_000);
    expect(keepMsFor({ ...ok, status: 404, ttlMs: 1000, errorCode: 'UPSTREAM_STATUS' }, cfg)).to.equal(1000);
  });
});

describe('cache freshness: error entries round-trip to the same ProxyError', () => {
  const table: Array<[string, ProxyError, number, boolean]> = [
    // RFC 5861 §4: stale-if-error covers what "would result in a 500, 502, 503, or 504".
    ['upstream 404 passed through', new ProxyError('UPSTREAM_STATUS', { status: 404 }), 404, false],
    ['upstream 503 passed through', new ProxyError('UPSTREAM_STATUS', { status: 503 }), 503, true],
    ['unreachable', new ProxyError('UPSTREAM_UNREACHABLE'), 502, true],
    ['timeout', new ProxyError('UPSTREAM_TIMEOUT'), 504, true],
    ['egress denied on redirect', new ProxyError('EGRESS_DENIED'), 403, false],
  ];
  for (const [name, err, status, stale] of table) {
    it(`${name}: status ${status}, stale-if-error ${stale ? 'applies' : 'does not apply'}`, () => {
      const entry = errorEntry(err, 1234, cfg);
      expect(entry).to.include({ status, errorCode: err.code, ttlMs: cfg.errorTtlMs, fetchedAt: 1234, body: '' });
      const back = errorFromEntry(entry);
      expect(back).to.be.instanceOf(ProxyError);
      expect(back.code).to.equal(err.code);
      expect(back.statusOverride).to.equal(err.statusOverride);
      expect(allowsStale(err)).to.equal(stale);
    });
  }

  it('an unknown stored code becomes INTERNAL rather than an invented code', () => {
    const back = errorFromEntry({ status: 500, body: '', finalUrl: '', contentType: '', fetchedAt: 0, ttlMs: 1, errorCode: 'NOPE' });
    expect(back.code).to.equal('INTERNAL');
  });
});
