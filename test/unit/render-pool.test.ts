/**
 * The render worker pool (src/routes/render-pool.ts): warmed before any playlist, byte-identical results
 * whichever path the worker takes, the shared input buffer reused safely, and close() ending the thread.
 */
import { expect } from 'chai';
import { Worker } from 'node:worker_threads';
import { createRenderPool, type WorkerPool } from '../../src/routes/render-pool.js';
import { rewriteForBase, type RenderInput } from '../../src/routes/rewrite-for-base.js';
import { tsxRenderWorker } from '../support/render-worker.js';

const extOptions = { manifestExtension: 'm3u8', segmentExtension: undefined };
const setup = { extOptions, signKeys: [], signTtlSec: 0 };

function input(body: string, n = 0): RenderInput {
  const url = `http://origin.test/vod/index.m3u8?n=${n}`;
  return { version: '', body, finalUrl: url, requestUrl: url, target: { url }, publicBase: 'https://public.test/hls-proxy' };
}

function media(n: number, tag = 'a'): string {
  const lines = ['#EXTM3U', '#EXT-X-TARGETDURATION:4'];
  for (let i = 0; i < n; i++) lines.push('#EXTINF:4,', `${tag}${i}.ts?t=x`);
  return `${lines.join('\n')}\n#EXT-X-ENDLIST\n`;
}

const onMain = (i: RenderInput): Buffer => Buffer.from(rewriteForBase(i, { extOptions }), 'utf8');

describe('render-pool: one warm worker thread for big playlists', function () {
  this.timeout(20_000);
  let pool: WorkerPool;
  beforeEach(() => {
    pool = createRenderPool(setup, tsxRenderWorker);
  });
  afterEach(() => pool.close());

  it('warm() starts the thread and rewrites a sample before any playlist; then playlists come back identical', async () => {
    expect(pool.running()).to.equal(false);
    expect(await pool.warm()).to.equal(true);
    expect(pool.running()).to.equal(true);
    expect(pool.jobs()).to.equal(0);
    const big = input(media(20_000));
    expect((await pool.run(big)).equals(onMain(big))).to.equal(true);
    expect(pool.jobs()).to.equal(1);
  });

  it('a playlist asked for during the warm-up is not held up by it: it comes back first and the warm-up stops', async () => {
    const order: string[] = [];
    const big = input(media(20_000));
    const warmed = pool.warm().then((ok) => void order.push(`warm ${ok}`));
    const ran = pool.run(big).then((out) => void order.push(`run ${out.equals(onMain(big))}`));
    await Promise.all([warmed, ran]);
    expect(order).to.deep.equal(['run true', 'warm true']);
  });

  it('a playlist the byte path declines (variant streams) is rewritten by the string path in the worker', async () => {
    const lines = ['#EXTM3U'];
    for (let i = 0; i < 5000; i++) lines.push(`#EXT-X-STREAM-INF:BANDWIDTH=${i + 1}`, `v${i}/index.m3u8`);
    const multi = input(`${lines.join('\n')}\n`);
    expect((await pool.run(multi)).equals(onMain(multi))).to.equal(true);
  });

  it('the shared input buffer is reused for a shorter playlist and not shared by two at once', async () => {
    const a = input(media(30_000, 'a'), 1);
    const b = input(media(1_000, 'b'), 2);
    expect((await pool.run(a)).equals(onMain(a))).to.equal(true);
    expect((await pool.run(b)).equals(onMain(b))).to.equal(true);
    const c = input(media(20_000, 'c'), 3);
    const [ra, rb, rc] = await Promise.all([pool.run(a), pool.run(b), pool.run(c)]);
    expect(ra.equals(onMain(a)) && rb.equals(onMain(b)) && rc.equals(onMain(c))).to.equal(true);
  });

  it('close() ends the thread: pending jobs reject, later ones too, and warm() says false', async () => {
    await pool.warm();
    const pending = pool.run(input(media(50_000))).then(() => 'resolved', () => 'rejected');
    await pool.close();
    expect(pool.running()).to.equal(false);
    expect(['resolved', 'rejected']).to.include(await pending);
    let later = '';
    await pool.run(input(media(10))).catch((err: Error) => (later = err.message));
    expect(later).to.match(/closed/);
    expect(await pool.warm()).to.equal(false);
  });

  it('a worker that cannot start: warm() rejects, and so does run() (the renderer then uses the main thread)', async () => {
    const broken = createRenderPool(setup, () => new Worker('throw new Error("no such worker")', { eval: true }));
    try {
      let warmError = '';
      await broken.warm().catch((err: Error) => (warmError = err.message));
      expect(warmError).to.match(/no such worker/);
      let runError = '';
      await broken.run(input(media(10))).catch((err: Error) => (runError = err.message));
      expect(runError).to.match(/no such worker/);
    } finally {
      await broken.close();
    }
  });
});
