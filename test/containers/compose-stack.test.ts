/**
 * docker-compose.yml brought up for real (issue #14 §4): nginx (TLS) + 3 proxy replicas + Redis, with the
 * shipped files as they are (no override file: bridge networking, the ipam subnet, service-name DNS and
 * --scale all work here with docker-compose against `podman system service`). What is special about this
 * stage: the base images are local stand-ins (scripts/container-bases.sh) named through HLS_*_IMAGE, the
 * certificate comes from deploy/make-dev-cert.sh in a temp dir (HLS_CERTS_DIR), and the origins are
 * processes of this test listening on the compose network's gateway, an internal host as the replicas see
 * it. Viewers reach the stack at https://localhost:<HLS_HTTPS_PORT>/hls-proxy/ as a browser would.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { Agent, request } from 'undici';
import { launchChromium } from '../support/chromium.js';
import { counterSum } from '../support/metrics-text.js';
import { healthStatus, inOwnNetns, podman, replicaMetrics, startComposeClient, type ComposeStack } from '../support/containers.js';
import { ffmpegPlay } from '../support/ffmpeg-client.js';
import { getFixtures, type Fixtures } from '../support/hls-fixtures.js';
import { startLiveStream, type LiveStream } from '../support/live-stream.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { freePort } from '../support/ports.js';
import { runCommand } from '../support/processes.js';
import { hlsdUrl, ROOT } from '../support/proxy.js';
import { percentile, startViewers, type ViewerStats } from '../support/viewers.js';
import { waitFor } from '../support/wait-for.js';

const PROJECT = 'hlsct';
const VIEWERS = 200;

describe('compose stack: nginx (TLS) + 3 replicas + Redis, up for real (issue #14 §4)', function () {
  this.timeout(240_000);
  let fixtures: Fixtures;
  let live: LiveStream;
  let vodOrigin: Origin;
  let liveOrigin: Origin;
  let stack: ComposeStack;
  let certDir: string;
  let publicBase: string;
  let gateway: string;
  let dispatcher: Agent;

  /** The upstream URL as the replicas see it (the gateway is this namespace's address on the network). */
  const upstream = (origin: Origin, p: string) => `http://${gateway}:${origin.port}/${p}`;
  const viaFront = (upstreamUrl: string) => hlsdUrl(publicBase, upstreamUrl);
  const livePlaylist = () => viaFront(upstream(liveOrigin, live.playlistPath));
  const get = async (url: string) => {
    const res = await request(url, { dispatcher });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };
  const noFailures = (s: ViewerStats, phase: string) => {
    console.log(`      ${phase}: ${s.playlistRequests} playlist + ${s.segmentRequests} segment requests, ${s.failures.length} failed, playlist p99 ${percentile(s.playlistMs, 99).toFixed(0)} ms`);
    expect(s.failures.length, `${phase}: ${s.failures.length} of ${s.playlistRequests + s.segmentRequests} requests failed, e.g.\n${s.failures.slice(0, 5).join('\n')}`).to.equal(0);
  };

  before(async function () {
    expect(await inOwnNetns(), 'run through `npm run test:containers` (a network namespace of its own)').to.equal(true);
    fixtures = await getFixtures();
    live = await startLiveStream({ segmentSeconds: 2, listSize: 6 });
    certDir = await mkdtemp(path.join(os.tmpdir(), 'hls-sidecar-compose-certs-'));
    const cert = await runCommand('bash', [path.join(ROOT, 'deploy/make-dev-cert.sh'), certDir, 'localhost'], { timeoutMs: 30_000 });
    expect(cert.code, cert.stderr).to.equal(0);
    const port = await freePort();
    publicBase = `https://localhost:${port}/hls-proxy`;
    dispatcher = new Agent({ connect: { rejectUnauthorized: false }, connections: 64, keepAliveTimeout: 10_000 });
    stack = await startComposeClient(PROJECT, { HLS_HTTPS_PORT: String(port), HLS_CERTS_DIR: certDir });
    await stack.compose(['down', '--timeout', '0']);
    const up = await stack.compose(['up', '-d', '--no-build', '--scale', 'proxy=3']);
    expect(up.code, up.stderr).to.equal(0);
    gateway = await stack.gateway();
    // Origins on the gateway: reached from the containers over the bridge, like an internal camera host.
    vodOrigin = await startOrigin({ root: fixtures.root, host: gateway });
    liveOrigin = await startOrigin({ root: live.root, host: gateway });
    await waitFor('nginx answering through TLS', async () => (await get(`${publicBase}/readyz`).catch(() => ({ status: 0 }))).status === 200, 60_000, 500);
  });
  after(async () => {
    await dispatcher?.close();
    if (process.env.KEEP_CONTAINERS !== '1') await stack?.close();
    await vodOrigin?.close();
    await liveOrigin?.close();
    await live?.stop();
    if (certDir) await rm(certDir, { recursive: true, force: true });
  });

  it('every service turns healthy through its compose health check', async () => {
    const names = [...(await stack.containers('nginx')), ...(await stack.containers('proxy')), ...(await stack.containers('redis'))];
    expect(names).to.have.length(5);
    for (const name of names) {
      await waitFor(`${name} healthy`, async () => (await healthStatus(name)) === 'healthy', 60_000, 1000);
    }
  });

  it('readyz through nginx is "ok": the replicas share Redis by its service name', async () => {
    const r = await get(`${publicBase}/readyz`);
    expect(r.status).to.equal(200);
    expect(r.text.trim()).to.equal('ok');
  });

  it('every URI of the rewritten playlists is under the public prefix, port included', async () => {
    const master = await get(viaFront(upstream(vodOrigin, fixtures.paths.vodMaster)));
    expect(master.status).to.equal(200);
    const uriOf = (text: string) => [
      ...text.split('\n').filter((l) => l !== '' && !l.startsWith('#')),
      ...[...text.matchAll(/URI="([^"]*)"/g)].map((m) => m[1]!),
    ];
    const media = uriOf(master.text);
    expect(media.length).to.be.greaterThan(2);
    const all = [...media];
    for (const m of media) {
      const r = await get(m);
      expect(r.status, m).to.equal(200);
      all.push(...uriOf(r.text));
    }
    for (const u of all) expect(u.startsWith(`${publicBase}/`), u).to.equal(true);
  });

  it('ffmpeg plays the VOD and the live channel through https://localhost:<port>/hls-proxy/', async () => {
    const vod = await ffmpegPlay(viaFront(upstream(vodOrigin, fixtures.paths.vodMaster)), { timeoutMs: 60_000 });
    expect(vod.ok, vod.problems.join('\n')).to.equal(true);
    const onAir = await ffmpegPlay(livePlaylist(), { live: true, durationSeconds: 6, timeoutMs: 60_000 });
    expect(onAir.ok, onAir.problems.join('\n')).to.equal(true);
  });

  describe('hls.js in headless Chromium', () => {
    let browser: Browser;
    before(async () => { browser = await launchChromium({ selfSigned: true }); });
    after(async () => { await browser?.close(); });
    const entries: Array<[string, () => string]> = [
      ['the VOD', () => upstream(vodOrigin, fixtures.paths.vodMaster)],
      ['the live channel', () => upstream(liveOrigin, live.playlistPath)],
    ];
    for (const [name, entry] of entries) {
      it(`plays ${name} through nginx: currentTime advances, no player error`, async () => {
        const page = await browser.newPage();
        try {
          const res = await page.goto(`${publicBase}/_/player?url=${encodeURIComponent(entry())}`);
          expect(res?.status()).to.equal(200);
          await page.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).currentTime > 1.5, undefined, { timeout: 60_000 });
          const errors = await page.evaluate(() => document.getElementById('errors')!.getAttribute('data-count'));
          expect(errors).to.equal('0');
        } finally {
          await page.close();
        }
      });
    }
  });

  it('all three replicas answer viewers', async () => {
    const proxies = await stack.containers('proxy');
    expect(proxies).to.have.length(3);
    for (let i = 0; i < 60; i++) await get(`${publicBase}/healthz`);
    for (const name of proxies) {
      const served = counterSum(await replicaMetrics(name), 'hls_sidecar_requests_total');
      expect(served, name).to.be.greaterThan(0);
    }
  });

  describe(`${VIEWERS} viewers of one live channel`, () => {
    let viewers: ReturnType<typeof startViewers>;
    before(async () => {
      viewers = startViewers({ playlistUrl: livePlaylist(), viewers: VIEWERS, dispatcher, reloadMs: live.targetDuration * 1000, maxMs: 200_000 });
      await delay(4000); // every viewer has joined
      viewers.mark();
    });
    after(async () => { await viewers?.stop(); });

    it('cost the origin at most one playlist fetch per half target duration, with no failed request', async () => {
      const windowMs = 12_000;
      const before = liveOrigin.countRequests(`/${live.playlistPath}`);
      await delay(windowMs);
      const fetches = liveOrigin.countRequests(`/${live.playlistPath}`) - before;
      const s = viewers.mark();
      const allowed = Math.ceil(windowMs / ((live.targetDuration * 1000) / 2)) + 1;
      console.log(`      origin playlist fetches in ${windowMs / 1000} s: ${fetches} (allowed ${allowed})`);
      expect(s.playlistRequests).to.be.greaterThan(VIEWERS * 3);
      expect(fetches, 'the origin is counted').to.be.greaterThan(0);
      expect(fetches).to.be.at.most(allowed);
      noFailures(s, 'steady');
    });

    it('the Redis container killed mid-stream: zero failed viewer requests', async () => {
      const [redis] = await stack.containers('redis');
      const kill = await podman(['kill', redis!]);
      expect(kill.code, kill.stderr).to.equal(0);
      await delay(10_000);
      noFailures(viewers.mark(), 'Redis killed');
      expect((await podman(['start', redis!])).code).to.equal(0);
    });

    it('scaled from 3 to 1 replica mid-stream: zero failed viewer requests', async () => {
      // `scale`, not `up --scale`: a second `up` against podman stops at "Network ... needs to be recreated -
      // IPAM option "driver" has changed" (podman reports its own IPAM driver name for the network the
      // first `up` made). Both stop the extra replicas the same way: SIGTERM, stop_grace_period, remove.
      const down = await stack.compose(['scale', 'proxy=1']);
      expect(down.code, down.stderr).to.equal(0);
      expect(await stack.containers('proxy')).to.have.length(1);
      await delay(8000);
      noFailures(viewers.mark(), 'scaled 3 -> 1');
    });
  });

  // A suite of its own: mocha runs a suite's own tests before its nested suites, and this one goes last.
  describe('teardown', () => {
    it('`docker-compose down` leaves no container, network or volume behind', async () => {
      const down = await stack.compose(['down', '--timeout', '10']);
      expect(down.code, down.stderr).to.equal(0);
      expect(await stack.leftovers()).to.deep.equal({ containers: [], networks: [], volumes: [] });
    });
  });
});
