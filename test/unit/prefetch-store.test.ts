import { expect } from 'chai';
import { createHookRunner } from '../../src/hooks.js';
import { isLiveMediaPlaylist, prefetchCandidates } from '../../src/prefetch/plan.js';
import { createSegmentStore, type StoredSegment } from '../../src/prefetch/segment-store.js';

/** The prefetch store's bounds and lifecycle, and which playlist URIs are prefetched (pure parts of --prefetch). */

const seg = (n: number): StoredSegment => ({ headers: { 'content-type': 'video/mp2t' }, body: Buffer.alloc(n, 1) });

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('prefetch: segment store', () => {
  let now = 1_000_000;
  const clock = () => now;

  it('never holds more than maxEntries entries, pending ones included; the least recently used goes first', () => {
    const store = createSegmentStore({ maxEntries: 3, maxBytes: 1e9, ttlMs: 60_000, clock });
    for (const k of ['a', 'b', 'c']) store.reserve(k)!.fill(seg(10));
    expect(store.get('a')?.state).to.equal('ready'); // a is now the most recently used
    const d = store.reserve('d')!;
    expect(store.stats()).to.deep.equal({ entries: 3, pending: 1, bytes: 20 });
    expect(store.get('b')).to.equal(undefined);
    expect(d.fill(seg(5))).to.equal(true);
    for (let i = 0; i < 100; i++) store.reserve(`x${i}`);
    expect(store.stats().entries).to.equal(3);
  });

  it('never holds more than maxBytes; a body larger than the bound is not stored', () => {
    const store = createSegmentStore({ maxEntries: 100, maxBytes: 100, ttlMs: 60_000, clock });
    for (let i = 0; i < 10; i++) store.reserve(`k${i}`)!.fill(seg(30));
    expect(store.stats().bytes).to.be.at.most(100);
    expect(store.stats().entries).to.equal(3);
    const big = store.reserve('big')!;
    expect(big.fill(seg(101))).to.equal(false);
    expect(store.get('big')).to.equal(undefined);
  });

  it('entries expire ttlMs after they were filled, on access and by sweep()', () => {
    const store = createSegmentStore({ maxEntries: 10, maxBytes: 1e9, ttlMs: 1000, clock });
    store.reserve('a')!.fill(seg(1));
    store.reserve('b')!.fill(seg(1));
    now += 999;
    expect(store.get('a')?.state).to.equal('ready');
    now += 1;
    expect(store.get('a')).to.equal(undefined);
    expect(store.sweep()).to.equal(1);
    expect(store.stats()).to.deep.equal({ entries: 0, pending: 0, bytes: 0 });
  });

  it('reserve() refuses a key already stored or being fetched (one download per segment)', () => {
    const store = createSegmentStore({ maxEntries: 10, maxBytes: 1e9, ttlMs: 1000, clock });
    expect(store.reserve('a')).to.not.equal(undefined);
    expect(store.reserve('a')).to.equal(undefined);
  });

  const endings: Array<[string, (slot: ReturnType<ReturnType<typeof createSegmentStore>['reserve']> & object, store: ReturnType<typeof createSegmentStore>) => void, boolean]> = [
    ['filled: waiters get the body', (slot) => slot.fill(seg(7)), true],
    ['failed: waiters are released to go upstream', (slot) => slot.fail(), false],
    ['evicted: the download is aborted and waiters released', (_slot, store) => { for (let i = 0; i < 2; i++) store.reserve(`other${i}`); }, false],
    ['cleared: the download is aborted and waiters released', (_slot, store) => store.clear(), false],
  ];
  for (const [name, end, gotBody] of endings) {
    it(`a pending entry ${name}; no timer is left behind`, async () => {
      const store = createSegmentStore({ maxEntries: 2, maxBytes: 1e9, ttlMs: 1000, clock });
      await new Promise((resolve) => setImmediate(resolve)); // mocha arms its own test timer after the first tick
      const timersBefore = activeTimers();
      const slot = store.reserve('a')!;
      const found = store.get('a');
      expect(found?.state).to.equal('pending');
      const waits = [1, 2, 3].map(() => (found as { wait: (s: AbortSignal, t: number) => Promise<StoredSegment | undefined> }).wait(new AbortController().signal, 60_000));
      end(slot, store);
      const results = await Promise.all(waits);
      for (const r of results) expect(r !== undefined).to.equal(gotBody);
      expect(slot.signal.aborted).to.equal(!gotBody);
      expect(activeTimers()).to.equal(timersBefore);
    });
  }

  it('a waiter gives up after its timeout or when its client leaves, and the store keeps no timer', async () => {
    const store = createSegmentStore({ maxEntries: 2, maxBytes: 1e9, ttlMs: 1000, clock });
    store.reserve('a');
    const found = store.get('a') as { wait: (s: AbortSignal, t: number) => Promise<StoredSegment | undefined> };
    expect(await found.wait(new AbortController().signal, 5)).to.equal(undefined);
    const gone = new AbortController();
    const waiting = found.wait(gone.signal, 60_000);
    gone.abort();
    expect(await waiting).to.equal(undefined);
    const timers = activeTimers();
    for (let i = 0; i < 50; i++) store.reserve(`k${i}`)?.fill(seg(1));
    expect(activeTimers()).to.equal(timers);
  });
});

describe('prefetch: which URIs', () => {
  const hooks = createHookRunner({ warn: () => undefined });
  const live = [
    '#EXTM3U',
    '#EXT-X-TARGETDURATION:2',
    '#EXT-X-MEDIA-SEQUENCE:7',
    '#EXT-X-KEY:METHOD=AES-128,URI="key.bin"',
    '#EXT-X-MAP:URI="init.mp4"',
    '#EXTINF:2,',
    'seg7.m4s',
    '#EXT-X-BYTERANGE:100@0',
    '#EXTINF:2,',
    'seg8.m4s',
    '#EXT-X-PART:DURATION=1,URI="part9.0.m4s"',
    '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part9.1.m4s"',
    '#EXT-X-RENDITION-REPORT:URI="../lo/index.m3u8",LAST-MSN=8',
  ].join('\n');
  const input = { body: live, finalUrl: 'http://o/live/hi/index.m3u8', requestUrl: 'http://o/live/hi/index.m3u8', referer: undefined, vars: undefined };

  // RFC 8216 §4.3.3.4: "The EXT-X-ENDLIST tag indicates that no more Media Segments will be added"; §4.3.3.5: VOD "cannot change".
  const liveness: Array<[string, string, boolean]> = [
    ['live media playlist', live, true],
    ['with EXT-X-ENDLIST', `${live}\n#EXT-X-ENDLIST\n`, false],
    ['PLAYLIST-TYPE:VOD', live.replace('#EXTM3U', '#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD'), false],
    ['PLAYLIST-TYPE:EVENT without ENDLIST', live.replace('#EXTM3U', '#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT'), true],
    ['multivariant playlist', '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhi.m3u8\n', false],
  ];
  for (const [name, text, expected] of liveness) {
    it(`${name}: ${expected ? 'prefetched' : 'not prefetched'}`, () => expect(isLiveMediaPlaylist(text)).to.equal(expected));
  }

  it('segments, init sections and keys, in playlist order; no LL-HLS parts or hints, no playlists', () => {
    expect(prefetchCandidates(input, hooks, true).map((c) => [c.url, c.type])).to.deep.equal([
      ['http://o/live/hi/key.bin', 'key'],
      ['http://o/live/hi/init.mp4', 'ts'],
      ['http://o/live/hi/seg7.m4s', 'ts'],
      ['http://o/live/hi/seg8.m4s', 'ts'],
    ]);
  });

  it('keys are left out when viewer credentials may be needed for them', () => {
    expect(prefetchCandidates(input, hooks, false).map((c) => c.type)).to.not.include('key');
  });

  it('the prefetch hook decides per URL; redirect and rewrite hooks give the URL a viewer will ask for', () => {
    const custom = createHookRunner({ warn: () => undefined });
    custom.install({
      prefetch: (url) => (url.endsWith('init.mp4') ? false : undefined),
      redirect: (url) => url.replace('/live/', '/cdn/'),
      rewrite: (url) => url.replace('http://o/', 'http://o2/'),
    });
    expect(prefetchCandidates(input, custom, true).map((c) => c.url)).to.deep.equal([
      'http://o2/cdn/hi/key.bin',
      'http://o2/cdn/hi/seg7.m4s',
      'http://o2/cdn/hi/seg8.m4s',
    ]);
  });
});
