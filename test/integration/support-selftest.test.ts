/**
 * Self-test of the shared integration-test helpers (test/support): if these are wrong, every integration
 * test built on them proves nothing. Real ffmpeg, nginx and HTTP; no mocks.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import http, { type IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import zlib from 'node:zlib';
import { ffmpegPlay, ffprobeStreams } from '../support/ffmpeg-client.js';
import { getFixtures, patternBytes, type Fixtures } from '../support/hls-fixtures.js';
import { startLiveStream } from '../support/live-stream.js';
import { canUnshareNet, runInLoopbackNetns } from '../support/netns.js';
import { nginxTestConf, startNginx } from '../support/nginx.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { waitFor } from '../support/wait-for.js';
import { rssMiB, socketsTo } from '../support/proc-usage.js';
import net from 'node:net';

interface Reply { status: number; headers: IncomingHttpHeaders; body: Buffer }

/** Raw node:http GET: no redirect following, no decompression, path sent verbatim. */
function get(base: string, rawPath: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${rawPath}`, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

describe('test support helpers (self-test)', function () {
  this.timeout(30_000);
  let fx: Fixtures;
  let origin: Origin;
  const file = (p: string): Promise<Buffer> => readFile(path.join(fx.root, p));

  before(async () => {
    fx = await getFixtures();
    origin = await startOrigin({ root: fx.root });
  });
  after(async () => origin?.close());
  beforeEach(() => { origin.clearLog(); origin.clearOverrides(); });

  describe('fixtures', () => {
    const tags: Array<[keyof Fixtures['paths'], RegExp]> = [
      // RFC 8216 §4.3.4.1: "The EXT-X-MEDIA tag is used to relate Media Playlists that contain alternative Renditions"
      ['vodMaster', /^#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="[^"]+".*URI="audio\/index\.m3u8"/m],
      ['vodMaster', /^#EXT-X-STREAM-INF:.*RESOLUTION=320x180.*AUDIO="[^"]+"\nhi\/index\.m3u8$/m],
      ['vodMaster', /^#EXT-X-STREAM-INF:.*RESOLUTION=192x108.*\nlo\/index\.m3u8$/m],
      ['fmp4', /^#EXT-X-MAP:URI="init\.mp4"/m],
      ['aes', /^#EXT-X-KEY:METHOD=AES-128,URI="enc\.key",IV=0x[0-9a-f]{32}$/m],
      ['byterange', /^#EXT-X-BYTERANGE:\d+@\d+\nall\.ts$/m],
    ];
    for (const [key, re] of tags) {
      it(`${key} playlist matches ${re.source.slice(0, 40)}`, async () => {
        expect((await file(fx.paths[key] as string)).toString('utf8')).to.match(re);
      });
    }

    it('big files have their exact sizes and the verifiable byte pattern', async () => {
      const big = await file(fx.paths.bigFile);
      expect(big.length).to.equal(fx.bigFileSize);
      expect(big.subarray(12_345_678, 12_346_000).equals(patternBytes(12_345_678, 12_345_999))).to.equal(true);
      const seg = await file(fx.paths.bigSegment);
      expect(seg.length).to.equal(fx.bigSegmentSize);
      expect(seg[0]).to.equal(0x47); // MPEG-TS sync byte
    });

    it('ffprobe sees both video variants and the audio rendition through the origin', async () => {
      const probe = await ffprobeStreams(`${origin.url}/${fx.paths.vodMaster}`);
      const sizes = probe.streams.filter((s) => s.codec_type === 'video').map((s) => `${s.width}x${s.height}`);
      expect(sizes).to.include.members(['320x180', '192x108']);
      expect(probe.streams.some((s) => s.codec_type === 'audio' && s.codec_name === 'aac')).to.equal(true);
      expect(origin.countRequests('/vod/audio/index.m3u8')).to.be.greaterThan(0);
    });

    it('ffmpegPlay decodes the AES-128 stream, and reports failure when the key is wrong', async () => {
      const good = await ffmpegPlay(`${origin.url}/${fx.paths.aes}`, { decode: true });
      expect(good.problems).to.deep.equal([]);
      expect(good.ok).to.equal(true);
      expect(good.progress.outTimeUs).to.be.greaterThan(5_000_000);
      origin.override('/aes/enc.key', (_req, res) => { res.end(Buffer.alloc(16, 0xff)); });
      const bad = await ffmpegPlay(`${origin.url}/${fx.paths.aes}`, { decode: true });
      expect(bad.ok).to.equal(false);
    });

    it('ffmpegPlay reports failure when segments are missing', async () => {
      origin.override(/^\/fmp4\/seg\d+\.m4s/, (_req, res) => { res.statusCode = 404; res.end(); });
      const r = await ffmpegPlay(`${origin.url}/${fx.paths.fmp4}`);
      expect(r.ok).to.equal(false);
    });
  });

  describe('origin', () => {
    const types: Array<[string, string]> = [
      ['vod/master.m3u8', 'application/vnd.apple.mpegurl'], // RFC 8216 §4
      ['vod/hi/seg000.ts', 'video/mp2t'],
      ['fmp4/seg000.m4s', 'video/mp4'],
      ['fmp4/init.mp4', 'video/mp4'],
      ['aes/enc.key', 'application/octet-stream'],
    ];
    for (const [p, type] of types) {
      it(`serves ${p} as ${type}`, async () => {
        const r = await get(origin.url, `/${p}`);
        expect([r.status, r.headers['content-type']]).to.deep.equal([200, type]);
        expect(r.body.equals(await file(p))).to.equal(true);
      });
    }

    // RFC 9110 §14.1.2 byte ranges; §15.5.17 416 carries "Content-Range: bytes */<length>".
    const ranges: Array<[string, number, string | undefined, [number, number] | undefined]> = [
      ['bytes=0-99', 206, 'bytes 0-99/20971520', [0, 99]],
      ['bytes=20971000-', 206, 'bytes 20971000-20971519/20971520', [20_971_000, 20_971_519]],
      ['bytes=-10', 206, 'bytes 20971510-20971519/20971520', [20_971_510, 20_971_519]],
      ['bytes=5-99999999999', 206, 'bytes 5-20971519/20971520', undefined],
      ['bytes=20971520-', 416, 'bytes */20971520', undefined],
      ['bytes=9-3', 200, undefined, undefined], // invalid spec: field ignored
    ];
    for (const [range, status, contentRange, slice] of ranges) {
      it(`Range ${range} → ${status}`, async () => {
        const r = await get(origin.url, `/${fx.paths.bigFile}`, { Range: range });
        expect([r.status, r.headers['content-range']]).to.deep.equal([status, contentRange]);
        if (slice) expect(r.body.equals(patternBytes(slice[0], slice[1]))).to.equal(true);
      });
    }

    it('answers If-None-Match with 304 and a stale If-Range with 200', async () => {
      const first = await get(origin.url, '/vod/master.m3u8');
      const etag = String(first.headers.etag);
      expect(first.headers['last-modified']).to.be.a('string');
      expect((await get(origin.url, '/vod/master.m3u8', { 'If-None-Match': etag })).status).to.equal(304);
      expect((await get(origin.url, '/vod/master.m3u8', { 'If-None-Match': '"nope"' })).status).to.equal(200);
      expect((await get(origin.url, '/vod/master.m3u8', { Range: 'bytes=0-3', 'If-Range': '"old"' })).status).to.equal(200);
    });

    const codings: Array<['gzip' | 'br' | 'deflate', (b: Buffer) => Buffer]> = [
      ['gzip', zlib.gunzipSync], ['br', zlib.brotliDecompressSync], ['deflate', zlib.inflateSync],
    ];
    for (const [coding, decode] of codings) {
      it(`/${coding}/ serves the file with Content-Encoding: ${coding}`, async () => {
        const r = await get(origin.url, `/${coding}/vod/master.m3u8`);
        expect([r.status, r.headers['content-encoding'], r.headers['content-length']]).to.deep.equal([200, coding, undefined]);
        expect(decode(r.body).equals(await file('vod/master.m3u8'))).to.equal(true);
      });
    }

    it('/redirect/3/ chains three 302s with path-absolute Locations', async () => {
      const hops: string[] = [];
      let target = '/redirect/3/vod/master.m3u8?x=1';
      for (let r = await get(origin.url, target); ; r = await get(origin.url, target)) {
        if (r.status !== 302) { expect(r.status).to.equal(200); break; }
        target = String(r.headers.location);
        hops.push(target);
      }
      expect(hops).to.deep.equal(['/redirect/2/vod/master.m3u8?x=1', '/redirect/1/vod/master.m3u8?x=1', '/vod/master.m3u8?x=1']);
    });

    it('/redirect-abs/ points at /moved/ with an absolute URL, which serves the same file', async () => {
      const r = await get(origin.url, '/redirect-abs/vod/master.m3u8');
      expect([r.status, r.headers.location]).to.deep.equal([302, `${origin.url}/moved/vod/master.m3u8`]);
      const moved = await get(origin.url, '/moved/vod/hi/index.m3u8');
      expect(moved.body.equals(await file('vod/hi/index.m3u8'))).to.equal(true);
    });

    it('status, slow-headers, nocl, set-cookie, echo-headers, 404 and path traversal', async () => {
      expect((await get(origin.url, '/status/503')).status).to.equal(503);
      const slow = await get(origin.url, '/slow-headers/50/vod/master.m3u8');
      expect(slow.body.equals(await file('vod/master.m3u8'))).to.equal(true);
      const nocl = await get(origin.url, '/nocl/vod/master.m3u8');
      expect([nocl.headers['content-length'], nocl.headers['transfer-encoding']]).to.deep.equal([undefined, 'chunked']);
      expect((await get(origin.url, '/set-cookie/vod/master.m3u8')).headers['set-cookie']).to.have.length(1);
      const echo = await get(origin.url, '/echo-headers', { 'X-Probe': 'yes' });
      expect((JSON.parse(echo.body.toString()) as Record<string, string>)['x-probe']).to.equal('yes');
      expect((await get(origin.url, '/nope.m3u8')).status).to.equal(404);
      expect((await get(origin.url, '/vod/%2e%2e/%2e%2e/%2e%2e/etc/passwd')).status).to.equal(404);
      expect(origin.countRequests(/^\/status\//)).to.equal(1);
    });

    it('/stall/ sends half the body then stalls; closing the client frees the socket', async () => {
      const half = Math.floor(fx.bigFileSize / 2);
      let received = 0;
      const req = http.get(`${origin.url}/stall/${fx.paths.bigFile}`, { agent: false }, (res) => {
        expect(res.headers['content-length']).to.equal(String(fx.bigFileSize));
        res.on('data', (c: Buffer) => { received += c.length; });
        res.on('error', () => undefined);
      });
      req.on('error', () => undefined);
      await waitFor('half the body', () => received === half);
      expect(origin.activeResponses()).to.equal(1);
      req.destroy();
      await waitFor('socket close', () => origin.openSockets() === 0 && origin.activeResponses() === 0);
      expect(origin.log[0]?.aborted).to.equal(true);
    });

    it('/hang never answers; close() tears the socket down', async () => {
      const o2 = await startOrigin({ root: fx.root });
      const outcome = new Promise<string>((resolve) => {
        http.get(`${o2.url}/hang`, { agent: false }, () => resolve('response')).on('error', (e) => resolve(e.message));
      });
      await o2.waitForRequest('/hang');
      expect(o2.openSockets()).to.equal(1);
      await o2.close();
      expect(await outcome).to.equal('socket hang up');
    });
  });

  describe('nginx', () => {
    const confs: Array<[string, string]> = [
      ['a location snippet', 'location / { proxy_pass __UPSTREAM__; }'],
      ['a server block with {{PORT}}', 'server {\n  listen 127.0.0.1:{{PORT}};\n  location / { proxy_pass {{UPSTREAM}}; }\n}'],
      ['a server block without listen', 'server {\n  location / { proxy_pass __UPSTREAM__; }\n}'],
    ];
    for (const [name, conf] of confs) it(`proxies to the origin with ${name}`, async () => {
      const nginx = await startNginx({ conf, vars: { UPSTREAM: origin.url } });
      try {
        const r = await get(nginx.url, '/vod/master.m3u8');
        expect(r.status).to.equal(200);
        expect(r.body.equals(await file('vod/master.m3u8'))).to.equal(true);
        expect(origin.countRequests('/vod/master.m3u8')).to.equal(1);
      } finally {
        await nginx.close();
      }
    });

    it('nginx -t accepts a valid config and rejects an unknown directive', async () => {
      expect((await nginxTestConf('location / { return 204; }')).ok).to.equal(true);
      const bad = await nginxTestConf('location / { no_such_directive on; }');
      expect(bad.ok).to.equal(false);
      expect(bad.output).to.match(/unknown directive "no_such_directive"/);
    });
  });

  describe('live stream', () => {
    it('slides its window (media sequence advances) and plays through the origin', async () => {
      const live = await startLiveStream();
      const liveOrigin = await startOrigin({ root: live.root });
      try {
        const first = await live.mediaSequence();
        expect(await live.readPlaylist()).to.not.match(/#EXT-X-ENDLIST/);
        expect(await live.waitForMediaSequenceAbove(first)).to.be.greaterThan(first);
        const play = await ffmpegPlay(`${liveOrigin.url}/${live.playlistPath}`, { live: true, durationSeconds: 1 });
        expect(play.problems).to.deep.equal([]);
        expect(play.ok).to.equal(true);
      } finally {
        await liveOrigin.close();
        await live.stop();
      }
    });
  });

  describe('processes and netns', () => {
    it('the watchdog kills a managed child when its parent is SIGKILLed', async () => {
      const script = "import('./test/support/processes.ts').then((m) => { console.log(m.spawnManaged('sleep', ['60']).pid); setInterval(() => {}, 1000); });";
      const parent = spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
      const pid = await new Promise<number>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
      const alive = async (): Promise<boolean> => !/\) [ZX] /.test(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ') X '));
      expect(await alive()).to.equal(true);
      parent.kill('SIGKILL');
      const end = Date.now() + 5000;
      while ((await alive()) && Date.now() < end) await delay(50);
      expect(await alive()).to.equal(false);
    });

    it('runInLoopbackNetns: only lo exists, loopback works, other destinations have no route', async function () {
      if (!canUnshareNet()) this.skip();
      const links = await runInLoopbackNetns('ip', ['-o', 'link']);
      expect(links.stdout.trim().split('\n').map((l) => l.split(':')[1]?.trim())).to.deep.equal(['lo']);
      // `ip route get` only consults the routing table; nothing is sent.
      expect((await runInLoopbackNetns('ip', ['route', 'get', '192.0.2.1'])).code).to.not.equal(0);
      const echo = "const s=require('net').createServer(c=>c.end('ok')).listen(0,'127.0.0.1',()=>require('net').connect(s.address().port,'127.0.0.1').on('data',d=>{console.log(String(d));process.exit(0)}))";
      const r = await runInLoopbackNetns(process.execPath, ['-e', echo]);
      expect([r.code, r.stdout.trim()]).to.deep.equal([0, 'ok']);
    });
  });
  it('proc-usage: counts this process\'s TCP sockets to one address:port (not the listener, not others), and its RSS', async () => {
    const server = net.createServer((s) => s.on('error', () => undefined)).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as net.AddressInfo).port;
    expect(await socketsTo(process.pid, '127.0.0.1', port)).to.equal(0);
    const clients = await Promise.all([1, 2, 3].map(() => new Promise<net.Socket>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => resolve(c));
    })));
    // The server's accepted ends are local port `port`, remote elsewhere: only the three clients count.
    expect(await socketsTo(process.pid, '127.0.0.1', port)).to.equal(3);
    expect(await socketsTo(process.pid, '127.0.0.2', port)).to.equal(0);
    for (const c of clients) c.destroy();
    server.close();
    const rss = await rssMiB(process.pid);
    expect(rss).to.be.greaterThan(10).and.lessThan(4096);
    expect(await rssMiB(2 ** 22 + 12345)).to.be.NaN;
  });
});
