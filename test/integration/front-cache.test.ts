/**
 * The playlist micro-cache of the shipped nginx templates (nginx/upstream.conf, nginx/hls-proxy-location.conf)
 * in front of real CLI replicas: what nginx may keep, for how long, and for whom.
 *
 * The proof of a copy: the location sends nginx's own $request_id as X-Request-Id, and the proxy echoes it.
 * Every request nginx passes on therefore comes back with a new id; a reply that repeats an earlier reply's
 * id is nginx's copy of it. nginx writes a copy at the second request for a URL (proxy_cache_min_uses 2),
 * so `settle` asks once before the request whose copy a test looks for.
 *
 * Templates are used as shipped except for the rows of the substitution tables (support/deploy-kit.ts).
 */
import { expect } from 'chai';
import type { IncomingHttpHeaders } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { cacheDirRows, readRepoFile as read, substitute } from '../support/deploy-kit.js';
import { getFixtures, type Fixtures } from '../support/hls-fixtures.js';
import { startNginx, type Nginx } from '../support/nginx.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { hlsdUrl, startProxyProcess, type ProxyProcess } from '../support/proxy.js';

interface Front {
  nginx: Nginx;
  replica: ProxyProcess;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  id: string;
  cacheControl: string;
  body: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('front micro-cache (nginx templates): playlists kept one second, for everyone with the URL, never longer than fresh', function () {
  this.timeout(60_000);
  let fixtures: Fixtures;
  let origin: Origin;
  let tmp: string;
  const fronts: Front[] = [];

  /** One replica with `args`, behind an nginx built from the shipped templates. */
  async function startFront(args: string[]): Promise<Front> {
    const replica = await startProxyProcess(['--allow-upstream', `127.0.0.1:${origin.port}`, '--log-level', 'warn', ...args]);
    const upstream = substitute(read('nginx/upstream.conf'), [
      ['server 127.0.0.1:8080 ', `server 127.0.0.1:${replica.port} `],
      ['    server 127.0.0.1:8081 max_fails=1 fail_timeout=2s;\n', ''],
      ['    server 127.0.0.1:8082 max_fails=1 fail_timeout=2s;\n', ''],
      ...cacheDirRows(path.join(tmp, `cache-${fronts.length}`)),
    ], 'upstream.conf');
    const nginx = await startNginx({ conf: `${upstream}\nserver {\n    listen 127.0.0.1:{{PORT}};\n${read('nginx/hls-proxy-location.conf')}\n}\n` });
    const front = { nginx, replica, close: async () => { await nginx.close(); await replica.stop(); } };
    fronts.push(front);
    return front;
  }

  /** A rewritten URL (http://media.example.com/hls-proxy/...) as the test reaches it: at the front's port. */
  const local = (front: Front, uri: string): string => uri.replace('http://media.example.com', front.nginx.url);

  /** The first request for a URL, which nginx only counts (proxy_cache_min_uses 2); its reply is checked too. */
  async function settle(url: string, headers: Record<string, string> = {}): Promise<Reply> {
    const seen = await get(url, headers);
    expect(seen.status, seen.body).to.be.oneOf([200, 401, 404]);
    return seen;
  }

  async function getBytes(url: string, headers: Record<string, string> = {}): Promise<{ status: number; id: string; headers: IncomingHttpHeaders; body: Buffer }> {
    const res = await request(url, { headers: { host: 'media.example.com', ...headers } });
    return { status: res.statusCode, id: String(res.headers['x-request-id']), headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  }

  async function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
    const res = await request(url, { headers: { host: 'media.example.com', ...headers } });
    return {
      status: res.statusCode,
      id: String(res.headers['x-request-id']),
      cacheControl: String(res.headers['cache-control'] ?? ''),
      body: await res.body.text(),
    };
  }

  before(async () => {
    fixtures = await getFixtures();
    origin = await startOrigin({ root: fixtures.root });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'hls-sidecar-front-cache-'));
  });
  after(async () => {
    await Promise.all(fronts.map((f) => f.close()));
    await origin?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  describe('an open proxy', function () {
    let front: Front;
    let master: string;
    before(async () => {
      front = await startFront([]);
      master = hlsdUrl(`${front.nginx.url}/hls-proxy`, `${origin.url}/${fixtures.paths.vodMaster}`);
    });

    it('writes a copy at the second request for a URL, serves it for about a second, then asks a replica again', async () => {
      const seen = await get(master);
      const first = await get(master);
      expect(first.id, 'the first request for a URL is only counted').to.not.equal(seen.id);
      const again = await get(master);
      expect(first.status, first.body).to.equal(200);
      expect(first.id).to.match(/^[0-9a-f]{32}$/, "nginx's $request_id, echoed by the proxy");
      expect(again.id, 'the second reply is the copy of the first').to.equal(first.id);
      expect(again.body).to.equal(first.body);
      // X-Accel-Expires: 1 keeps the copy until the end of the next whole second, so at most 2 s.
      await sleep(2_100);
      const later = await get(master);
      expect(later.id, 'expired after 2 s').to.not.equal(first.id);
      expect(later.body).to.equal(first.body);
    });

    it('keeps one copy per public host: a playlist rewritten for one host is never served to another', async () => {
      await settle(master, { host: 'a.example' });
      await settle(master, { host: 'b.example' });
      const a = await get(master, { host: 'a.example' });
      const b = await get(master, { host: 'b.example' });
      expect(b.id).to.not.equal(a.id);
      expect(a.body).to.include('http://a.example/hls-proxy/').and.not.include('b.example');
      expect(b.body).to.include('http://b.example/hls-proxy/').and.not.include('a.example');
    });

    it('does not keep a reply whose errors the client should see again (an upstream 404)', async () => {
      const missing = hlsdUrl(`${front.nginx.url}/hls-proxy`, `${origin.url}/no-such-playlist.m3u8`);
      await settle(missing);
      const first = await get(missing);
      const again = await get(missing);
      expect(first.status).to.equal(404);
      expect(again.id).to.not.equal(first.id);
    });
  });

  it('never keeps a playlist that stays fresh less than 2 s (its copy could outlive it)', async () => {
    const front = await startFront(['--cache-master-ttl', '1500']);
    const master = hlsdUrl(`${front.nginx.url}/hls-proxy`, `${origin.url}/${fixtures.paths.vodMaster}`);
    await settle(master);
    const first = await get(master);
    const again = await get(master);
    expect(first.status).to.equal(200);
    expect(first.cacheControl).to.match(/^max-age=[01]$/);
    expect(again.id).to.not.equal(first.id);
  });

  it('never keeps a reply let through by a password (private), but keeps the signed URLs inside it (public)', async () => {
    const front = await startFront(['--acl-pass', 'open-sesame']);
    const master = hlsdUrl(`${front.nginx.url}/hls-proxy`, `${origin.url}/${fixtures.paths.vodMaster}`);
    await settle(master, { 'x-hls-sidecar-password': 'open-sesame' });
    const withPassword = await get(master, { 'x-hls-sidecar-password': 'open-sesame' });
    expect(withPassword.status, withPassword.body).to.equal(200);
    expect(withPassword.cacheControl).to.match(/^private, max-age=\d+$/);
    const withoutPassword = await get(master);
    expect(withoutPassword.status, 'not served from a copy made for a viewer with the password').to.equal(401);
    // The variant URLs in the playlist carry the proxy's signature: anyone holding them may have them.
    const variant = local(front, withPassword.body.split('\n').find((l) => l.startsWith('http://'))!);
    await settle(variant);
    const signed = await get(variant);
    const signedAgain = await get(variant);
    expect(signed.status, signed.body).to.equal(200);
    expect(signed.cacheControl).to.match(/^max-age=\d+$/);
    expect(signedAgain.id).to.equal(signed.id);
  });

  describe('segments, keys and init sections', function () {
    let front: Front;
    let file: Buffer;
    const segmentPath = (): string => `/${fixtures.paths.vodFirstSegment}`;
    const url = (p: string, f: Front = front): string => hlsdUrl(`${f.nginx.url}/hls-proxy`, `${origin.url}${p}`, 'ts');
    // The replicas' own segment cache is off here, so what reaches the origin is nginx's doing alone
    // (the replicas' cache has its own tests: segment-cache.test.ts). Replies the replicas stream
    // themselves (--offload none): a copy shows by its repeated X-Request-Id. Offloaded replies get the
    // id of the request they answer, and their copies are tested in offload-nginx.test.ts (issue #16 §1).
    const NO_REPLICA_COPIES = ['--segment-cache-max-bytes', '0', '--offload', 'none'];
    before(async () => {
      front = await startFront(NO_REPLICA_COPIES);
      file = await readFile(path.join(fixtures.root, fixtures.paths.vodFirstSegment));
    });
    afterEach(() => origin.clearOverrides());

    /** A 188-byte-packet body the origin serves at `p` with `headers` (origin.override). */
    function serveAt(p: string, headers: Record<string, string>): void {
      const body = file.subarray(0, 188 * 20);
      origin.override(p, (_req, res) => {
        res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': String(body.length), ...headers });
        res.end(body);
      });
    }

    it('keeps a whole segment for everyone with its URL: copies from the second request on, bytes unchanged, the origin asked once per copy', async () => {
      const before = origin.countRequests(segmentPath());
      await settle(url(segmentPath()));
      const first = await getBytes(url(segmentPath()));
      const again = await getBytes(url(segmentPath()));
      expect(first.status).to.equal(200);
      expect(again.id, 'the third reply is the copy of the second').to.equal(first.id);
      expect(again.body.equals(file), 'the copy carries the origin bytes').to.equal(true);
      expect(first.headers['x-accel-expires'], 'nginx keeps the header to itself').to.equal(undefined);
      expect(origin.countRequests(segmentPath()) - before, 'settle and first reached the origin, the copy did not').to.equal(2);
    });

    it('passes Range around the cache: 206 with only the range, asked of the origin as a range, even when a copy exists', async () => {
      await settle(url(segmentPath()));
      const copy = (await getBytes(url(segmentPath()))).id;
      expect((await getBytes(url(segmentPath()))).id, 'a copy exists').to.equal(copy);
      const ranged = await getBytes(url(segmentPath()), { range: 'bytes=10-109' });
      expect(ranged.status).to.equal(206);
      expect(ranged.headers['content-range']).to.equal(`bytes 10-109/${file.length}`);
      expect(ranged.body.equals(file.subarray(10, 110))).to.equal(true);
      expect(ranged.id, 'not the copy').to.not.equal(copy);
      expect(origin.log.filter((e) => e.path === segmentPath()).at(-1)?.headers.range).to.equal('bytes=10-109');
    });

    it("counts ffmpeg's `Range: bytes=0-` as a whole-body request: it shares the copy, and the origin is asked for no range", async () => {
      const p = '/vod/hi/seg001.ts';
      const whole = { range: 'bytes=0-' };
      await settle(url(p), whole);
      const first = await getBytes(url(p), whole);
      const again = await getBytes(url(p), whole);
      expect(first.status).to.be.oneOf([200, 206]);
      expect(again.status).to.equal(206);
      expect(again.id, 'the copy').to.equal(first.id);
      expect(again.body.equals(await readFile(path.join(fixtures.root, p))), 'the whole body').to.equal(true);
      expect(origin.log.filter((e) => e.path === p).map((e) => e.headers.range)).to.deep.equal([undefined, undefined]);
    });

    it('keeps validators working: the origin answers 304 while nginx holds no copy, nginx itself once it does', async () => {
      const p = `/${fixtures.paths.fmp4Init}`;
      const first = await getBytes(url(p));
      const etag = String(first.headers.etag);
      const viaOrigin = await getBytes(url(p), { 'if-none-match': etag });
      expect(viaOrigin.status).to.equal(304);
      expect(origin.log.filter((e) => e.path === p).at(-1)?.headers['if-none-match'], 'the validator reached the origin').to.equal(etag);
      await settle(url(p));
      const copy = await getBytes(url(p));
      const count = origin.countRequests(p);
      const fromCopy = await getBytes(url(p), { 'if-none-match': etag });
      expect(fromCopy.status).to.equal(304);
      expect(origin.countRequests(p), 'answered from the copy').to.equal(count);
      expect(copy.status).to.equal(200);
    });

    it('keeps a copy only as long as the origin allows (max-age=1), and never one it keeps from shared caches (private, no-store)', async () => {
      serveAt('/custom/short.ts', { 'cache-control': 'max-age=1' });
      serveAt('/custom/private.ts', { 'cache-control': 'private, max-age=600' });
      serveAt('/custom/no-store.ts', { 'cache-control': 'no-store' });
      for (const p of ['/custom/private.ts', '/custom/no-store.ts']) {
        const ids = [];
        for (let i = 0; i < 3; i++) ids.push((await getBytes(url(p))).id);
        expect(new Set(ids).size, `${p}: every reply from a replica`).to.equal(3);
      }
      await settle(url('/custom/short.ts'));
      const first = await getBytes(url('/custom/short.ts'));
      expect((await getBytes(url('/custom/short.ts'))).id, 'kept').to.equal(first.id);
      await sleep(2_100);
      expect((await getBytes(url('/custom/short.ts'))).id, 'gone after the origin\'s second (the default would be 6 s)').to.not.equal(first.id);
    });

    it('passes HEAD on as HEAD: no whole segment is downloaded for it', async () => {
      const p = '/vod/lo/seg000.ts';
      const res = await request(url(p), { method: 'HEAD', headers: { host: 'media.example.com' } });
      await res.body.dump();
      expect(res.statusCode).to.equal(200);
      expect(origin.log.filter((e) => e.path === p).map((e) => e.method)).to.deep.equal(['HEAD']);
    });

    it('never keeps a segment let through by a password (private): a viewer without it gets 401, not the copy', async () => {
      const locked = await startFront(['--acl-pass', 'open-sesame', ...NO_REPLICA_COPIES]);
      const p = '/vod/lo/seg001.ts';
      const withPassword = { 'x-hls-sidecar-password': 'open-sesame' };
      const ids = [];
      for (let i = 0; i < 3; i++) {
        const r = await getBytes(url(p, locked), withPassword);
        expect(r.status).to.equal(200);
        expect(String(r.headers['cache-control'])).to.match(/^private\b/);
        ids.push(r.id);
      }
      expect(new Set(ids).size, 'every reply from a replica').to.equal(3);
      expect((await getBytes(url(p, locked))).status).to.equal(401);
    });
  });
});
