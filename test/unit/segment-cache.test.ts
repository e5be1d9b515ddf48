/**
 * When the segment cache makes a copy (src/cache/segment-cache.ts): at the second request for a URL within
 * the first-use window, as the nginx templates' proxy_cache_min_uses 2; never twice at once; per referer.
 */
import { expect } from 'chai';
import { createSegmentCache, type SegmentCache } from '../../src/cache/segment-cache.js';

describe('segment cache: when a copy is made', () => {
  let now = 0;
  let cache: SegmentCache;
  const seg = (n: number) => ({ headers: { 'content-length': String(n) }, body: Buffer.alloc(n) });
  beforeEach(() => {
    now = 1_000_000;
    cache = createSegmentCache({ maxBytes: 1000, clock: () => now, firstUseMs: 10_000 });
  });
  afterEach(() => cache.close());

  it('not at the first request for a URL; at the second within the window', () => {
    expect(cache.claim('http://o/a.ts', undefined)).to.equal(undefined);
    now += 9_000;
    const slot = cache.claim('http://o/a.ts', undefined);
    expect(slot).to.not.equal(undefined);
    expect(slot!.fill(seg(10), 6000)).to.equal(true);
    expect(cache.lookup('http://o/a.ts', undefined)?.state).to.equal('ready');
  });

  it('not when the first request is older than the window: that one counts as a new first', () => {
    cache.claim('http://o/a.ts', undefined);
    now += 10_001;
    expect(cache.claim('http://o/a.ts', undefined)).to.equal(undefined);
    now += 1;
    expect(cache.claim('http://o/a.ts', undefined)).to.not.equal(undefined);
  });

  it('once at a time: while a copy is being made or kept, no second slot', () => {
    cache.claim('http://o/a.ts', undefined);
    const slot = cache.claim('http://o/a.ts', undefined)!;
    cache.claim('http://o/a.ts', undefined);
    expect(cache.claim('http://o/a.ts', undefined), 'pending').to.equal(undefined);
    slot.fill(seg(10), 6000);
    cache.claim('http://o/a.ts', undefined);
    expect(cache.claim('http://o/a.ts', undefined), 'kept').to.equal(undefined);
  });

  it('for the time the fill gives, not the store default', () => {
    cache.claim('http://o/a.ts', undefined);
    cache.claim('http://o/a.ts', undefined)!.fill(seg(10), 1000);
    now += 999;
    expect(cache.lookup('http://o/a.ts', undefined)?.state).to.equal('ready');
    now += 1;
    expect(cache.lookup('http://o/a.ts', undefined)).to.equal(undefined);
  });

  it('per referer: the token\'s referer is part of what was fetched', () => {
    cache.claim('http://o/a.ts', 'http://r1/');
    expect(cache.claim('http://o/a.ts', 'http://r2/')).to.equal(undefined);
    cache.claim('http://o/a.ts', 'http://r1/')!.fill(seg(10), 6000);
    expect(cache.lookup('http://o/a.ts', 'http://r2/')).to.equal(undefined);
    expect(cache.lookup('http://o/a.ts', 'http://r1/')?.state).to.equal('ready');
  });

  it('within its byte bound: the least recently used copy goes first', () => {
    for (const name of ['a', 'b']) {
      cache.claim(`http://o/${name}.ts`, undefined);
      cache.claim(`http://o/${name}.ts`, undefined)!.fill(seg(400), 6000);
    }
    cache.lookup('http://o/a.ts', undefined); // a is now the most recently used
    cache.claim('http://o/c.ts', undefined);
    cache.claim('http://o/c.ts', undefined)!.fill(seg(400), 6000);
    expect(cache.lookup('http://o/b.ts', undefined), 'evicted').to.equal(undefined);
    expect(cache.lookup('http://o/a.ts', undefined)?.state).to.equal('ready');
    expect(cache.stats().bytes).to.equal(800);
  });

  it('a failed copy releases the URL for the next pair of requests', () => {
    cache.claim('http://o/a.ts', undefined);
    cache.claim('http://o/a.ts', undefined)!.fail();
    expect(cache.lookup('http://o/a.ts', undefined)).to.equal(undefined);
    cache.claim('http://o/a.ts', undefined);
    expect(cache.claim('http://o/a.ts', undefined)).to.not.equal(undefined);
  });
});
