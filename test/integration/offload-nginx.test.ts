/**
 * Issue #16 §1, "nginx moves the bytes", against real nginx built from the shipped templates
 * (support/offload-front.ts): the proxy answers segments with X-Accel-Redirect and nginx fetches and streams
 * them itself. Each test quotes the property of the issue it checks, and each fails if offload silently
 * does not happen: the proxy's metrics must show the request offloaded and no body byte streamed by the
 * proxy (or, where the issue says the proxy streams itself, that it did and why).
 *
 * Upstream URLs name hosts under `.offload.test`, which only the proxy can resolve (its resolver is
 * injected); nginx has no resolver at all, so an upstream reached at all was reached at the judged address.
 */
import { expect } from 'chai';
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { getFixtures, type Fixtures } from '../support/hls-fixtures.js';
import { counterSum } from '../support/metrics-text.js';
import type { Nginx } from '../support/nginx.js';
import { startTemplateFront, type Rows } from '../support/offload-front.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { hlsdUrl, startProxy, type RunningProxy } from '../support/proxy.js';
import { makeTestCert, type TestCert } from '../support/tls-certs.js';
import type { HostResolver } from '../../src/security/pinned-lookup.js';

const HOST = 'origin.offload.test';
const METADATA = 'metadata.offload.test';
/** The proxy's DNS: the test names only, so nothing here ever depends on the machine's resolver. */
const resolveHost: HostResolver = async (name) => {
  if (name === HOST || name === 'localhost') return [{ address: '127.0.0.1', family: 4 }];
  if (name === METADATA) return [{ address: '169.254.169.254', family: 4 }];
  throw Object.assign(new Error(`no such name ${name}`), { code: 'ENOTFOUND' });
};

interface Pair {
  proxy: RunningProxy;
  nginx: Nginx;
  close(): Promise<void>;
}

interface Counts {
  offloaded: number;
  streamedBytes: number;
  reasons: string;
}

describe('offload behind the shipped nginx templates (issue #16 §1): nginx moves the bytes, the proxy decides', function () {
  this.timeout(60_000);
  let fixtures: Fixtures;
  let origin: Origin;
  let tmp: string;
  let main: Pair;
  const pairs: Pair[] = [];

  async function pair(options: Record<string, unknown> = {}, offloadRows: Rows = []): Promise<Pair> {
    const proxy = await startProxy({ 'segment-cache-max-bytes': 0, ...options }, { resolveHost });
    const nginx = await startTemplateFront({ replicaPort: proxy.port, cacheDir: path.join(tmp, `cache-${pairs.length}`), offloadRows });
    const p = { proxy, nginx, close: async () => { await nginx.close(); await proxy.close(); } };
    pairs.push(p);
    return p;
  }

  async function counts(p: Pair): Promise<Counts> {
    const text = await (await request(`${p.proxy.url}/metrics`)).body.text();
    return {
      offloaded: counterSum(text, 'hls_sidecar_offload_total', /result="offloaded"/),
      streamedBytes: counterSum(text, 'hls_sidecar_bytes_streamed_total'),
      reasons: text.split('\n').filter((l) => l.startsWith('hls_sidecar_offload_total')).join('; '),
    };
  }

  /** Runs `fn`, then checks that nginx, not the proxy, moved the bytes: `n` requests offloaded, none streamed. */
  async function offloaded<T>(p: Pair, n: number, fn: () => Promise<T>): Promise<T> {
    const before = await counts(p);
    const out = await fn();
    const after = await counts(p);
    expect(after.offloaded - before.offloaded, `offloaded requests (${after.reasons})`).to.equal(n);
    expect(after.streamedBytes - before.streamedBytes, 'body bytes the proxy streamed itself').to.equal(0);
    return out;
  }

  /** Runs `fn`, then checks that the proxy streamed it itself, counted under `reason`. */
  async function streamedHere<T>(p: Pair, reason: string, fn: () => Promise<T>): Promise<T> {
    const before = await counts(p);
    const out = await fn();
    const after = await counts(p);
    expect(after.offloaded - before.offloaded, 'nothing offloaded').to.equal(0);
    expect(after.reasons, 'the reason counted').to.include(`result="${reason}"`);
    return out;
  }

  const url = (p: Pair, upstream: string, ext = 'ts'): string => hlsdUrl(`${p.nginx.url}/hls-proxy`, upstream, ext);
  const at = (pathname: string, host = HOST): string => `http://${host}:${origin.port}${pathname}`;

  async function get(target: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
    const res = await request(target, { headers: { host: 'media.example.com', ...headers } });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  }

  before(async () => {
    fixtures = await getFixtures();
    origin = await startOrigin({ root: fixtures.root });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'hls-sidecar-offload-test-'));
    main = await pair();
  });
  after(async () => {
    for (const p of pairs) await p.close();
    await origin?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });
  beforeEach(() => origin.clearLog());
  afterEach(() => origin.clearOverrides());

  it('"nginx connects to the address the proxy judged (never its own DNS lookup of the name), with the upstream\'s Host": a 1.5 MB segment byte-exact, nginx having no resolver', async () => {
    const file = await readFile(path.join(fixtures.root, fixtures.paths.bigSegment));
    const r = await offloaded(main, 1, () => get(url(main, at(`/${fixtures.paths.bigSegment}?v=1`))));
    expect(r.status).to.equal(200);
    expect(r.body.equals(file), 'the origin bytes').to.equal(true);
    const seen = origin.log.filter((e) => e.path === `/${fixtures.paths.bigSegment}?v=1`);
    expect(seen.length, 'one request, by nginx').to.equal(1);
    expect(seen[0]!.headers.host, "the upstream's own Host").to.equal(`${HOST}:${origin.port}`);
    expect(seen[0]!.headers['user-agent']).to.equal('hls-sidecar');
    expect(r.headers['x-content-type-options']).to.equal('nosniff');
    expect(String(r.headers['x-request-id'])).to.match(/^[0-9a-f]{32}$/, "nginx's $request_id, which the proxy took as its own");
    expect(r.headers['access-control-allow-origin']).to.equal('*');
  });

  it('"egress policy with the pinned, judged address": a name resolving to a refused address is 403 from the proxy, and nothing is fetched', async () => {
    const before = await counts(main);
    const r = await get(url(main, `http://${METADATA}:${origin.port}/a.ts`));
    expect(r.status).to.equal(403);
    expect((await counts(main)).offloaded - before.offloaded).to.equal(0);
    expect(origin.log.length).to.equal(0);
  });

  it('a client cannot steer it: the internal location answers no outside request, and an X-HLS-Sidecar-* header a client sends is replaced', async () => {
    const direct = await get(`${main.nginx.url}/_hls_sidecar_offload/`, {
      'x-hls-sidecar-address': `127.0.0.1:${origin.port}`, 'x-hls-sidecar-path': `/${fixtures.paths.vodFirstSegment}`,
    });
    expect(direct.status).to.equal(404);
    const p = `/${fixtures.paths.vodFirstSegment}?v=forged`;
    const forged = await offloaded(main, 1, () => get(url(main, at(p)), { 'x-hls-sidecar-offload': '/evil/', 'x-hls-sidecar-stream': '0' }));
    expect(forged.status).to.equal(200);
    expect(origin.log.map((e) => e.path)).to.deep.equal([p]);
  });

  it('"upstream redirects come back to the proxy to be judged (never followed by nginx)": followed by the proxy, and a hop to a refused address is 403', async () => {
    const p = `/${fixtures.paths.vodFirstSegment}`;
    const file = await readFile(path.join(fixtures.root, p));
    const before = await counts(main);
    const r = await get(url(main, at(`/redirect/1${p}`)));
    const after = await counts(main);
    expect(after.offloaded - before.offloaded, 'offloaded first').to.equal(1);
    expect(after.reasons, 'then sent back to stream itself').to.include('result="redirected"');
    expect(after.streamedBytes - before.streamedBytes, 'streamed by the proxy').to.equal(file.length);
    expect(r.status).to.equal(200);
    expect(r.body.equals(file)).to.equal(true);
    const hops = origin.log.map((e) => `${e.path} ${e.headers.connection}`);
    expect(hops, 'nginx asked once and got the 302; the proxy asked again and followed it').to.deep.equal([`/redirect/1${p} close`, `/redirect/1${p} keep-alive`, `${p} keep-alive`]);
    origin.override('/to-metadata.ts', (_req, res) => {
      res.writeHead(302, { location: `http://${METADATA}/latest/meta-data.ts` });
      res.end();
    });
    expect((await get(url(main, at('/to-metadata.ts')))).status, 'the hop the proxy judged').to.equal(403);
  });

  it('"Range/If-Range/validators forwarded and 206/304/416 passed through"', async () => {
    const p = `/${fixtures.paths.bigSegment}?v=range`;
    const file = await readFile(path.join(fixtures.root, fixtures.paths.bigSegment));
    const ranged = await offloaded(main, 1, () => get(url(main, at(p)), { range: 'bytes=10-109' }));
    expect(ranged.status).to.equal(206);
    expect(ranged.headers['content-range']).to.equal(`bytes 10-109/${file.length}`);
    expect(ranged.body.equals(file.subarray(10, 110))).to.equal(true);
    expect(origin.log.at(-1)!.headers.range).to.equal('bytes=10-109');
    const whole = await get(url(main, at(p)));
    const etag = String(whole.headers.etag);
    const notModified = await offloaded(main, 1, () => get(url(main, at(p)), { 'if-none-match': etag }));
    expect(notModified.status).to.equal(304);
    expect(origin.log.at(-1)!.headers['if-none-match']).to.equal(etag);
    const ifRange = await offloaded(main, 1, () => get(url(main, at(p)), { range: 'bytes=0-9', 'if-range': '"other"' }));
    expect(ifRange.status, 'If-Range that does not match: the whole body').to.equal(200);
    expect(origin.log.at(-1)!.headers['if-range']).to.equal('"other"');
    const unsatisfiable = await offloaded(main, 1, () => get(url(main, at(p)), { range: `bytes=${file.length + 10}-` }));
    expect(unsatisfiable.status).to.equal(416);
  });

  it('"the same response header allowlist and hop-by-hop stripping": the client sees what the streamed path shows, but for headers no template line names', async () => {
    const ORIGIN_HEADERS: Record<string, string> = {
      'content-type': 'video/mp2t', etag: '"e1"', 'last-modified': 'Wed, 01 Jan 2025 00:00:00 GMT', 'cache-control': 'no-store',
      expires: 'Thu, 01 Jan 2099 00:00:00 GMT', 'accept-ranges': 'bytes', 'set-cookie': 'session=1', vary: 'Accept',
      age: '5', via: '1.1 cdn', link: '</x>; rel=preload', refresh: '0', 'content-disposition': 'attachment', 'content-language': 'en',
      'content-location': '/elsewhere', 'content-security-policy': "default-src 'none'", 'strict-transport-security': 'max-age=1',
      'www-authenticate': 'Basic', 'proxy-authenticate': 'Basic', 'alt-svc': 'h3=":443"', pragma: 'no-cache', warning: '199 - x',
      'access-control-allow-origin': 'https://evil.example', 'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'set-cookie', 'timing-allow-origin': '*', 'x-content-type-options': 'whatever',
      'x-frame-options': 'DENY', 'x-powered-by': 'origin', 'x-request-id': 'origin-id', 'server-timing': 'db;dur=1',
      'x-accel-redirect': '/_hls_sidecar_offload/', 'x-accel-expires': '3600', 'x-accel-buffering': 'no', 'x-accel-limit-rate': '1',
      'x-accel-charset': 'koi8-r', 'keep-alive': 'timeout=5', 'x-hop': 'named by Connection', connection: 'x-hop',
      'x-origin-debug': 'internal',
    };
    const body = Buffer.alloc(188 * 4, 0x47);
    origin.override(/^\/headers\.ts/, (_req, res) => {
      res.writeHead(200, { ...ORIGIN_HEADERS, 'content-length': String(body.length) });
      res.end(body);
    });
    const streamedPair = await pair({ offload: 'none' });
    const visible = (h: Record<string, unknown>): Record<string, unknown> => {
      const out = { ...h };
      for (const n of ['date', 'server', 'connection', 'keep-alive', 'x-request-id']) delete out[n];
      return out;
    };
    const viaNginx = await offloaded(main, 1, () => get(url(main, at('/headers.ts?a'))));
    const viaProxy = await get(url(streamedPair, at('/headers.ts?b')));
    expect([viaNginx.status, viaNginx.body.length, viaProxy.status, viaProxy.body.length], JSON.stringify([viaNginx.headers, viaProxy.headers])).to.deep.equal([200, body.length, 200, body.length]);
    // What differs, exactly: an origin header that neither the proxy's allowlist nor the template's
    // proxy_hide_header list names passes through nginx (stock nginx cannot hide "all but"), including one
    // the origin's own Connection header names (nginx does not read Connection for names to drop).
    const PASSES_NGINX_ONLY = ['x-hop', 'x-origin-debug'];
    const offloadedSeen = visible(viaNginx.headers);
    for (const n of PASSES_NGINX_ONLY) {
      expect(offloadedSeen[n], n).to.equal(ORIGIN_HEADERS[n]);
      delete offloadedSeen[n];
    }
    expect(offloadedSeen).to.deep.equal(visible(viaProxy.headers));
  });

  it('"timeouts → 504", upstream 5xx → 502 as through the proxy, an unreachable upstream → 502', async () => {
    const quick = await pair({ 'headers-timeout': 1000 }, [['    proxy_read_timeout 10s;\n', '    proxy_read_timeout 1s;\n']]);
    origin.override('/hang.ts', () => undefined);
    expect((await offloaded(quick, 1, () => get(url(quick, at('/hang.ts'))))).status).to.equal(504);
    for (const code of [500, 503, 504]) {
      const r = await offloaded(quick, 1, () => get(url(quick, at(`/status/${code}/a.ts`))));
      expect(r.status, `upstream ${code}`).to.equal(502);
      expect(String(r.headers['x-request-id'])).to.match(/^[0-9a-f]{32}$/);
    }
    expect((await offloaded(quick, 1, () => get(url(quick, `http://${HOST}:1/closed.ts`)))).status).to.equal(502);
    expect((await offloaded(quick, 1, () => get(url(quick, at('/status/404/a.ts'))))).status, '4xx as it came').to.equal(404);
  });

  it('"`--req-headers` and friends reach the upstream": --useragent, --referer, --origin and the token\'s referer through nginx; any other header name through the proxy itself', async () => {
    const dir = await mkdtemp(path.join(tmp, 'req-headers-'));
    const file = path.join(dir, 'headers.json');
    await writeFile(file, JSON.stringify({ 'User-Agent': 'from-req-headers', Referer: 'https://ref.example/' }));
    const fixed = await pair({ 'req-headers': file, origin: 'https://origin.example' });
    const p = `/${fixtures.paths.vodFirstSegment}`;
    await offloaded(fixed, 1, () => get(url(fixed, at(`${p}?h=1`))));
    const seen = origin.log.at(-1)!.headers;
    expect([seen['user-agent'], seen.referer, seen.origin]).to.deep.equal(['from-req-headers', 'https://ref.example/', 'https://origin.example']);
    await offloaded(fixed, 1, () => get(url(fixed, `${at(`${p}?h=2`)}|https://token-referer.example/page`)));
    expect(origin.log.at(-1)!.headers.referer).to.equal('https://token-referer.example/page');
    expect(origin.log.at(-1)!.headers.origin).to.equal('https://token-referer.example');
    const named = await pair({ header: ['X-Api-Key: k1'] });
    const r = await streamedHere(named, 'headers', () => get(url(named, at(`${p}?h=3`))));
    expect(r.status).to.equal(200);
    expect(origin.log.at(-1)!.headers['x-api-key']).to.equal('k1');
    const cookies = await pair({ 'forward-cookies': true });
    await streamedHere(cookies, 'headers', () => get(url(cookies, at(`${p}?h=4`)), { cookie: 'a=1' }));
    expect(origin.log.at(-1)!.headers.cookie).to.equal('a=1');
  });

  describe('"`https` upstreams with `--req-insecure`/`--req-options` semantics"', function () {
    let cert: TestCert;
    let secure: https.Server;
    let port = 0;
    const seen: Array<{ host: string | undefined; sni: string | false | null }> = [];
    before(async () => {
      cert = await makeTestCert();
      secure = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
        seen.push({ host: req.headers.host, sni: (req.socket as import('node:tls').TLSSocket).servername });
        res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': '4' });
        res.end('abcd');
      });
      secure.listen(0, '127.0.0.1');
      await once(secure, 'listening');
      port = (secure.address() as AddressInfo).port;
    });
    after(async () => {
      secure?.closeAllConnections();
      secure?.close();
      await cert?.remove();
    });
    beforeEach(() => (seen.length = 0));

    it('verified: nginx checks the certificate for the upstream name (SNI and Host), and refuses one it does not trust, 502 as the proxy does', async () => {
      const trusting = await pair({}, [['proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;', `proxy_ssl_trusted_certificate ${cert.certFile};`]]);
      const r = await offloaded(trusting, 1, () => get(url(trusting, `https://localhost:${port}/s.ts`)));
      expect([r.status, r.body.toString()]).to.deep.equal([200, 'abcd']);
      expect(seen).to.deep.equal([{ host: `localhost:${port}`, sni: 'localhost' }]);
      const r2 = await offloaded(main, 1, () => get(url(main, `https://localhost:${port}/s.ts`)));
      expect(r2.status, 'a self-signed certificate, not in the system CAs').to.equal(502);
    });

    it('--req-insecure and --req-options TLS material: the proxy streams itself, with its own TLS settings', async () => {
      const insecure = await pair({ 'req-insecure': true });
      expect((await streamedHere(insecure, 'tls-options', () => get(url(insecure, `https://localhost:${port}/s.ts`)))).status).to.equal(200);
      const file = path.join(tmp, 'ca.json');
      await writeFile(file, JSON.stringify({ ca: cert.cert }));
      const withCa = await pair({ 'req-options': file });
      expect((await streamedHere(withCa, 'tls-options', () => get(url(withCa, `https://localhost:${port}/s.ts`)))).status).to.equal(200);
      expect(seen.length).to.equal(2);
    });
  });

  it('"a playlist served under a segment extension is still rewritten (sniffing)": only an upstream path naming a media file is offloaded', async () => {
    const variant = `/${fixtures.paths.vodVariants[1]}`;
    const r = await streamedHere(main, 'may-be-playlist', () => get(url(main, at(variant))));
    expect(r.status).to.equal(200);
    const text = r.body.toString();
    expect(text.startsWith('#EXTM3U')).to.equal(true);
    expect(text, 'every URI points back at the proxy').to.match(/^http:\/\/media\.example\.com\/hls-proxy\//m);
    origin.override('/playlist-without-extension', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end('#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg.ts\n#EXT-X-ENDLIST\n');
    });
    const sniffed = await streamedHere(main, 'may-be-playlist', () => get(url(main, at('/playlist-without-extension'))));
    expect(sniffed.body.toString()).to.match(/^http:\/\/media\.example\.com\/hls-proxy\/.+\.ts$/m);
  });

  it('front cache: an offloaded segment is kept by nginx from its second request (the origin asked twice for three viewers), each reply with its own X-Request-Id; no-store and bodies of unknown length never', async () => {
    const p = `/${fixtures.paths.vodFirstSegment}?v=cache`;
    const ids = await offloaded(main, 3, async () => {
      const out = [];
      for (let i = 0; i < 3; i++) out.push(String((await get(url(main, at(p)))).headers['x-request-id']));
      return out;
    });
    expect(origin.countRequests(p), 'the first is counted, the second kept, the third the copy').to.equal(2);
    expect(new Set(ids).size, 'ids of the requests, not of the copy').to.equal(3);
    origin.override('/no-store.ts', (_req, res) => {
      res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': '4', 'cache-control': 'no-store' });
      res.end('abcd');
    });
    for (const q of ['/no-store.ts', `/nocl/${fixtures.paths.vodFirstSegment}`]) {
      await offloaded(main, 3, async () => {
        for (let i = 0; i < 3; i++) expect((await get(url(main, at(q)))).status).to.equal(200);
      });
      expect(origin.countRequests(q), `${q}: never kept`).to.equal(3);
    }
  });

  it('"access-checked private replies never cached": a password-checked segment is streamed by the proxy (Cache-Control: private), every viewer asked for the password', async () => {
    const locked = await pair({ 'acl-pass': ['open-sesame'] });
    const p = `/${fixtures.paths.vodFirstSegment}?v=private`;
    const pass = { 'x-hls-sidecar-password': 'open-sesame' };
    await streamedHere(locked, 'private', async () => {
      for (let i = 0; i < 3; i++) {
        const r = await get(url(locked, at(p)), pass);
        expect(r.status).to.equal(200);
        expect(String(r.headers['cache-control'])).to.match(/^private\b/);
      }
    });
    expect(origin.countRequests(p)).to.equal(3);
    expect((await get(url(locked, at(p)))).status).to.equal(401);
  });

  it('"Off with one switch (`--offload none`)": the proxy streams everything itself, as before', async () => {
    const off = await pair({ offload: 'none' });
    const before = await counts(off);
    const r = await get(url(off, at(`/${fixtures.paths.bigSegment}?v=off`)));
    const after = await counts(off);
    expect(r.status).to.equal(200);
    expect(after.offloaded - before.offloaded).to.equal(0);
    expect(after.streamedBytes - before.streamedBytes).to.equal(fixtures.bigSegmentSize);
  });
});
