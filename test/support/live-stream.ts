/**
 * A real live HLS stream: ffmpeg -re encodes test video in real time and keeps a sliding-window media
 * playlist (RFC 8216 §6.2.2: segments are removed from the start as new ones are appended, and
 * EXT-X-MEDIA-SEQUENCE advances; no EXT-X-ENDLIST). Serve `root` with startOrigin to put it on HTTP.
 *
 * temp_file makes ffmpeg write playlist and segments to *.tmp and rename(2) them, so a reader never sees a
 * half-written playlist. The process is registered (processes.ts), capped at maxSeconds of output as a last
 * resort, and stop() is idempotent.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { removeOnExit, spawnManaged, type ManagedProcess } from './processes.js';

export interface LiveStreamOptions {
  /** Root directory to write into (created if missing); default: a fresh temp dir. */
  dir?: string;
  /** EXT-X-TARGETDURATION / -hls_time. Default 1. */
  segmentSeconds?: number;
  /** Segments kept in the playlist window. Default 5. */
  listSize?: number;
  /** Resolve once the playlist lists this many segments. Default 3. */
  minSegments?: number;
  /** ffmpeg stops by itself after this much output, so an orphan cannot run forever. Default 600. */
  maxSeconds?: number;
  startTimeoutMs?: number;
}

export interface LiveStream {
  root: string;
  /** Relative to root, e.g. 'live/index.m3u8'. */
  playlistPath: string;
  targetDuration: number;
  process: ManagedProcess;
  /** Current playlist text (read from disk). */
  readPlaylist(): Promise<string>;
  /** Current EXT-X-MEDIA-SEQUENCE (RFC 8216 §4.3.3.2; 0 when absent). */
  mediaSequence(): Promise<number>;
  /** Resolves once EXT-X-MEDIA-SEQUENCE exceeds `than`. */
  waitForMediaSequenceAbove(than: number, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

export function playlistMediaSequence(text: string): number {
  const m = /^#EXT-X-MEDIA-SEQUENCE:(\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

export function playlistSegmentCount(text: string): number {
  return text.split('\n').filter((l) => l.startsWith('#EXTINF:')).length;
}

export async function startLiveStream(dirOrOpts?: string | LiveStreamOptions): Promise<LiveStream> {
  const opts: LiveStreamOptions = typeof dirOrOpts === 'string' ? { dir: dirOrOpts } : (dirOrOpts ?? {});
  const ownsRoot = opts.dir === undefined;
  const root = opts.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'hls-sidecar-live-')));
  const liveDir = path.join(root, 'live');
  await mkdir(liveDir, { recursive: true });
  const seg = opts.segmentSeconds ?? 1;
  const fps = 25;
  const playlistPath = 'live/index.m3u8';
  const playlistFile = path.join(root, playlistPath);

  const args = [
    '-nostdin', '-hide_banner', '-v', 'error',
    '-re', '-f', 'lavfi', '-i', `testsrc2=size=192x108:rate=${fps}`,
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=44100',
    '-t', String(opts.maxSeconds ?? 600),
    // A keyframe at every segment boundary so each segment lasts exactly segmentSeconds.
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-g', String(fps * seg), '-keyint_min', String(fps * seg), '-sc_threshold', '0', '-b:v', '150k',
    '-c:a', 'aac', '-b:a', '48k', '-ac', '2',
    '-f', 'hls', '-hls_time', String(seg), '-hls_list_size', String(opts.listSize ?? 5),
    '-hls_flags', 'delete_segments+omit_endlist+temp_file',
    '-hls_segment_filename', path.join(liveDir, 'seg%05d.ts'),
    playlistFile,
  ];
  const proc = spawnManaged('ffmpeg', args, { captureLimit: 64 * 1024 });
  const readPlaylist = (): Promise<string> => readFile(playlistFile, 'utf8');
  const mediaSequence = async (): Promise<number> => playlistMediaSequence(await readPlaylist());

  const ownedDir = ownsRoot ? root : liveDir;
  const forget = removeOnExit(ownedDir);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await proc.stop({ signal: 'SIGTERM', graceMs: 2000 });
    await rm(ownedDir, { recursive: true, force: true });
    forget();
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
  const want = opts.minSegments ?? 3;
  let targetDuration = seg;
  for (;;) {
    const text = await readPlaylist().catch(() => '');
    if (playlistSegmentCount(text) >= want) {
      targetDuration = Number(/^#EXT-X-TARGETDURATION:(\d+)/m.exec(text)?.[1] ?? seg);
      break;
    }
    if (!proc.isRunning() || Date.now() > deadline) {
      const why = proc.isRunning() ? 'timed out' : `ffmpeg exited: ${proc.stderr().trim()}`;
      await stop();
      throw new Error(`startLiveStream: ${why} before ${want} segments were listed`);
    }
    await delay(100);
  }

  return {
    root,
    playlistPath,
    targetDuration,
    process: proc,
    readPlaylist,
    mediaSequence,
    async waitForMediaSequenceAbove(than, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const n = await mediaSequence().catch(() => -1);
        if (n > than) return n;
        if (Date.now() > end || !proc.isRunning()) throw new Error(`live stream: media sequence stayed <= ${than}`);
        await delay(100);
      }
    },
    stop,
  };
}
