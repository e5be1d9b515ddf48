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
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { readRepoFile as read, substitute } from '../support/deploy-kit.js';
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
      ['    server 127.0.0.1:8081 max_fails=3 fail_timeout=10s;\n', ''],
      ['    server 127.0.0.1:8082 max_fails=3 fail_timeout=10s;\n', ''],
      ['/var/cache/nginx-hls-sidecar', path.join(tmp, `cache-${fronts.length}`)],
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

    it('keeps segments out of the cache: Range still reaches the replica and comes back 206', async () => {
      const playlist = await get(master);
      const media = local(front, playlist.body.split('\n').find((l) => l.startsWith('http://'))!);
      const mediaText = (await get(media)).body;
      const segment = local(front, mediaText.split('\n').find((l) => l.startsWith('http://') && !l.includes('.m3u8'))!);
      const res = await request(segment, { headers: { host: 'media.example.com', range: 'bytes=10-109' } });
      expect(res.statusCode).to.equal(206);
      expect(res.headers['content-range']).to.match(/^bytes 10-109\/\d+$/);
      expect((await res.body.arrayBuffer()).byteLength).to.equal(100);
      await settle(segment);
      const twice = await request(segment, { headers: { host: 'media.example.com' } });
      await twice.body.dump();
      const once = await request(segment, { headers: { host: 'media.example.com' } });
      await once.body.dump();
      expect(once.headers['x-request-id'], 'segments are never copies').to.not.equal(twice.headers['x-request-id']);
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
});
