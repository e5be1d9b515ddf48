import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { getFixtures, type Fixtures } from '../support/hls-fixtures.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { hlsdUrl, startProxy, type RunningProxy } from '../support/proxy.js';

/**
 * The player page (`<prefix>/_/player?url=...`, issue #7 §5) in headless Chromium: hls.js served by the proxy
 * itself plays an ffmpeg-made stream through the proxy, under a strict CSP (no inline script), and the page
 * shows the rendition, the buffer and the X-HLS-Sidecar-Cache result of each playlist response.
 *
 * Chromium 156 (Debian bookworm) on this machine: MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E"')
 * is true, so the H.264/AAC fixtures play as they are.
 */

describe('player page: hls.js plays a stream through the proxy in Chromium', function () {
  this.timeout(90_000);
  let fixtures: Fixtures;
  let origin: Origin;
  let proxy: RunningProxy;
  let browser: Browser;

  before(async () => {
    fixtures = await getFixtures();
    origin = await startOrigin({ root: fixtures.root });
    proxy = await startProxy({ prefix: '/hls-proxy' });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await proxy?.close();
    await origin?.close();
  });

  const entries: Array<[string, () => string]> = [
    ['an upstream URL', () => `${origin.url}/${fixtures.paths.vodMaster}`],
    ['a proxied URL', () => hlsdUrl(`${proxy.url}/hls-proxy`, `${origin.url}/${fixtures.paths.fmp4}`)],
  ];
  for (const [name, entry] of entries) {
    it(`plays ${name}: currentTime advances, no error, cache results shown`, async () => {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
      try {
        const response = await page.goto(`${proxy.url}/hls-proxy/_/player?url=${encodeURIComponent(entry())}`);
        expect(response?.status()).to.equal(200);
        expect(response?.headers()['content-security-policy']).to.include("script-src 'self'");
        await page.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).currentTime > 1.5, undefined, { timeout: 45_000 });
        const state = await page.evaluate(() => ({
          errors: document.getElementById('errors')!.getAttribute('data-count'),
          errorText: document.getElementById('errors')!.textContent,
          rendition: document.getElementById('rendition')!.textContent,
          buffer: document.getElementById('buffer')!.textContent,
          caches: Array.from(document.querySelectorAll('#requests tr')).map((r) => r.getAttribute('data-cache')),
          inline: document.querySelectorAll('script:not([src])').length,
        }));
        expect(state.errors, state.errorText ?? '').to.equal('0');
        expect(state.rendition).to.not.equal('-');
        expect(state.buffer).to.match(/^\d+\.\d s$/);
        expect(state.caches.length).to.be.greaterThan(0);
        for (const c of state.caches) expect(c).to.match(/^(MISS|HIT|COALESCED|STALE)$/);
        expect(state.inline).to.equal(0);
        expect(problems).to.deep.equal([]);
      } finally {
        await page.close();
      }
    });
  }

  // Issue #15: an origin down longer than hls.js's own retries (then fatal) must not leave a dashboard
  // tile dead once the origin is back.
  it('starts again by itself after an outage that outlasts hls.js\'s own retries', async () => {
    const until = Date.now() + 6000;
    let failed = 0;
    const undo = origin.override(`/${fixtures.paths.fmp4}`, async (_req, res, ctx) => {
      if (Date.now() < until) {
        failed++;
        res.writeHead(503, { 'content-length': '0' });
        res.end();
        return;
      }
      await ctx.serve(`/${fixtures.paths.fmp4}`);
    });
    const page = await browser.newPage();
    try {
      const entry = hlsdUrl(`${proxy.url}/hls-proxy`, `${origin.url}/${fixtures.paths.fmp4}?outage=1`);
      expect((await page.goto(`${proxy.url}/hls-proxy/_/player?url=${encodeURIComponent(entry)}`))?.status()).to.equal(200);
      await page.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).currentTime > 1.5, undefined, { timeout: 60_000 });
      const state = await page.evaluate(() => ({
        errors: document.getElementById('errors')!.getAttribute('data-count'),
        warnings: document.getElementById('warnings')!.textContent ?? '',
      }));
      expect(failed, 'the origin failed requests during the outage').to.be.greaterThan(0);
      expect(state.warnings).to.include('retrying');
      expect(state.errors).to.equal('0');
    } finally {
      undo();
      await page.close();
    }
  });

  it('escapes the url it echoes, serves hls.js from node_modules, 404s unknown assets', async () => {
    const evil = '"><script>alert(1)</script>';
    const html = await (await fetch(`${proxy.url}/hls-proxy/_/player?url=${encodeURIComponent(evil)}`)).text();
    expect(html).to.not.include('<script>alert(1)');
    expect(html).to.include('&quot;&gt;&lt;script&gt;');
    const hls = await fetch(`${proxy.url}/hls-proxy/_/assets/hls.min.js`);
    expect(hls.status).to.equal(200);
    expect(hls.headers.get('content-type')).to.match(/^text\/javascript/);
    expect(await hls.text()).to.include('Hls');
    for (const name of ['nope.js', '..%2F..%2Fpackage.json']) {
      const res = await fetch(`${proxy.url}/hls-proxy/_/assets/${name}`);
      expect(res.status, name).to.equal(404);
      await res.text();
    }
  });
});
