/**
 * The origin's document root for the bench: the ffmpeg-made fixtures (test/support/hls-fixtures.ts, linked
 * in), the large playlists of the conformance corpus (linked in, so their LICENSE files stay beside them),
 * generated playlists of known sizes, and `live/`, where startLiveStream writes its sliding window.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { getFixtures, type Fixtures } from '../test/support/hls-fixtures.js';

/** Paths relative to the content root, as requested from the origin. */
export const CONTENT = {
  master: 'gen/master.m3u8',
  small: 'gen/media-10.m3u8',
  media900: 'gen/media-900.m3u8',
  vod100k: 'gen/vod-100k.m3u8',
  live: 'live/index.m3u8',
} as const;

export interface CorpusPlaylist {
  /** Path relative to the content root. */
  path: string;
  bytes: number;
  segments: number;
}

export interface Content {
  root: string;
  fixtures: Fixtures;
  /** Large playlists taken from test/fixtures/conformance (>= 16 KiB), largest first. */
  corpus: CorpusPlaylist[];
  sizes: Record<keyof typeof CONTENT, number | undefined>;
}

const CORPUS_MIN_BYTES = 16 * 1024;

/** RFC 8216 §4.3.3.1/§4.3.3.4: a VOD media playlist of `n` 4-second segments, closed by EXT-X-ENDLIST. */
export function mediaPlaylist(n: number, opts: { endlist: boolean; prefix?: string } = { endlist: true }): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:4', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD'];
  const width = Math.max(5, String(n).length);
  for (let i = 0; i < n; i++) {
    lines.push('#EXTINF:4.000,', `${opts.prefix ?? ''}seg${String(i).padStart(width, '0')}.ts`);
  }
  if (opts.endlist) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/** RFC 8216 §4.3.4.1/§4.3.4.2: six video variants sharing one audio rendition group (two languages). */
export function masterPlaylist(): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:4', '#EXT-X-INDEPENDENT-SEGMENTS'];
  lines.push('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="audio/en/media-10.m3u8"');
  lines.push('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Deutsch",LANGUAGE="de",DEFAULT=NO,AUTOSELECT=YES,URI="audio/de/media-10.m3u8"');
  const ladder: Array<[number, string]> = [[6_000_000, '1920x1080'], [4_000_000, '1280x720'], [2_500_000, '960x540'],
    [1_200_000, '640x360'], [700_000, '480x270'], [300_000, '320x180']];
  for (const [bw, res] of ladder) {
    lines.push(`#EXT-X-STREAM-INF:BANDWIDTH=${bw},AVERAGE-BANDWIDTH=${Math.round(bw * 0.8)},RESOLUTION=${res},CODECS="avc1.64001f,mp4a.40.2",AUDIO="aud"`);
    lines.push(`v${bw}/media-10.m3u8`);
  }
  return `${lines.join('\n')}\n`;
}

async function linkCorpus(root: string, corpusDir: string): Promise<CorpusPlaylist[]> {
  const out: CorpusPlaylist[] = [];
  if (!existsSync(corpusDir)) return out;
  await mkdir(path.join(root, 'corpus'));
  for (const dir of await readdir(corpusDir)) {
    const abs = path.join(corpusDir, dir);
    if (!(await stat(abs)).isDirectory()) continue;
    await symlink(abs, path.join(root, 'corpus', dir));
    for (const file of await readdir(abs)) {
      if (!file.endsWith('.m3u8')) continue;
      const st = await stat(path.join(abs, file));
      if (st.size < CORPUS_MIN_BYTES) continue;
      const text = await readFile(path.join(abs, file), 'utf8');
      out.push({ path: `corpus/${dir}/${file}`, bytes: st.size, segments: text.split('\n').filter((l) => l.startsWith('#EXTINF')).length });
    }
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

/** Builds the document root in a fresh temp dir; the caller removes it. */
export async function buildContent(corpusDir: string): Promise<Content> {
  const fixtures = await getFixtures();
  const root = await mkdtemp(path.join(os.tmpdir(), 'hls-sidecar-bench-'));
  // nginx follows symlinks by default (disable_symlinks off), so the fixture tree is served without a copy.
  for (const entry of await readdir(fixtures.root)) {
    if (!entry.startsWith('.')) await symlink(path.join(fixtures.root, entry), path.join(root, entry));
  }
  await mkdir(path.join(root, 'gen'));
  await mkdir(path.join(root, 'live'));
  const files: Array<[string, string]> = [
    [CONTENT.master, masterPlaylist()],
    [CONTENT.small, mediaPlaylist(10)],
    [CONTENT.media900, mediaPlaylist(900)],
    [CONTENT.vod100k, mediaPlaylist(100_000)],
  ];
  const sizes: Content['sizes'] = { master: undefined, small: undefined, media900: undefined, vod100k: undefined, live: undefined };
  for (const [rel, text] of files) {
    await writeFile(path.join(root, rel), text);
    const key = (Object.keys(CONTENT) as Array<keyof typeof CONTENT>).find((k) => CONTENT[k] === rel)!;
    sizes[key] = Buffer.byteLength(text);
  }
  return { root, fixtures, corpus: await linkCorpus(root, corpusDir), sizes };
}
