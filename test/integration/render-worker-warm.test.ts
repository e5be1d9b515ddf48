/**
 * The render worker is started and warmed at start-up (src/routes/render-pool.ts#warm, called by listen(),
 * which opens the port only once the warm-up is over: issue #16 §3, server.ts#WARM_WAIT_MS), so the first big
 * playlist after start-up is rewritten on a thread that is already running and compiled; and closing
 * the server ends that thread, so the process can exit. Speed is the bench's business
 * (bench/cold-big-playlist.ts): nothing here depends on elapsed time.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { decodeTarget } from '../../src/url-codec.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { hlsdUrl, startProxy, startProxyProcess } from '../support/proxy.js';
import { waitFor } from '../support/wait-for.js';

const SEGMENTS = 30_000; // ~1 MB upstream: well over the 256 KiB above which the worker rewrites

function vodPlaylist(segments = SEGMENTS): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:4', '#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-MAP:URI="init.mp4"'];
  for (let i = 0; i < segments; i++) lines.push('#EXTINF:4.000,', `seg${String(i).padStart(6, '0')}.m4s?token=a~b%2F`);
  lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/** Every URI line of a rewritten playlist decoded back to the upstream URL it stands for. */
function upstreamUris(text: string, publicBase: string): string[] {
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      expect(l.startsWith(`${publicBase}/`), l).to.equal(true);
      return decodeTarget(l.slice(publicBase.length + 1), { maxTokenLength: 8192 }).url;
    });
}

describe('render worker: warm at start-up, ended at close', function () {
  this.timeout(60_000);
  let origin: Origin;
  let root: string;
  const body = vodPlaylist();
  // ~9 MB rewritten: more than a socket that is not read takes in (its buffers stay small), so the end of
  // the response is still waiting in the proxy while other playlists are rewritten.
  const HELD_SEGMENTS = 100_000;
  const heldBody = vodPlaylist(HELD_SEGMENTS);

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'hls-sidecar-warm-'));
    origin = await startOrigin({ root });
    origin.override(/^\/vod\/(index|held)\.m3u8/, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' });
      res.end(req.url!.startsWith('/vod/held') ? heldBody : body);
    });
  });
  after(async () => {
    await origin?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('the worker is running and warm right after listen(); the first big playlist is rewritten on it, correctly', async () => {
    const proxy = await startProxy();
    try {
      const worker = proxy.app.renderWorker;
      expect(worker.running(), 'worker started by listen()').to.equal(true);
      // Not awaited: the port opened after the warm-up (a worker through tsx takes 0.4-0.8 s to get there).
      expect(worker.warm(), 'sample playlist rewritten before the port opened').to.equal(true);
      expect(await worker.warmed).to.equal(true);
      expect(worker.jobs()).to.equal(0);

      const upstream = `${origin.url}/vod/index.m3u8`;
      const res = await request(hlsdUrl(proxy.url, upstream));
      const text = await res.body.text();
      expect(res.statusCode).to.equal(200);
      expect(res.headers['x-hls-sidecar-cache']).to.equal('MISS');
      expect(Number(res.headers['content-length'])).to.equal(Buffer.byteLength(text));
      expect(worker.jobs(), 'rewritten by the worker, not the main thread').to.equal(1);
      const uris = upstreamUris(text, proxy.url);
      expect(uris).to.have.length(SEGMENTS);
      expect(uris[0]).to.equal(`${origin.url}/vod/seg000000.m4s?token=a~b%2F`);
      expect(uris.at(-1)).to.equal(`${origin.url}/vod/seg${String(SEGMENTS - 1).padStart(6, '0')}.m4s?token=a~b%2F`);
      const map = /#EXT-X-MAP:URI="([^"]+)"/.exec(text)![1]!;
      expect(decodeTarget(map.slice(proxy.url.length + 1), { maxTokenLength: 8192 }).url).to.equal(`${origin.url}/vod/init.mp4`);
      // Every line but the URIs is the upstream's, in order.
      const kept = (s: string) => s.split('\n').filter((l) => l.startsWith('#') && !l.startsWith('#EXT-X-MAP'));
      expect(kept(text)).to.deep.equal(kept(body));
    } finally {
      await proxy.close();
    }
    expect(proxy.app.renderWorker.running(), 'worker ended by close()').to.equal(false);
  });

  it('the memory of a result goes back to the worker only once sent: a response read slowly stays intact', async () => {
    // Every request below is a cold, first-time version, so each result is lent and then recycled: the
    // later ones are written into the memory of the earlier ones. A's response is held unread (its socket
    // backs up) while B-E are rewritten and sent; if A's memory had gone back early, A would come out garbled.
    const proxy = await startProxy();
    try {
      const url = (tag: string, name = 'index') => hlsdUrl(proxy.url, `${origin.url}/vod/${name}.m3u8?order=${tag}`);
      const held = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(url('a', 'held'), resolve).once('error', reject));
      held.pause();
      const texts: Record<string, string> = {};
      for (const tag of ['b', 'c']) texts[tag] = await (await request(url(tag))).body.text();
      await Promise.all(['d', 'e'].map(async (tag) => (texts[tag] = await (await request(url(tag))).body.text())));
      const head = await request(url('f'), { method: 'HEAD' });
      await head.body.dump();
      expect(head.statusCode).to.equal(200);
      const chunks: Buffer[] = [];
      held.on('data', (c: Buffer) => chunks.push(c));
      const ended = new Promise((r) => held.once('end', r));
      held.resume();
      // A bound on a hang, not a speed check: bytes lost from under a response leave its client waiting.
      const lost = new Promise((_r, reject) => setTimeout(() => reject(new Error('A never ended: part of its body was lost')), 20_000).unref());
      await Promise.race([ended, lost]);
      texts.a = Buffer.concat(chunks).toString();
      for (const [tag, text] of Object.entries(texts)) {
        const uris = upstreamUris(text, proxy.url);
        expect(uris, tag).to.have.length(tag === 'a' ? HELD_SEGMENTS : SEGMENTS);
        uris.forEach((u, i) => {
          if (u !== `${origin.url}/vod/seg${String(i).padStart(6, '0')}.m4s?token=a~b%2F`) expect.fail(`${tag}: URI ${i} is ${u}`);
        });
      }
      expect(proxy.app.renderWorker.jobs()).to.equal(6);
    } finally {
      await proxy.close();
    }
  });

  it('with hlsd hooks every rewrite stays on the main thread: no worker is started', async () => {
    const proxy = await startProxy({}, { hooks: { modify_m3u8_content: (text: string) => text } });
    try {
      expect(await proxy.app.renderWorker.warmed).to.equal(false);
      expect(proxy.app.renderWorker.warm()).to.equal(false);
      expect(proxy.app.renderWorker.running()).to.equal(false);
    } finally {
      await proxy.close();
    }
  });

  it('the CLI process: warm at start-up, serves a big playlist, and exits 0 on SIGTERM with the worker running', async () => {
    const proc = await startProxyProcess(['--log-level', 'debug', '--allow-upstream', `127.0.0.1:${origin.port}`]);
    try {
      const upstream = `${origin.url}/vod/index.m3u8?cli=1`;
      const res = await request(hlsdUrl(proc.url, upstream));
      const text = await res.body.text();
      expect(res.statusCode).to.equal(200);
      expect(upstreamUris(text, proc.url)).to.have.length(SEGMENTS);
      await waitFor('the warm-up logged', () => proc.output().includes('"msg":"render worker warm"'));
      expect(proc.output()).to.not.include('render worker unavailable');
    } finally {
      expect(await proc.stop('SIGTERM')).to.equal(0);
    }
  });
});
