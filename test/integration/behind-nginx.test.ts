import { expect } from 'chai';
import { request } from 'undici';
import { getFixtures, type Fixtures } from '../support/hls-fixtures.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { startNginx, type RunningNginx } from '../support/nginx.js';
import { ffmpegPlay } from '../support/ffmpeg-client.js';
import { startProxy, hlsdUrl, type RunningProxy } from '../support/proxy.js';

/**
 * Behind real nginx at `location /hls-proxy/` over plain HTTP, as a TLS-terminating front server would
 * forward (issue #2, tests): with `X-Forwarded-Proto: https` the rewritten URLs are
 * `https://<public host>/hls-proxy/...` without any flag; without it, ffmpeg plays through nginx.
 */
describe('behind nginx: forwarded proto/host/prefix, no flags needed', function () {
  this.timeout(90_000);
  let fixtures: Fixtures;
  let origin: Origin;
  let proxy: RunningProxy;
  let nginx: RunningNginx;

  const server = (proxyPort: number, proto: string) => `
    server {
      listen 127.0.0.1:{{PORT}};
      location /hls-proxy/ {
        proxy_pass http://127.0.0.1:${proxyPort};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-Proto ${proto};
        proxy_set_header X-Forwarded-Host dash.example;
        proxy_set_header X-Forwarded-Prefix /hls-proxy;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_buffering off;
      }
    }`;

  before(async () => {
    fixtures = await getFixtures();
    origin = await startOrigin({ root: fixtures.root });
    proxy = await startProxy();
  });
  afterEach(async () => nginx?.close());
  after(async () => {
    await proxy?.close();
    await origin?.close();
  });

  it('X-Forwarded-Proto: https → every rewritten URL is https://dash.example/hls-proxy/...', async () => {
    nginx = await startNginx({ conf: server(proxy.port, 'https') });
    const res = await request(hlsdUrl(`${nginx.url}/hls-proxy`, `${origin.url}/${fixtures.paths.vodMaster}`));
    const text = await res.body.text();
    expect(res.statusCode).to.equal(200);
    const uris = [...text.matchAll(/^(?!#)(\S+)$/gm)].map((m) => m[1]!).concat([...text.matchAll(/URI="([^"]+)"/g)].map((m) => m[1]!));
    expect(uris.length).to.be.greaterThan(2);
    for (const u of uris) expect(u).to.match(/^https:\/\/dash\.example\/hls-proxy\/[A-Za-z0-9_~.-]+$/);
  });

  it('ffmpeg plays a stream through nginx → proxy → origin', async () => {
    nginx = await startNginx({ conf: server(proxy.port, '$scheme').replace('X-Forwarded-Host dash.example', 'X-Forwarded-Host $http_host') });
    origin.clearLog();
    const played = await ffmpegPlay(hlsdUrl(`${nginx.url}/hls-proxy`, `${origin.url}/${fixtures.paths.fmp4}`), { timeoutMs: 60_000 });
    expect(played.ok, `${played.problems.join("; ")}\n${played.stderr}`).to.equal(true);
    expect(origin.log.filter((e) => e.headers['user-agent'] !== 'hls-sidecar')).to.deep.equal([]);
  });
});
