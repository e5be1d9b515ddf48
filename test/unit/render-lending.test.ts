/**
 * Results of the render worker that go back to it (src/routes/render-playlist.ts#releaser): the memory of a
 * big result is given back only when every response that received it is done, never while memoised, and a
 * version asked for a second time is memoised as before.
 */
import { expect } from 'chai';
import { createRenderer, type RenderInput } from '../../src/routes/render-playlist.js';

const extOptions = { manifestExtension: 'm3u8', segmentExtension: undefined };
const big = `#EXTM3U\n${'#EXTINF:4,\nseg.ts\n'.repeat(20_000)}`;

function input(version: string, body = big): RenderInput {
  const url = 'http://origin.test/vod/index.m3u8';
  return { version, body, finalUrl: url, requestUrl: url, target: { url }, publicBase: 'https://public.test/p' };
}

/** A pool that answers after a tick with a buffer of its own per run, and records what comes back. */
function fakePool() {
  const recycled: Buffer[] = [];
  let runs = 0;
  return {
    recycled,
    runs: () => runs,
    run: async (i: RenderInput) => {
      runs++;
      await new Promise((r) => setImmediate(r));
      return Buffer.from(`rendered:${i.version}`);
    },
    recycle: (b: Buffer) => void recycled.push(b),
    close: async () => undefined,
  };
}

describe('render-playlist: worker results lent to responses and given back', () => {
  it('viewers sharing one rewrite: the memory goes back once the last of them is done, once', async () => {
    const pool = fakePool();
    const r = createRenderer(extOptions, { pool });
    const outs = await Promise.all([1, 2, 3].map(() => r.render(input('v1'))));
    expect(pool.runs()).to.equal(1);
    const releases = outs.map((o) => r.releaser(o));
    expect(releases.every((f) => typeof f === 'function')).to.equal(true);
    releases[0]!();
    releases[0]!(); // twice from one response counts once
    releases[1]!();
    expect(pool.recycled).to.have.length(0);
    releases[2]!();
    expect(pool.recycled).to.deep.equal([outs[0]]);
  });

  it('a version asked for again is rendered again and memoised: never given back', async () => {
    const pool = fakePool();
    const r = createRenderer(extOptions, { pool });
    const first = await r.render(input('v2'));
    r.releaser(first)!();
    const second = await r.render(input('v2'));
    expect(pool.runs()).to.equal(2);
    expect(r.releaser(second)).to.equal(undefined);
    expect(await r.render(input('v2'))).to.equal(second); // from the memo
    expect(pool.runs()).to.equal(2);
    expect(pool.recycled).to.deep.equal([first]);
  });

  it('an unversioned render (a playlist found where a segment was expected) is lent to its one response', async () => {
    const pool = fakePool();
    const r = createRenderer(extOptions, { pool });
    const out = await r.render(input(''));
    r.releaser(out)!();
    expect(pool.recycled).to.deep.equal([out]);
  });

  it('results made on the main thread, or by a pool that takes nothing back, are not lent', async () => {
    const pool = fakePool();
    const r = createRenderer(extOptions, { pool });
    const small = await r.render(input('s1', '#EXTM3U\n#EXTINF:4,\nseg.ts\n'));
    expect(r.releaser(small)).to.equal(undefined);
    const { recycle: _none, ...keeper } = fakePool();
    const k = createRenderer(extOptions, { pool: keeper });
    expect(k.releaser(await k.render(input('k1')))).to.equal(undefined);
    expect(await k.render(input('k1'))).to.be.instanceOf(Buffer);
  });
});
