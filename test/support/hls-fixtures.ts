/**
 * Real HLS fixtures, generated with ffmpeg at test time (nothing binary is committed). Generated once per
 * machine state into os.tmpdir()/hls-sidecar-fixtures-v<N>: bump FIXTURES_VERSION whenever the content
 * changes. Concurrent test processes are safe: each generates into its own temp dir and rename(2)s it into
 * place; rename onto an existing non-empty directory fails, so the first complete tree wins.
 *
 * One tiny encode (320x180, ultrafast, 6 s) feeds every packaging by stream copy, so a cold run costs
 * about a second of CPU.
 */
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile, open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCommand } from './processes.js';

export const FIXTURES_VERSION = 1;

/** Fixed so tests can decrypt or compare; RFC 8216 §5.2: AES-128 with a 16-octet key, IV given here. */
export const AES_KEY_HEX = '000102030405060708090a0b0c0d0e0f';
export const AES_IV_HEX = '0123456789abcdef0123456789abcdef';
export const BIG_SEGMENT_SIZE = 7979 * 188; // 1,500,052 bytes: whole 188-byte MPEG-TS packets
export const BIG_FILE_SIZE = 20 * 1024 * 1024;

export const FIXTURE_PATHS = {
  /** Multivariant playlist: two video variants + an EXT-X-MEDIA TYPE=AUDIO rendition (RFC 8216 §4.3.4.1). */
  vodMaster: 'vod/master.m3u8',
  vodVariants: ['vod/hi/index.m3u8', 'vod/lo/index.m3u8'],
  vodAudio: 'vod/audio/index.m3u8',
  vodFirstSegment: 'vod/hi/seg000.ts',
  /** fMP4 media playlist with EXT-X-MAP (RFC 8216 §4.3.2.5). */
  fmp4: 'fmp4/index.m3u8',
  fmp4Init: 'fmp4/init.mp4',
  /** EXT-X-KEY METHOD=AES-128 with a relative key URI (RFC 8216 §4.3.2.4). */
  aes: 'aes/index.m3u8',
  aesKey: 'aes/enc.key',
  /** Single media file addressed with EXT-X-BYTERANGE (RFC 8216 §4.3.2.2). */
  byterange: 'byterange/index.m3u8',
  byterangeMedia: 'byterange/all.ts',
  bigSegment: 'big/segment-1500k.ts',
  bigFile: 'big/file-20m.bin',
} as const;

export interface Fixtures {
  root: string;
  paths: typeof FIXTURE_PATHS;
  aesKeyHex: string;
  aesIvHex: string;
  bigSegmentSize: number;
  bigFileSize: number;
}

/** Byte at `offset` of big/file-20m.bin: a period-251 pattern, so any Range response can be verified. */
export function patternByte(offset: number): number {
  return offset % 251;
}

/** Expected bytes [start, endInclusive] of big/file-20m.bin. */
export function patternBytes(start: number, endInclusive: number): Buffer {
  const out = Buffer.allocUnsafe(endInclusive - start + 1);
  for (let i = 0; i < out.length; i++) out[i] = patternByte(start + i);
  return out;
}

const MARKER = '.complete';

export function fixturesDir(): string {
  return path.join(os.tmpdir(), `hls-sidecar-fixtures-v${FIXTURES_VERSION}`);
}

function describe(root: string): Fixtures {
  return {
    root, paths: FIXTURE_PATHS, aesKeyHex: AES_KEY_HEX, aesIvHex: AES_IV_HEX,
    bigSegmentSize: BIG_SEGMENT_SIZE, bigFileSize: BIG_FILE_SIZE,
  };
}

async function isComplete(root: string): Promise<boolean> {
  try {
    const marker = await readFile(path.join(root, MARKER), 'utf8');
    if (marker.trim() !== String(FIXTURES_VERSION)) return false;
    for (const p of [FIXTURE_PATHS.vodMaster, FIXTURE_PATHS.fmp4, FIXTURE_PATHS.aes, FIXTURE_PATHS.byterange]) {
      await stat(path.join(root, p));
    }
    return (await stat(path.join(root, FIXTURE_PATHS.bigFile))).size === BIG_FILE_SIZE;
  } catch {
    return false;
  }
}

async function ffmpeg(cwd: string, args: string[]): Promise<void> {
  const r = await runCommand('ffmpeg', ['-nostdin', '-hide_banner', '-v', 'error', '-y', ...args], { cwd, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed (${r.code ?? r.signal}): ${r.stderr.slice(-2000)}`);
}

const HLS_VOD = ['-f', 'hls', '-hls_time', '2', '-hls_playlist_type', 'vod'];

async function generate(dir: string): Promise<void> {
  for (const d of ['src', 'vod', 'fmp4', 'aes', 'byterange', 'big']) await mkdir(path.join(dir, d));
  const lavfi = ['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100'];
  // Keyframe every 2 s (50 frames) so every packaging cuts 2 s segments exactly.
  const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-keyint_min', '50', '-sc_threshold', '0', '-pix_fmt', 'yuv420p'];
  const aac = ['-c:a', 'aac', '-b:a', '64k', '-ac', '2'];

  // Multivariant VOD: two renditions of the video, audio as its own group (EXT-X-MEDIA TYPE=AUDIO).
  await ffmpeg(dir, [
    ...lavfi, '-t', '6',
    '-filter_complex', '[0:v]split=2[hi][lo0];[lo0]scale=192:108[lo]',
    '-map', '[hi]', '-map', '[lo]', '-map', '1:a', ...x264, '-b:v:0', '400k', '-b:v:1', '150k', ...aac,
    ...HLS_VOD, '-hls_segment_filename', 'vod/%v/seg%03d.ts', '-master_pl_name', 'master.m3u8',
    '-var_stream_map', 'v:0,agroup:aud,name:hi v:1,agroup:aud,name:lo a:0,agroup:aud,name:audio',
    'vod/%v/index.m3u8',
  ]);

  // One muxed source for the stream-copy packagings below.
  await ffmpeg(dir, [...lavfi, '-t', '6', ...x264, '-b:v', '400k', ...aac, 'src/source.mp4']);
  const copy = ['-i', 'src/source.mp4', '-map', '0', '-c', 'copy'];
  await ffmpeg(dir, [...copy, ...HLS_VOD, '-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', 'init.mp4',
    '-hls_segment_filename', 'fmp4/seg%03d.m4s', 'fmp4/index.m3u8']);

  await writeFile(path.join(dir, FIXTURE_PATHS.aesKey), Buffer.from(AES_KEY_HEX, 'hex'));
  // key info file: URI written into the playlist (relative), key file path, IV.
  await writeFile(path.join(dir, 'src/keyinfo'), `enc.key\n${path.join(dir, FIXTURE_PATHS.aesKey)}\n${AES_IV_HEX}\n`);
  await ffmpeg(dir, [...copy, ...HLS_VOD, '-hls_key_info_file', 'src/keyinfo',
    '-hls_segment_filename', 'aes/seg%03d.ts', 'aes/index.m3u8']);

  await ffmpeg(dir, [...copy, ...HLS_VOD, '-hls_flags', 'single_file',
    '-hls_segment_filename', 'byterange/all.ts', 'byterange/index.m3u8']);

  await makeBigSegment(dir, lavfi, x264);
  await makeBigFile(path.join(dir, FIXTURE_PATHS.bigFile));
  await rm(path.join(dir, 'src'), { recursive: true, force: true });
  await writeFile(path.join(dir, MARKER), `${FIXTURES_VERSION}\n`);
}

/** A real MPEG-TS stream (noisy video resists compression), cut or repeated to exactly BIG_SEGMENT_SIZE. */
async function makeBigSegment(dir: string, lavfi: string[], x264: string[]): Promise<void> {
  await ffmpeg(dir, [lavfi[0]!, lavfi[1]!, lavfi[2]!, lavfi[3]!, '-t', '1', '-vf', 'noise=alls=60:allf=t',
    ...x264, '-qp', '12', '-f', 'mpegts', 'src/big.ts']);
  let data = await readFile(path.join(dir, 'src/big.ts'));
  while (data.length < BIG_SEGMENT_SIZE) data = Buffer.concat([data, data]);
  await writeFile(path.join(dir, FIXTURE_PATHS.bigSegment), data.subarray(0, BIG_SEGMENT_SIZE));
}

async function makeBigFile(file: string): Promise<void> {
  const chunk = patternBytes(0, 251 * 4096 - 1); // whole periods, so chunks concatenate seamlessly
  const fh = await open(file, 'w');
  try {
    for (let written = 0; written < BIG_FILE_SIZE; written += chunk.length) {
      await fh.write(chunk, 0, Math.min(chunk.length, BIG_FILE_SIZE - written));
    }
  } finally {
    await fh.close();
  }
}

/**
 * rename(2) the finished tree into place. Only complete trees are ever renamed in, so when the target
 * exists it is either another process's finished tree (keep it) or damaged by hand (move it aside, retry).
 */
async function installTree(tmp: string, root: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await rename(tmp, root);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    }
    if (await isComplete(root)) return;
    const aside = `${root}.stale-${process.pid}-${Date.now()}`;
    await rename(root, aside).catch(() => undefined);
    await rm(aside, { recursive: true, force: true });
  }
}

async function ensure(): Promise<Fixtures> {
  const root = fixturesDir();
  if (await isComplete(root)) return describe(root);
  const tmp = await mkdtemp(`${root}.tmp-`);
  try {
    await generate(tmp);
    await installTree(tmp, root);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  if (!(await isComplete(root))) throw new Error(`hls fixtures at ${root} are incomplete after generation`);
  return describe(root);
}

// Memoised per process: suites share one generation.
let pending: Promise<Fixtures> | undefined;

/** The fixture tree; generates it on first use on this machine (cold: about a second on 2 cores). */
export function getFixtures(): Promise<Fixtures> {
  pending ??= ensure().catch((e: unknown) => {
    pending = undefined;
    throw e;
  });
  return pending;
}
