import { expect } from 'chai';
import { createFetchSignals } from '../../src/cache/fetch-signals.js';

// The cache's fetch signals are shared in batches (fetch-signals.ts): close() must still reach every fetch in
// the air, and settled batches must not pile up.
describe('cache fetch signals (batched AbortSignals)', () => {
  it('abortAll reaches every fetch in flight, across batches, with the reason', () => {
    const signals = createFetchSignals();
    const inFlight = Array.from({ length: 100 }, () => signals.acquire());
    const settled = signals.acquire();
    settled.release();
    const reason = new Error('closing');
    signals.abortAll(reason);
    for (const f of inFlight) {
      expect(f.signal.aborted).to.equal(true);
      expect(f.signal.reason).to.equal(reason);
    }
  });

  it('a fetch started after abortAll gets an aborted signal', () => {
    const signals = createFetchSignals();
    signals.abortAll('closed');
    const late = signals.acquire();
    expect(late.signal.aborted).to.equal(true);
    expect(late.signal.reason).to.equal('closed');
  });

  it('keeps at most the batches that still have a fetch in flight, plus the one being filled', () => {
    const signals = createFetchSignals();
    for (let i = 0; i < 10_000; i++) signals.acquire().release();
    expect(signals.openBatches).to.equal(1);
    const held = signals.acquire();
    for (let i = 0; i < 1000; i++) {
      const f = signals.acquire();
      f.release();
      f.release(); // twice: counted once
    }
    expect(signals.openBatches).to.equal(2); // the one holding `held`, and the current one
    held.release();
    expect(signals.openBatches).to.equal(1);
  });

  it('bounds the listeners on one signal by the batch size (no EventTarget walk over every fetch)', () => {
    const signals = createFetchSignals();
    const distinct = new Set(Array.from({ length: 1000 }, () => signals.acquire().signal));
    expect(distinct.size).to.be.at.least(1000 / 64);
  });
});
