/**
 * The container image built from deploy/Dockerfile (by scripts/test-containers.sh, `npm ci` inside it from
 * the registry), run as a user runs it: read-only root file system, all capabilities dropped,
 * no-new-privileges, an init process. What is special about this stage: the proxy is the real image on
 * podman (host network of this test's own network namespace), the origin a process of the test.
 */
import { expect } from 'chai';
import http from 'node:http';
import { request } from 'undici';
import { IMAGE, healthStatus, inOwnNetns, podman, podmanOk, waitHealthy } from '../support/containers.js';
import { pausedDownload } from '../support/downloads.js';
import { ffmpegPlay } from '../support/ffmpeg-client.js';
import { getFixtures, patternBytes, type Fixtures } from '../support/hls-fixtures.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { freePort } from '../support/ports.js';
import { hlsdUrl } from '../support/proxy.js';
import { waitFor } from '../support/wait-for.js';

const NAME = 'hlsct-image';

describe('container image: deploy/Dockerfile built and run (issue #14 §3)', function () {
  this.timeout(120_000);
  let fixtures: Fixtures;
  let origin: Origin;
  let base: string;

  before(async function () {
    expect(await inOwnNetns(), 'run through `npm run test:containers` (a network namespace of its own)').to.equal(true);
    fixtures = await getFixtures();
    origin = await startOrigin({ root: fixtures.root });
    const port = await freePort();
    base = `http://127.0.0.1:${port}/hls-proxy`;
    await podman(['rm', '-f', NAME]);
    await podmanOk([
      'run', '-d', '--name', NAME, '--network', 'host',
      // As docker-compose.yml runs it: read_only, tmpfs /tmp, cap_drop ALL, no-new-privileges, init.
      '--read-only', '--tmpfs', '/tmp', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--init',
      '-e', `HLS_SIDECAR_PORT=${port}`, '-e', 'HLS_SIDECAR_BIND=127.0.0.1', '-e', 'HLS_SIDECAR_PREFIX=/hls-proxy',
      // The origin is on loopback, which the egress policy refuses unless named (issue #5).
      '-e', `HLS_SIDECAR_ALLOW_UPSTREAM=127.0.0.1:${origin.port}`,
      '-e', 'HLS_SIDECAR_SHUTDOWN_TIMEOUT=30000',
      IMAGE,
    ]);
  });
  after(async () => {
    if (process.env.KEEP_CONTAINERS !== '1') await podman(['rm', '-f', '-t', '0', NAME]);
    await origin?.close();
  });

  it('reports its size', async () => {
    const size = Number(await podmanOk(['image', 'inspect', '--format', '{{.Size}}', IMAGE]));
    console.log(`      image ${IMAGE}: ${(size / 1e6).toFixed(0)} MB`);
    expect(size).to.be.greaterThan(0);
  });

  it('runs as uid 1000 (the image\'s USER node), never root', async () => {
    expect(await podmanOk(['inspect', '--format', '{{.Config.User}}', NAME])).to.equal('node');
    expect(await podmanOk(['exec', NAME, 'id', '-u'])).to.equal('1000');
    // Every process in the container, the init included.
    const users = (await podmanOk(['top', NAME, 'user'])).split('\n').slice(1).map((l) => l.trim());
    expect(users.length).to.be.greaterThan(0);
    for (const u of users) expect(u).to.be.oneOf(['node', '1000']);
  });

  it('has a read-only root file system; only the /tmp tmpfs is writable', async () => {
    const app = await podman(['exec', NAME, 'sh', '-c', 'echo x > /app/dist/x']);
    expect(app.code).to.not.equal(0);
    expect(app.stderr).to.match(/read-only file system/i);
    expect((await podman(['exec', NAME, 'sh', '-c', 'echo x > /tmp/x'])).code).to.equal(0);
  });

  it('turns healthy through its own HEALTHCHECK (node deploy/healthcheck.mjs)', async () => {
    const check = await podmanOk(['inspect', '--format', '{{json .Config.Healthcheck.Test}}', NAME]);
    expect(JSON.parse(check)).to.deep.equal(['CMD', 'node', 'deploy/healthcheck.mjs']);
    await waitHealthy(NAME, 30_000);
    expect(await healthStatus(NAME)).to.equal('healthy');
  });

  it('proxies ffmpeg-made HLS: the playlist is rewritten onto the proxy, ffmpeg plays it', async () => {
    const url = hlsdUrl(base, `${origin.url}/${fixtures.paths.vodMaster}`);
    const res = await request(url);
    expect(res.statusCode).to.equal(200);
    const text = await res.body.text();
    const uris = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(uris.length).to.be.greaterThan(0);
    for (const u of uris) expect(u.startsWith(`${base}/`), u).to.equal(true);
    const play = await ffmpegPlay(url, { timeoutMs: 30_000 });
    expect(play.ok, play.problems.join('\n')).to.equal(true);
  });

  it('SIGTERM (podman stop) lets an in-flight download finish byte-exact, then exits 0', async () => {
    const agent = new http.Agent({ keepAlive: true });
    try {
      const dl = pausedDownload(hlsdUrl(base, `${origin.url}/${fixtures.paths.bigFile}`, 'ts'), agent);
      await dl.paused;
      expect(origin.activeResponses(), 'the origin response is still streaming').to.be.greaterThan(0);
      // podman stop sends the image's STOPSIGNAL (SIGTERM) and waits -t seconds before SIGKILL.
      const stopping = podman(['stop', '-t', '40', NAME], 60_000);
      await waitFor('the proxy to start draining', async () =>
        (await podmanOk(['logs', NAME])).includes('shutting down'), 10_000, 100);
      dl.resume();
      const got = await dl.done;
      expect(got.status).to.equal(200);
      expect(got.complete, got.error).to.equal(true);
      expect(got.body.equals(patternBytes(0, fixtures.bigFileSize - 1)), 'body differs from the fixture').to.equal(true);
      expect((await stopping).code).to.equal(0);
      expect(await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', NAME])).to.equal('0');
    } finally {
      agent.destroy();
    }
  });
});
