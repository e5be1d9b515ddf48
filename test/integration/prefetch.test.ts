import { expect } from 'chai';
import { setTimeout as delay } from 'node:timers/promises';
import { startLiveStream, type LiveStream } from '../support/live-stream.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { hlsdUrl, startProxy, type RunningProxy } from '../support/proxy.js';
import { waitFor } from '../support/wait-for.js';

/**
 * hlsd's --prefetch / --max-segments / --cache-timeout on a real live stream (ffmpeg -re, sliding window):
 * segments of watched live playlists are fetched once and served to every viewer from memory, the store
 * stays within its bounds, a failing segment never hangs a client, and nothing is fetched for a playlist
 * nobody asks for.
 */

function uris(text: string): string[] {
  return [...text.matchAll(/^(?!#)(\S+)$/gm)].map((m) => m[1]!);
}

interface Fetched {
  url: string;
  status: number;
  cache: string | null;
  bytes: Buffer;
}

/**
 * A player-like viewer: reloads the playlist, starts three segments from the end (RFC 8216 §6.3.3: "the client
 * SHOULD NOT choose a segment that starts less than three target durations from the end"), then follows with
 * each segment after the last one it fetched, never going back.
 */
async function watch(playlistUrl: string, ms: number): Promise<Fetched[]> {
  const got: Fetched[] = [];
  let last: string | undefined;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const res = await fetch(playlistUrl);
    const list = uris(await res.text());
    const next = last === undefined ? list.slice(-3) : list.slice(list.indexOf(last) + 1);
    for (const url of next) {
      last = url;
      const r = await fetch(url);
      got.push({ url, status: r.status, cache: r.headers.get('x-hls-sidecar-cache'), bytes: Buffer.from(await r.arrayBuffer()) });
    }
    await delay(300);
  }
  return got;
}

describe('prefetch: live segments fetched once, served from memory', function () {
  this.timeout(90_000);
  let live: LiveStream;
  let origin: Origin;

  before(async () => {
    live = await startLiveStream({ segmentSeconds: 1, listSize: 5, minSegments: 5 });
    origin = await startOrigin({ root: live.root });
  });
  after(async () => {
    await origin?.close();
    await live?.stop();
  });
  beforeEach(() => origin.clearLog());

  it('three viewers: every segment they get came from the prefetch store, and the origin saw each segment once', async () => {
    const proxy = await startProxy({ prefetch: true });
    try {
      const entry = hlsdUrl(proxy.url, `${origin.url}/${live.playlistPath}`);
      const viewers = await Promise.all([watch(entry, 5000), delay(700).then(() => watch(entry, 4300)), delay(1400).then(() => watch(entry, 3600))]);
      const all = viewers.flat();
      expect(all.length).to.be.greaterThan(6);
      for (const f of all) {
        expect(f.status, f.url).to.equal(200);
        expect(f.cache, f.url).to.match(/^PREFETCH(-WAIT)?$/);
      }
      // Same segment, same bytes, for everyone.
      const byUrl = new Map<string, Buffer>();
      for (const f of all) {
        const prev = byUrl.get(f.url);
        if (prev) expect(Buffer.compare(prev, f.bytes)).to.equal(0);
        else byUrl.set(f.url, f.bytes);
      }
      const segmentRequests = origin.log.filter((e) => e.path.endsWith('.ts'));
      const perPath = new Map<string, number>();
      for (const e of segmentRequests) perPath.set(e.path, (perPath.get(e.path) ?? 0) + 1);
      expect([...perPath.entries()].filter(([, n]) => n > 1), 'segments fetched more than once').to.deep.equal([]);
      expect(perPath.size).to.be.at.least(byUrl.size);
      const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
      expect(metrics).to.match(/hls_sidecar_prefetch_served_total\{result="(hit|wait)"\} [1-9]/);
    } finally {
      await proxy.close();
    }
  });

  it('nothing is prefetched for a playlist nobody requests any more', async () => {
    const proxy = await startProxy({ prefetch: true });
    try {
      const entry = hlsdUrl(proxy.url, `${origin.url}/${live.playlistPath}`);
      await watch(entry, 1500);
      await waitFor('prefetches to settle', () => proxy.app.prefetch!.stats().pending === 0, 15_000);
      const before = origin.log.length;
      const sequence = await live.mediaSequence();
      await live.waitForMediaSequenceAbove(sequence + 2);
      expect(origin.log.length).to.equal(before);
    } finally {
      await proxy.close();
    }
  });

  it('the store never exceeds --max-segments entries nor its byte bound', async () => {
    const maxBytes = 60_000;
    const proxy = await startProxy({ prefetch: true, 'max-segments': 3 }, { prefetchLimits: { maxBytes } });
    const samples: Array<{ entries: number; bytes: number }> = [];
    const sampler = setInterval(() => samples.push(proxy.app.prefetch!.stats()), 20);
    try {
      const entry = hlsdUrl(proxy.url, `${origin.url}/${live.playlistPath}`);
      const got = (await Promise.all([watch(entry, 4000), watch(entry, 4000)])).flat();
      for (const f of got) expect(f.status).to.equal(200);
      expect(samples.length).to.be.greaterThan(10);
      expect(Math.max(...samples.map((s) => s.entries))).to.be.at.most(3);
      expect(Math.max(...samples.map((s) => s.bytes))).to.be.at.most(maxBytes);
      expect(Math.max(...samples.map((s) => s.bytes))).to.be.greaterThan(0);
    } finally {
      clearInterval(sampler);
      await proxy.close();
    }
  });

  it('a failing or hanging upstream segment: the prefetch is dropped and the client gets an answer', async () => {
    const playlist = [
      '#EXTM3U', '#EXT-X-TARGETDURATION:1', '#EXT-X-MEDIA-SEQUENCE:1',
      '#EXTINF:1,', '/status/500/seg1.ts',
      '#EXTINF:1,', '/hang/seg2.ts',
      '#EXTINF:1,', '/stalling/seg3.ts',
      '',
    ].join('\n');
    const undoPlaylist = origin.override('/broken/index.m3u8', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' });
      res.end(playlist);
    });
    // Headers and a first chunk, then silence: the body never completes.
    const undoStall = origin.override('/stalling/seg3.ts', (_req, res) => {
      res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': '100000' });
      res.write(Buffer.alloc(1000));
    });
    const proxy = await startProxy({ prefetch: true, 'headers-timeout': 800, 'body-timeout': 800 });
    try {
      const text = await (await fetch(hlsdUrl(proxy.url, `${origin.url}/broken/index.m3u8`))).text();
      const [failing, hanging, stalling] = uris(text);
      const answers = await Promise.all([failing!, hanging!, stalling!].map(async (u) => {
        const r = await fetch(u);
        await r.arrayBuffer().catch(() => undefined); // a stalled body is cut off, not held open
        return r.status;
      }));
      expect(answers[0]).to.equal(502);
      expect(answers[1]).to.equal(504);
      expect(answers[2]).to.equal(200); // straight from upstream after the prefetch gave up, then cut off
      await waitFor('the prefetch store to empty', () => proxy.app.prefetch!.stats().entries === 0, 15_000);
      await waitFor('origin responses to end', () => origin.activeResponses() === 0, 15_000);
    } finally {
      undoPlaylist();
      undoStall();
      await proxy.close();
    }
  });
});
