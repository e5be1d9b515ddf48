import type { RenderInput } from './rewrite-for-base.js';

/**
 * What the render worker rewrites once at start-up, before any viewer asks (render-pool.ts#warm): a
 * media playlist with the lines a big VOD playlist is made of, plus one of each kind that rewrite-bytes.ts
 * hands to the general rewriter (key, init section, a URI with a space, an absolute URI), so both paths are
 * loaded and compiled by V8's optimising tier before the first 100k-segment playlist arrives. Measured: the
 * first rewrite in a fresh thread took ~5 times as long as the later ones.
 */

/** Rounds of the byte path (render-worker.ts stops at the first optimised one): the first few run
 * unoptimised (5-20 ms each), the optimised ones ~1 ms. */
export const WARMUP_ROUNDS = { min: 4, max: 60 };

export function warmupInput(segments = 3000): RenderInput {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    '#EXT-X-TARGETDURATION:4',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-KEY:METHOD=AES-128,URI="key.bin"',
    '#EXT-X-MAP:URI="init.mp4"',
    // A line long enough to be copied by one native call (byte-writer.ts#copy) rather than byte by byte.
    `#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00.000Z ${'#'.repeat(80)}`,
  ];
  // Names of every length modulo 3 (base64's three tails), runs of one extension and changes of it, so
  // that no branch of the loops is first seen in a viewer's playlist (V8 throws optimised code away at a
  // branch it has not seen taken).
  const EXTS = ['ts', 'm4s', 'ts', 'aac', ''];
  for (let i = 0; i < segments; i++) {
    const ext = EXTS[Math.floor(i / 7) % EXTS.length]!;
    const name = `${'s'.repeat(1 + (i % 3))}eg${String(i).padStart(6, '0')}${ext ? `.${ext}` : ''}${i % 2 ? '?t=a~b' : ''}`;
    lines.push('#EXTINF:4.000,', i % 1000 === 1 ? `seg ${i}.ts` : i % 1000 === 2 ? `https://cdn.example/v/seg${i}.ts` : name);
  }
  lines.push('#EXT-X-ENDLIST');
  const url = 'http://warmup.invalid/vod/index.m3u8';
  return { version: '', body: `${lines.join('\r\n')}\r\n`, finalUrl: url, requestUrl: url, target: { url }, publicBase: 'http://warmup.invalid/hls-proxy' };
}
