import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { configFromOptions } from '../../src/config.js';
import { createApp } from '../../src/server.js';
import { decodeTarget } from '../../src/url-codec.js';
import { startForwardProxy, type ForwardProxy } from '../support/forward-proxy.js';
import { getFixtures, type Fixtures } from '../support/hls-fixtures.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { hlsdUrl, runCli, startProxy, startProxyProcess, TEST_ALLOW_UPSTREAM, type RunningProxy } from '../support/proxy.js';
import { makeTestCert, type TestCert } from '../support/tls-certs.js';

/**
 * hlsd (@warren-bank/hls-proxy 3.6.6) command lines keep working (issue #7): each flag against a real local
 * origin, and what it must not do (--req-insecure is not process-wide).
 */

const PLAYLIST = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg0.ts\n#EXT-X-ENDLIST\n';

/** URI lines and URI="..." attributes of a playlist. */
function uris(text: string): string[] {
  return [...text.matchAll(/^(?!#)(\S+)$/gm)].map((m) => m[1]!).concat([...text.matchAll(/URI="([^"]+)"/g)].map((m) => m[1]!));
}

/** The upstream URL a proxied URI names. */
function upstreamOf(proxied: string, base: string): { url: string; ext: string; referer?: string } {
  const rest = proxied.slice(base.length + 1).split('?')[0]!;
  const t = decodeTarget(rest, { maxTokenLength: 100_000 });
  return { url: t.url, ext: t.ext, ...(t.referer ? { referer: t.referer } : {}) };
}

describe('hlsd compatibility: flags against a real origin', function () {
  this.timeout(60_000);
  let fixtures: Fixtures;
  let origin: Origin;
  let tmp: string;

  before(async () => {
    fixtures = await getFixtures();
    origin = await startOrigin({ root: fixtures.root });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'hls-sidecar-compat-'));
  });
  after(async () => {
    await origin?.close();
    await rm(tmp, { recursive: true, force: true });
  });
  beforeEach(() => origin.clearLog());

  describe('upstream request headers', () => {
    let proxy: RunningProxy;
    before(async () => {
      const file = path.join(tmp, 'req-headers.json');
      await writeFile(file, JSON.stringify({ 'X-From-File': 'file', 'X-Overridden': 'by-file' }));
      const options = path.join(tmp, 'req-options.json');
      await writeFile(options, JSON.stringify({ headers: { 'X-From-Options': 'opts', 'X-Overridden': 'by-options' } }));
      proxy = await startProxy({
        'req-headers': file,
        'req-options': options,
        origin: 'https://dashboard.example',
        referer: 'https://dashboard.example/watch',
        useragent: 'CompatAgent/1.0',
        header: ['X-One: 1', 'x-two=2', 'X-Overridden: by-flag'],
      });
    });
    after(() => proxy?.close());

    for (const [route, ext] of [['playlist', 'm3u8'], ['segment', 'ts']] as const) {
      it(`--req-headers, --req-options headers, --origin, --referer, --useragent and repeated --header reach the upstream (${route} route)`, async () => {
        const res = await fetch(hlsdUrl(proxy.url, `${origin.url}/echo-headers`, ext));
        expect(res.status).to.equal(200);
        const seen = (await res.json()) as Record<string, string>;
        expect(seen).to.include({
          'x-from-file': 'file',
          'x-from-options': 'opts',
          origin: 'https://dashboard.example',
          referer: 'https://dashboard.example/watch',
          'user-agent': 'CompatAgent/1.0',
          'x-one': '1',
          'x-two': '2',
          // hlsd's precedence (utils.js get_request_options): --req-options headers < --req-headers/--header
          'x-overridden': 'by-flag',
        });
        expect(origin.countRequests('/echo-headers')).to.equal(1);
      });
    }
  });

  it('the `<url>|<referer>` token form sends that Referer, and its Origin, upstream; it wins over --referer (as hlsd)', async () => {
    const proxy = await startProxy({ referer: 'https://flag.example/' });
    try {
      const res = await fetch(hlsdUrl(proxy.url, `${origin.url}/echo-headers|https://referer.example/page`, 'ts'));
      const seen = (await res.json()) as Record<string, string>;
      expect(seen.referer).to.equal('https://referer.example/page');
      expect(seen.origin).to.equal('https://referer.example');
    } finally {
      await proxy.close();
    }
  });

  describe('upstream TLS: --req-insecure and --req-options', () => {
    let cert: TestCert;
    let secure: https.Server;
    let secureUrl: string;
    before(async () => {
      cert = await makeTestCert();
      secure = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
        res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' });
        res.end(PLAYLIST);
      });
      await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
      secureUrl = `https://127.0.0.1:${(secure.address() as AddressInfo).port}/live/index.m3u8`;
    });
    after(async () => {
      secure?.closeAllConnections();
      await new Promise<void>((resolve) => (secure ? secure.close(() => resolve()) : resolve()));
      await cert?.remove();
    });

    const cases: Array<[string, () => Promise<Record<string, unknown>>, number]> = [
      ['no flag: a self-signed upstream certificate is refused', async () => ({}), 502],
      ['--req-insecure: accepted', async () => ({ 'req-insecure': true }), 200],
      ['--req-options {"ca": "<PEM>"}: trusted without --req-insecure (hlsd form)', async () => {
        const file = path.join(tmp, 'ca-pem.json');
        await writeFile(file, JSON.stringify({ ca: cert.cert }));
        return { 'req-options': file };
      }, 200],
      ['--req-options {"ca": "<file path>"}: trusted too', async () => {
        const file = path.join(tmp, 'ca-path.json');
        await writeFile(file, JSON.stringify({ ca: cert.certFile }));
        return { 'req-options': file };
      }, 200],
    ];
    for (const [name, options, status] of cases) {
      it(name, async () => {
        const proxy = await startProxy(await options());
        try {
          const res = await fetch(hlsdUrl(proxy.url, secureUrl));
          expect(res.status).to.equal(status);
          const text = await res.text();
          if (status === 200) expect(text).to.include('#EXTINF:2,');
        } finally {
          await proxy.close();
        }
      });
    }

    it('--req-insecure is for the upstream client only: the process still verifies certificates', async () => {
      const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      const proxy = await startProxy({ 'req-insecure': true });
      try {
        expect((await fetch(hlsdUrl(proxy.url, secureUrl))).status).to.equal(200);
        expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).to.equal(before);
        const err = await new Promise<Error | undefined>((resolve) => {
          https.get(secureUrl, (res) => { res.resume(); resolve(undefined); }).on('error', resolve);
        });
        expect(err?.message ?? 'connected').to.match(/self[- ]signed/i);
      } finally {
        await proxy.close();
      }
    });
  });

  describe('--http-proxy', () => {
    let forward: ForwardProxy;
    before(async () => {
      forward = await startForwardProxy();
    });
    after(() => forward?.close());

    it('sends every upstream request through the forward proxy', async () => {
      const proxy = await startProxy({ 'http-proxy': forward.url });
      try {
        const res = await fetch(hlsdUrl(proxy.url, `${origin.url}/${fixtures.paths.vodVariants[0]}`));
        expect(res.status).to.equal(200);
        const seg = uris(await res.text())[0]!;
        const media = await fetch(seg);
        expect(media.status).to.equal(200);
        expect((await media.arrayBuffer()).byteLength).to.be.greaterThan(1000);
        expect(origin.countRequests()).to.equal(2);
        // undici tunnels through CONNECT; either way, each upstream connection is one the forward proxy made.
        expect(forward.seen.length).to.be.greaterThan(0);
        for (const s of forward.seen) expect(s).to.include(`127.0.0.1:${origin.port}`);
      } finally {
        await proxy.close();
      }
    });
  });

  it('--tls --tls-cert --tls-key --tls-pass: serves HTTPS with an encrypted key and writes https URLs', async () => {
    const cert = await makeTestCert();
    const config = configFromOptions({
      port: 0, bind: '127.0.0.1', 'log-level': 'silent', 'allow-upstream': TEST_ALLOW_UPSTREAM,
      tls: true, 'tls-cert': cert.certFile, 'tls-key': cert.encryptedKeyFile, 'tls-pass': cert.passFile,
    });
    const app = createApp(config);
    const { port } = await app.listen();
    const dispatcher = new Agent({ connect: { ca: cert.cert } });
    try {
      const base = `https://127.0.0.1:${port}`;
      const res = await request(hlsdUrl(base, `${origin.url}/${fixtures.paths.vodVariants[0]}`), { dispatcher });
      expect(res.statusCode).to.equal(200);
      const list = uris(await res.body.text());
      expect(list.length).to.equal(3);
      for (const u of list) expect(u.startsWith(`${base}/`), u).to.equal(true);
      const seg = await request(list[0]!, { dispatcher });
      expect(seg.statusCode).to.equal(200);
      await seg.body.arrayBuffer();
    } finally {
      await dispatcher.close();
      await app.close();
      await cert.remove();
    }
  });

  it('--manifest-extension and --segment-extension change the emitted extensions, and those URLs work', async () => {
    const proxy = await startProxy({ 'manifest-extension': 'hls', 'segment-extension': 'bin' });
    try {
      const master = await fetch(hlsdUrl(proxy.url, `${origin.url}/${fixtures.paths.vodMaster}`, 'hls'));
      expect(master.status).to.equal(200);
      const variants = uris(await master.text());
      expect(variants.length).to.be.greaterThan(0);
      for (const u of variants) expect(upstreamOf(u, proxy.url).ext).to.equal('hls');
      const media = await fetch(variants.find((u) => upstreamOf(u, proxy.url).url.endsWith('hi/index.m3u8'))!);
      expect(media.headers.get('content-type')).to.equal('application/vnd.apple.mpegurl');
      const segments = uris(await media.text());
      for (const u of segments) expect(upstreamOf(u, proxy.url).ext).to.equal('bin');
      const seg = await fetch(segments[0]!);
      expect(seg.status).to.equal(200);
      expect(seg.headers.get('content-type')).to.equal('video/mp2t');
      await seg.arrayBuffer();
    } finally {
      await proxy.close();
    }
  });

  describe('--hooks <module> (hlsd hook names and semantics)', () => {
    let proxy: RunningProxy;
    let hooksFile: string;
    before(async () => {
      // An hlsd hooks file is CommonJS: module.exports = { hook_name: function }.
      hooksFile = path.join(tmp, 'hooks.cjs');
      await writeFile(hooksFile, `
        globalThis.__hlsSidecarHookLoads = (globalThis.__hlsSidecarHookLoads || 0) + 1;
        module.exports = {
          add_request_headers: (url, is_m3u8) => ({ 'X-Hook-Kind': is_m3u8 ? 'playlist' : 'media' }),
          modify_m3u8_content: (text, url) => text.replace('#EXT-X-VERSION:3', '#EXT-X-VERSION:3\\n#EXT-X-HOOKED:' + url.split('/').pop()),
          redirect: (url, referer) => {
            if (url.endsWith('/seg000.ts')) return 'seg002.ts';                 // relative: resolved against the playlist
            if (url.endsWith('/seg001.ts')) return { url: null };                 // not a string: removed from the playlist
            if (url.endsWith('/seg002.ts')) return { url, url_type: 'bin', referer_url: 'http://ref.example/' };
            return undefined;                                                     // falsy: unchanged
          },
          redirect_final: (proxied) => proxied + '?final=1',
          rewrite: (url) => url.includes('/blocked/') ? '' : url.replace('/alias/', '/vod/'),
          request_intervals: () => {},
        };
      `);
      proxy = await startProxy({ hooks: hooksFile });
    });
    after(() => proxy?.close());

    it('is loaded once, at start-up, and unsupported hlsd hooks are reported', () => {
      expect((globalThis as Record<string, unknown>).__hlsSidecarHookLoads).to.equal(1);
      expect(proxy.app.hooks.names()).to.have.members(['add_request_headers', 'modify_m3u8_content', 'redirect', 'redirect_final', 'rewrite']);
      expect(proxy.app.unsupportedHooks()).to.deep.equal(['request_intervals']);
    });

    it('rewrite maps the requested URL; modify_m3u8_content, redirect and redirect_final shape the playlist', async () => {
      const res = await fetch(hlsdUrl(proxy.url, `${origin.url}/alias/hi/index.m3u8`));
      expect(res.status).to.equal(200);
      expect(origin.log.map((e) => e.path)).to.deep.equal(['/vod/hi/index.m3u8']);
      const text = await res.text();
      expect(text).to.include('#EXT-X-HOOKED:index.m3u8');
      const lines = uris(text);
      expect(lines).to.have.length(2); // seg001 removed
      for (const u of lines) expect(u.endsWith('?final=1'), u).to.equal(true);
      const first = upstreamOf(lines[0]!, proxy.url);
      const second = upstreamOf(lines[1]!, proxy.url);
      // RFC 3986 §5.2: the relative hook result resolves against the playlist's URL (after the rewrite hook).
      expect(first).to.deep.equal({ url: `${origin.url}/vod/hi/seg002.ts`, ext: 'ts' });
      expect(second).to.deep.equal({ url: `${origin.url}/vod/hi/seg002.ts`, ext: 'bin', referer: 'http://ref.example/' });
    });

    it('add_request_headers adds headers, told whether the request is for a playlist', async () => {
      await (await fetch(hlsdUrl(proxy.url, `${origin.url}/vod/lo/index.m3u8`))).text(); // not cached yet
      await (await fetch(hlsdUrl(proxy.url, `${origin.url}/vod/hi/seg000.ts`, 'ts'))).arrayBuffer();
      expect(origin.log.map((e) => e.headers['x-hook-kind'])).to.deep.equal(['playlist', 'media']);
    });

    it('a rewrite hook that returns nothing refuses the request (400, as hlsd)', async () => {
      const res = await fetch(hlsdUrl(proxy.url, `${origin.url}/blocked/hi/index.m3u8`));
      expect(res.status).to.equal(400);
      await res.text();
      expect(origin.countRequests()).to.equal(0);
    });

    it('a module that cannot be loaded stops start-up with exit 2 naming --hooks', async () => {
      const broken = path.join(tmp, 'broken.cjs');
      await writeFile(broken, 'module.exports = { redirect: "not a function" };');
      for (const file of [broken, path.join(tmp, 'missing.cjs')]) {
        const { code, stderr } = await runCli(['--port', '0', '--bind', '127.0.0.1', '--hooks', file]);
        expect(code, stderr).to.equal(2);
        expect(stderr).to.include('--hooks');
      }
    });
  });

  describe('-v <n> (hlsd log verbosity)', () => {
    const table: Array<[number, string]> = [[0, 'error'], [1, 'info'], [2, 'info'], [3, 'debug'], [4, 'trace']];
    for (const [v, level] of table) {
      it(`-v ${v} → ${level}`, () => {
        expect(configFromOptions({ verbose: v }).logLevel).to.equal(level);
      });
    }
    it('--log-level overrides -v', () => {
      expect(configFromOptions({ verbose: 4, 'log-level': 'warn' }).logLevel).to.equal('warn');
    });
    it('-v 0 on the command line: errors only, so no start-up banner', async () => {
      const quiet = await startProxyProcess(['-v', '0']);
      const loud = await startProxyProcess(['-v', '1']);
      try {
        await fetch(`${quiet.url}/healthz`);
        await fetch(`${loud.url}/healthz`);
      } finally {
        await quiet.stop();
        await loud.stop();
      }
      expect(quiet.output()).to.not.include('listening');
      expect(loud.output()).to.include('hls-sidecar listening on');
    });
    it('-v 5 is refused with exit 2', async () => {
      const { code, stderr } = await runCli(['-v', '5']);
      expect(code).to.equal(2);
      expect(stderr).to.include('--verbose');
    });
  });
});
