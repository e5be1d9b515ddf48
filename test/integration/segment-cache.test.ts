/**
 * The proxy's own segment cache (src/cache/segment-cache.ts, --segment-cache-max-bytes): copies of the
 * segments many viewers ask for, for deployments where nothing in front keeps them. Against a real origin;
 * the origin's request log says what reached it.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import { getFixtures, type Fixtures } from '../support/hls-fixtures.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { hlsdUrl, startProxy, type RunningProxy } from '../support/proxy.js';

describe('segment cache: one origin download for the viewers of the same segment', function () {
  this.timeout(30_000);
  let fixtures: Fixtures;
  let origin: Origin;
  let proxy: RunningProxy;
  let file: Buffer;
  const body = (): Buffer => file.subarray(0, 188 * 50);

  before(async () => {
    fixtures = await getFixtures();
    origin = await startOrigin({ root: fixtures.root });
    proxy = await startProxy();
    file = await readFile(path.join(fixtures.root, fixtures.paths.bigSegment));
  });
  after(async () => {
    await proxy?.close();
    await origin?.close();
  });
  afterEach(() => origin.clearOverrides());

  /** The origin serves `body()` at `p` with `headers`; returns how to count its downloads. */
  function serveAt(p: string, headers: Record<string, string> = {}): () => number {
    origin.override(p, (_req, res) => {
      res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': String(body().length), ...headers });
      res.end(body());
    });
    return () => origin.countRequests(p);
  }

  /** The whole big segment at `p`; the second download (the one a copy is made from) pauses `ms` midway. */
  function serveSecondSlowly(p: string, ms: number): () => number {
    let served = 0;
    origin.override(p, async (_req, res) => {
      served++;
      res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': String(file.length) });
      res.write(file.subarray(0, 1000));
      if (served === 2) await delay(ms);
      if (!res.destroyed) res.end(file.subarray(1000));
    });
    return () => served;
  }

  async function get(p: string, headers: Record<string, string> = {}, via: RunningProxy = proxy) {
    const res = await request(hlsdUrl(via.url, `${origin.url}${p}`, 'ts'), { headers });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  }

  it('keeps a copy at the second request for a URL and answers the next ones from it, bytes unchanged', async () => {
    const downloads = serveAt('/sc/a.ts');
    const first = await get('/sc/a.ts');
    const second = await get('/sc/a.ts');
    const third = await get('/sc/a.ts');
    expect(first.body.equals(body()) && second.body.equals(body()) && third.body.equals(body())).to.equal(true);
    expect(third.headers['x-hls-sidecar-cache']).to.equal('HIT');
    expect(third.headers['content-length']).to.equal(String(body().length));
    expect(downloads(), 'the first two reached the origin, the third did not').to.equal(2);
  });

  it('answers a byte range from the copy (RFC 9110 §14.2), without asking the origin', async () => {
    const downloads = serveAt('/sc/range.ts');
    await get('/sc/range.ts');
    await get('/sc/range.ts');
    const ranged = await get('/sc/range.ts', { range: 'bytes=100-299' });
    expect(ranged.status).to.equal(206);
    expect(ranged.headers['content-range']).to.equal(`bytes 100-299/${body().length}`);
    expect(ranged.body.equals(body().subarray(100, 300))).to.equal(true);
    expect(downloads()).to.equal(2);
  });

  it('makes viewers who ask while the copy is being made wait for it instead of going upstream', async () => {
    const p = '/sc/slow.ts';
    const served = serveSecondSlowly(p, 400);
    await get(p);
    const filling = get(p);
    await delay(150);
    const waiting = await Promise.all([get(p), get(p), get(p)]);
    const filled = await filling;
    expect(filled.body.equals(file)).to.equal(true);
    for (const w of waiting) {
      expect(w.headers['x-hls-sidecar-cache']).to.equal('COALESCED');
      expect(w.body.equals(file)).to.equal(true);
    }
    expect(served()).to.equal(2);
  });

  it('drops the copy when the viewer making it hangs up: the next request goes upstream and gets it whole', async () => {
    const p = '/sc/hangup.ts';
    const served = serveSecondSlowly(p, 300);
    await get(p);
    const gone = new AbortController();
    const hungUp = request(hlsdUrl(proxy.url, `${origin.url}${p}`, 'ts'), { signal: gone.signal }).then((r) => r.body.dump(), () => undefined);
    await delay(100);
    gone.abort();
    await hungUp;
    const next = await get(p);
    expect(next.status).to.equal(200);
    expect(next.body.equals(file)).to.equal(true);
    expect(next.headers['x-hls-sidecar-cache'], 'not a copy').to.equal(undefined);
    expect(served()).to.equal(3);
  });

  it('never keeps what the origin keeps from shared caches, what varies, or what sets a cookie', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['/sc/private.ts', { 'cache-control': 'private, max-age=60' }],
      ['/sc/no-store.ts', { 'cache-control': 'no-store' }],
      ['/sc/vary.ts', { vary: 'accept-language' }],
      ['/sc/cookie.ts', { 'set-cookie': 'a=b' }],
    ];
    for (const [p, headers] of cases) {
      const downloads = serveAt(p, headers);
      for (let i = 0; i < 3; i++) expect((await get(p)).status).to.equal(200);
      expect(downloads(), p).to.equal(3);
    }
  });

  it('keeps a copy only as long as the origin allows (max-age=1)', async () => {
    const downloads = serveAt('/sc/short.ts', { 'cache-control': 'max-age=1' });
    await get('/sc/short.ts');
    await get('/sc/short.ts');
    expect((await get('/sc/short.ts')).headers['x-hls-sidecar-cache']).to.equal('HIT');
    await delay(1_100);
    await get('/sc/short.ts');
    expect(downloads(), 'expired after the origin\'s second').to.equal(3);
  });

  it('keeps nothing a viewer\'s own credentials went upstream with (--forward-cookies)', async () => {
    const withCookies = await startProxy({ 'forward-cookies': true });
    try {
      const downloads = serveAt('/sc/mine.ts');
      for (let i = 0; i < 3; i++) await get('/sc/mine.ts', { cookie: 'session=1' }, withCookies);
      expect(downloads()).to.equal(3);
    } finally {
      await withCookies.close();
    }
  });

  it('checks access before the copy: a copy made for a viewer with the password is not given to one without', async () => {
    const locked = await startProxy({ 'acl-pass': ['open-sesame'] });
    try {
      const downloads = serveAt('/sc/locked.ts');
      for (let i = 0; i < 3; i++) expect((await get('/sc/locked.ts', { 'x-hls-sidecar-password': 'open-sesame' }, locked)).status).to.equal(200);
      expect(downloads()).to.equal(2);
      expect((await get('/sc/locked.ts', {}, locked)).status).to.equal(401);
    } finally {
      await locked.close();
    }
  });

  it('is off with --segment-cache-max-bytes 0', async () => {
    const off = await startProxy({ 'segment-cache-max-bytes': 0 });
    try {
      const downloads = serveAt('/sc/off.ts');
      for (let i = 0; i < 3; i++) await get('/sc/off.ts', {}, off);
      expect(downloads()).to.equal(3);
    } finally {
      await off.close();
    }
  });
});
