/**
 * Rehearsals of the deployment kit (issue #6) with real processes: the shipped nginx templates and the
 * docker-compose topology run for real in front of hls-sidecar CLI processes, and a player (ffmpeg) plays
 * through them. deploy-templates.test.ts checks the same files statically; here they must also work.
 *
 * Every template is used as shipped, except for the rows of the explicit substitution tables below
 * (support/deploy-kit.ts#substitute: each row must match exactly once): listen addresses move to loopback
 * ephemeral ports, certificate paths point at a throwaway pair from deploy/make-dev-cert.sh, replica
 * addresses become the test's processes, and `include` lines are replaced by the (substituted) included
 * file, which is what nginx's include does. Nothing here needs Docker.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { Agent, request } from 'undici';
import { ROOT, cacheDirRows, composeEnvironment, loopbackListenRows, readRepoFile as read, renderNginxTemplate, substitute } from '../support/deploy-kit.js';
import { ffmpegPlay } from '../support/ffmpeg-client.js';
import { getFixtures, type Fixtures } from '../support/hls-fixtures.js';
import { startNginx, type Nginx } from '../support/nginx.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { freePort } from '../support/ports.js';
import { runCommand } from '../support/processes.js';
import { hlsdUrl, startProxyProcess, type ProxyProcess } from '../support/proxy.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';

const PUBLIC_HOST = 'media.example.com';

/** Every URI in a playlist: non-tag lines and URI="..." attributes (RFC 8216 §4.1, §4.2). */
function playlistUris(text: string): string[] {
  return [...text.matchAll(/^(?!#)(\S+)$/gm)].map((m) => m[1]!).concat([...text.matchAll(/URI="([^"]+)"/g)].map((m) => m[1]!));
}

/** Requests a replica finished, from its own /metrics (scraped directly, as the templates advise). */
async function requestsServed(metricsUrl: string): Promise<number> {
  const res = await request(metricsUrl);
  const text = await res.body.text();
  expect(res.statusCode, metricsUrl).to.equal(200);
  return [...text.matchAll(/^hls_sidecar_requests_total\{([^}]*)\} (\d+)$/gm)]
    .filter((m) => !/route="metrics"/.test(m[1]!))
    .reduce((sum, m) => sum + Number(m[2]), 0);
}

describe('deployment rehearsal (issue #6): templates and compose topology run for real', function () {
  this.timeout(60_000);
  let fixtures: Fixtures;
  let origin: Origin;
  let tmp: string;
  let cert: string;
  let key: string;
  let tls: Agent;
  const masterUriCount = async (): Promise<number> =>
    playlistUris(await readFile(path.join(fixtures.root, fixtures.paths.vodMaster), 'utf8')).length;
  // The origin is on loopback, which the egress policy refuses unless named (issue #5).
  const allowOrigin = (): string => `127.0.0.1:${origin.port}`;

  before(async () => {
    fixtures = await getFixtures();
    origin = await startOrigin({ root: fixtures.root });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'hls-sidecar-rehearsal-'));
    const r = await runCommand('bash', [path.join(ROOT, 'deploy/make-dev-cert.sh'), path.join(tmp, 'certs'), PUBLIC_HOST], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).to.equal(0);
    [cert, key] = [path.join(tmp, 'certs/dev.crt'), path.join(tmp, 'certs/dev.key')];
    // Trusts exactly the throwaway certificate (not "any certificate"); connects only to 127.0.0.1.
    tls = new Agent({ connect: { ca: await readFile(cert, 'utf8') } });
  });
  after(async () => {
    await tls?.close();
    await origin?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  describe('nginx/ templates in front of two CLI replicas', function () {
    let replicas: ProxyProcess[] = [];
    let nginx: Nginx;
    let tlsPort: number;
    let redirectPort: number;

    before(async () => {
      replicas = await Promise.all([0, 1].map(() => startProxyProcess(['--allow-upstream', allowOrigin(), '--log-level', 'warn'])));
      const [a, b] = replicas as [ProxyProcess, ProxyProcess];
      const upstream = substitute(read('nginx/upstream.conf'), [
        ['server 127.0.0.1:8080 ', `server 127.0.0.1:${a.port} `],
        ['server 127.0.0.1:8081 ', `server 127.0.0.1:${b.port} `],
        // Two replicas in this rehearsal, not the template's three.
        ['    server 127.0.0.1:8082 max_fails=1 fail_timeout=2s;\n', ''],
        ...cacheDirRows(path.join(tmp, 'nginx-cache')),
      ], 'upstream.conf');
      const location = read('nginx/hls-proxy-location.conf');
      [tlsPort, redirectPort] = [await freePort(), await freePort()];
      const site = substitute(read('nginx/example-server.conf'), [
        ...loopbackListenRows([
          ['listen 80;', redirectPort], ['listen [::]:80;', await freePort()],
          ['listen 443 ssl http2;', tlsPort], ['listen [::]:443 ssl http2;', await freePort()],
        ]),
        ['/etc/ssl/certs/media.example.com.fullchain.pem', cert],
        ['/etc/ssl/private/media.example.com.key', key],
        ['include hls-sidecar/upstream.conf;', upstream],
        ['include hls-sidecar/hls-proxy-location.conf;', location],
      ], 'example-server.conf');
      // An operator's plain-HTTP server {} with the snippet included as shipped, for ffmpeg, on a
      // non-default port (which the snippet keeps in rewritten URLs without an edit).
      const plain = `server {\n    listen 127.0.0.1:{{PORT}};\n${location}\n}\n`;
      nginx = await startNginx({ conf: `${site}\n${plain}` });
    });
    after(async () => {
      await nginx?.close();
      await Promise.all(replicas.map((p) => p.stop()));
    });

    it('ffmpeg plays through location snippet + upstream.conf, and both replicas served it', async () => {
      const before = await Promise.all(replicas.map((p) => requestsServed(`${p.url}/metrics`)));
      origin.clearLog();
      const played = await ffmpegPlay(hlsdUrl(`${nginx.url}/hls-proxy`, `${origin.url}/${fixtures.paths.vodMaster}`), { timeoutMs: 40_000 });
      expect(played.ok, `${played.problems.join('; ')}\n${played.stderr}`).to.equal(true);
      // Every origin request came from a replica, none from ffmpeg directly (the URLs pointed back at nginx).
      expect(origin.log.length).to.be.greaterThan(4);
      expect(origin.log.filter((e) => e.headers['user-agent'] !== 'hls-sidecar')).to.deep.equal([]);
      const after = await Promise.all(replicas.map((p) => requestsServed(`${p.url}/metrics`)));
      after.forEach((n, i) => expect(n - before[i]!, `requests served by replica ${i}`).to.be.greaterThan(0));
      for (const p of replicas) expect(p.output(), 'replica warnings').to.not.match(/"level":(40|50|60)/);
    });

    it('a playlist larger than the template\'s proxy buffers (256 KB) arrives whole through nginx, as the replica serves it', async () => {
      // hls-proxy-location.conf sizes proxy_buffers for a 900-segment playlist; anything bigger must still
      // pass (through the same buffers, no temp file), not be cut at the buffer size.
      const segments = 6000;
      const body = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:6', '#EXT-X-MEDIA-SEQUENCE:0',
        ...Array.from({ length: segments }, (_, i) => `#EXTINF:6.000,\nsegment-${i}.ts?token=abc%2F${i}`), '#EXT-X-ENDLIST', ''].join('\n');
      const undo = origin.override('/rehearsal/big.m3u8', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' });
        res.end(body);
      });
      try {
        const upstreamUrl = `${origin.url}/rehearsal/big.m3u8`;
        const viaNginx = await request(hlsdUrl(`${nginx.url}/hls-proxy`, upstreamUrl));
        const text = await viaNginx.body.text();
        expect(viaNginx.statusCode).to.equal(200);
        expect(Buffer.byteLength(text)).to.be.greaterThan(256 * 1024);
        const uris = playlistUris(text);
        expect(uris.length).to.equal(segments);
        expect(text.endsWith('#EXT-X-ENDLIST\n')).to.equal(true);
        // The same bytes as the replica answers directly, apart from the public base nginx forwards.
        const direct = await request(hlsdUrl(replicas[0]!.url, upstreamUrl), {
          headers: { 'x-forwarded-host': new URL(nginx.url).host, 'x-forwarded-prefix': '/hls-proxy', 'x-forwarded-proto': 'http' },
        });
        expect(await direct.body.text()).to.equal(text);
      } finally {
        undo();
      }
    });

    it('example-server.conf over TLS: every rewritten URL is https://<public host>/hls-proxy/..., HTTP redirects to HTTPS', async () => {
      const res = await request(hlsdUrl(`https://127.0.0.1:${tlsPort}/hls-proxy`, `${origin.url}/${fixtures.paths.vodMaster}`), {
        dispatcher: tls,
        headers: { host: PUBLIC_HOST },
      });
      const text = await res.body.text();
      expect(res.statusCode, text).to.equal(200);
      expect(res.headers['strict-transport-security']).to.equal('max-age=31536000');
      const uris = playlistUris(text);
      // Every URI of the origin's playlist (variants and the EXT-X-MEDIA rendition) was rewritten.
      expect(uris.length).to.equal(await masterUriCount()).and.to.be.greaterThan(2);
      for (const u of uris) expect(u).to.match(/^https:\/\/media\.example\.com\/hls-proxy\/[A-Za-z0-9_~.-]+$/);

      const plain = await request(`http://127.0.0.1:${redirectPort}/hls-proxy/healthz`, { headers: { host: PUBLIC_HOST } });
      await plain.body.dump();
      expect(plain.statusCode).to.equal(301);
      expect(plain.headers.location).to.equal(`https://${PUBLIC_HOST}/hls-proxy/healthz`);
    });

    // Issue #14: as shipped, the snippet wrote https://localhost/hls-proxy/... behind TLS on port 28881
    // ($host drops the port), so no player could follow a single URI.
    it('example-server.conf on a non-default TLS port: every rewritten URL keeps the port, with no edit', async () => {
      for (const host of [`localhost:${tlsPort}`, `${PUBLIC_HOST}:${tlsPort}`]) {
        const res = await request(hlsdUrl(`https://127.0.0.1:${tlsPort}/hls-proxy`, `${origin.url}/${fixtures.paths.vodMaster}`), {
          dispatcher: tls,
          headers: { host },
        });
        const uris = playlistUris(await res.body.text());
        expect(res.statusCode).to.equal(200);
        expect(uris.length).to.equal(await masterUriCount());
        for (const u of uris) expect(u.startsWith(`https://${host}/hls-proxy/`), `${host}: ${u}`).to.equal(true);
      }
    });
  });

  describe('compose rehearsal: docker-compose.yml topology without Docker', function () {
    type Service = { environment?: Record<string, unknown> };
    let redis: RedisServer;
    let replicas: ProxyProcess[] = [];
    let nginx: Nginx;
    let healthPort: number;

    before(async () => {
      const compose = loadYaml(read('docker-compose.yml')) as { services: Record<string, Service> };
      redis = await startRedis();
      const composeEnv = composeEnvironment(compose.services.proxy?.environment);
      const ports = await Promise.all([0, 1, 2].map(() => freePort()));
      replicas = await Promise.all(ports.map((port) => startProxyProcess([], {
        port,
        env: {
          ...composeEnv,
          // The only changes to the service's environment: this host's Redis and ports instead of the
          // compose network's, and nginx reaches the replicas over loopback instead of the compose subnet.
          HLS_SIDECAR_REDIS: `${redis.url}/0`,
          HLS_SIDECAR_PORT: String(port),
          HLS_SIDECAR_BIND: '127.0.0.1',
          HLS_SIDECAR_TRUST_PROXY: `${composeEnv.HLS_SIDECAR_TRUST_PROXY},loopback`,
          // A pass-through variable of the compose file ("from the shell / .env"): the rehearsal's origin.
          HLS_SIDECAR_ALLOW_UPSTREAM: allowOrigin(),
        },
      })));
      const [tlsPort, upstreamServers] = [await freePort(), ports.map((p) => `    server 127.0.0.1:${p};`).join('\n')];
      healthPort = await freePort();
      const rendered = await renderNginxTemplate(read('deploy/compose-nginx.conf'), { HLS_NGINX_RESOLVER: '127.0.0.11' });
      const conf = substitute(rendered, [
        // The engine's DNS answers `proxy` with one address per replica; here an upstream group of that name
        // holds them. nginx looks a proxy_pass variable up among upstream groups before asking a resolver,
        // so the location is used as shipped apart from the port, which the group's servers carry.
        ['resolver 127.0.0.11 valid=2s ipv6=off;', `upstream proxy {\n${upstreamServers}\n}`],
        ['set $hls_sidecar_upstream proxy:8080;', 'set $hls_sidecar_upstream proxy;'],
        ...loopbackListenRows([['listen 443 ssl http2;', tlsPort], ['listen 127.0.0.1:8081;', healthPort]]),
        ['/etc/nginx/certs/dev.crt', cert],
        ['/etc/nginx/certs/dev.key', key],
        ...cacheDirRows(path.join(tmp, 'compose-nginx-cache')),
      ], 'compose-nginx.conf');
      nginx = await startNginx({ conf, port: tlsPort });
    });
    after(async () => {
      await nginx?.close();
      await Promise.all(replicas.map((p) => p.stop()));
      await redis?.stop();
    });

    const httpsBase = (): string => `https://127.0.0.1:${nginx.port}/hls-proxy`;

    it('readyz through nginx is ok (Redis shared), and nginx answers its own health check', async () => {
      // Three requests: the round robin over the group reaches every replica once.
      for (let i = 0; i < replicas.length; i++) {
        const res = await request(`${httpsBase()}/readyz`, { dispatcher: tls });
        expect(res.statusCode).to.equal(200);
        expect((await res.body.text()).trim()).to.equal('ok');
      }
      const health = await request(`http://127.0.0.1:${healthPort}/nginx-healthz`);
      expect((await health.body.text()).trim()).to.equal('ok');
    });

    it('ffmpeg plays through nginx (TLS) → three replicas; every replica served; URLs point at the published port', async () => {
      const before = await Promise.all(replicas.map((p) => requestsServed(`${p.url}/hls-proxy/metrics`)));
      origin.clearLog();
      const played = await ffmpegPlay(hlsdUrl(httpsBase(), `${origin.url}/${fixtures.paths.vodMaster}`), { timeoutMs: 40_000 });
      expect(played.ok, `${played.problems.join('; ')}\n${played.stderr}`).to.equal(true);
      expect(origin.log.filter((e) => e.headers['user-agent'] !== 'hls-sidecar')).to.deep.equal([]);
      const after = await Promise.all(replicas.map((p) => requestsServed(`${p.url}/hls-proxy/metrics`)));
      after.forEach((n, i) => expect(n - before[i]!, `requests served by replica ${i}`).to.be.greaterThan(0));

      const master = await request(hlsdUrl(httpsBase(), `${origin.url}/${fixtures.paths.vodMaster}`), { dispatcher: tls });
      const uris = playlistUris(await master.body.text());
      expect(uris.length).to.equal(await masterUriCount()).and.to.be.greaterThan(2);
      // $http_host keeps the published port (compose-nginx.conf), and the scheme is nginx's.
      for (const u of uris) expect(u.startsWith(`https://127.0.0.1:${nginx.port}/hls-proxy/`), u).to.equal(true);
    });

    it('a playlist fetched from each replica in turn reaches the origin once: the replicas share Redis', async () => {
      const url = `${origin.url}/${fixtures.paths.fmp4}`;
      origin.clearLog();
      const seen: string[] = [];
      for (const p of replicas) {
        const res = await request(hlsdUrl(`${p.url}/hls-proxy`, url));
        expect(res.statusCode).to.equal(200);
        await res.body.dump();
        seen.push(String(res.headers['x-hls-sidecar-cache']));
      }
      expect(origin.countRequests(`/${fixtures.paths.fmp4}`), `cache results: ${seen.join(', ')}`).to.equal(1);
    });
  });
});
