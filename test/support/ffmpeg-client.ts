/**
 * ffmpeg / ffprobe as real HLS clients: they fetch the multivariant playlist, every selected media playlist,
 * keys, init sections and segments exactly as a player would, so a run through the proxy proves the
 * rewritten playlists are playable end to end.
 *
 * ffmpeg's HLS demuxer only *warns* and skips when a segment fails to load, and still exits 0; callers should
 * therefore check `problems` (warning/error lines) and `progress.outTimeUs`, not only the exit code.
 */
import { runCommand } from './processes.js';

export interface PlayOptions {
  /** Extra request headers, sent on every HLS request ffmpeg makes (it forwards `headers` to nested opens). */
  headers?: Record<string, string>;
  userAgent?: string;
  /** Hard bound: ffmpeg is killed after this. Default 20 s. */
  timeoutMs?: number;
  /** Live: stop after `durationSeconds` of output (default 3) instead of at EXT-X-ENDLIST. */
  live?: boolean;
  durationSeconds?: number;
  /** Decode (catches wrong AES keys, corrupt media) instead of stream copy. Default false. */
  decode?: boolean;
  /** Map only the first video/audio streams instead of every variant (less traffic). Default false. */
  firstStreamsOnly?: boolean;
}

export interface PlayResult {
  code: number | null;
  stderr: string;
  timedOut: boolean;
  /** stderr lines that indicate a failed request or broken media. */
  problems: string[];
  /** From `-progress`: the last reported output position and frame count. */
  progress: { outTimeUs?: number; frames?: number };
  /** code === 0, not timed out, and no problem lines. */
  ok: boolean;
}

const PROBLEM = /fail|error|invalid|unable|not in allowed|denied|returned [45]\d\d|corrupt|missing|skipping|non-existing|could not/i;

function inputOptions(url: string, opts: { headers?: Record<string, string>; userAgent?: string }): string[] {
  const args = [
    // Proxied URIs need not end in .ts/.m3u8 (tokens); without this the demuxer refuses them.
    '-allowed_extensions', 'ALL',
    // Fail a stuck request instead of waiting forever (microseconds).
    '-rw_timeout', '10000000',
  ];
  const headers = Object.entries(opts.headers ?? {});
  if (headers.length > 0) args.push('-headers', headers.map(([k, v]) => `${k}: ${v}\r\n`).join(''));
  if (opts.userAgent !== undefined) args.push('-user_agent', opts.userAgent);
  args.push('-i', url);
  return args;
}

function parseProgress(stdout: string): PlayResult['progress'] {
  const out: PlayResult['progress'] = {};
  for (const line of stdout.split('\n')) {
    const [key, value] = line.split('=', 2);
    const n = Number(value);
    if (!Number.isFinite(n) || value === undefined || value.trim() === '') continue;
    if (key === 'out_time_us') out.outTimeUs = n;
    if (key === 'frame') out.frames = n;
  }
  return out;
}

/** Play an HLS URL with ffmpeg into the null muxer. Bounded by timeoutMs; never throws for ffmpeg failures. */
export async function ffmpegPlay(url: string, opts: PlayOptions = {}): Promise<PlayResult> {
  const args = ['-nostdin', '-hide_banner', '-v', 'warning', '-progress', 'pipe:1', '-nostats', ...inputOptions(url, opts)];
  args.push(...(opts.firstStreamsOnly ? ['-map', '0:v:0?', '-map', '0:a:0?'] : ['-map', '0']));
  if (!opts.decode) args.push('-c', 'copy');
  if (opts.live || opts.durationSeconds !== undefined) args.push('-t', String(opts.durationSeconds ?? 3));
  args.push('-f', 'null', '-');
  const r = await runCommand('ffmpeg', args, { timeoutMs: opts.timeoutMs ?? 20_000 });
  const problems = r.stderr.split('\n').filter((l) => l.trim() !== '' && PROBLEM.test(l));
  return {
    code: r.code,
    stderr: r.stderr,
    timedOut: r.timedOut,
    problems,
    progress: parseProgress(r.stdout),
    ok: r.code === 0 && !r.timedOut && problems.length === 0,
  };
}

export interface ProbeStream {
  index: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  tags?: Record<string, string>;
  [key: string]: unknown;
}

export interface ProbeResult {
  streams: ProbeStream[];
  /** HLS variants appear as programs (one per EXT-X-STREAM-INF). */
  programs: Array<{ program_id?: number; tags?: Record<string, string>; streams?: ProbeStream[] }>;
}

/** ffprobe's stream list for a URL; throws with ffprobe's stderr when probing fails. */
export async function ffprobeStreams(url: string, opts: { headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<ProbeResult> {
  const args = ['-hide_banner', '-v', 'error', '-of', 'json', '-show_streams', '-show_programs', ...inputOptions(url, opts)];
  const r = await runCommand('ffprobe', args, { timeoutMs: opts.timeoutMs ?? 20_000 });
  if (r.code !== 0 || r.timedOut) {
    throw new Error(`ffprobe ${url} failed (${r.timedOut ? 'timeout' : r.code ?? r.signal}): ${r.stderr.slice(-2000)}`);
  }
  const parsed = JSON.parse(r.stdout) as Partial<ProbeResult>;
  return { streams: parsed.streams ?? [], programs: parsed.programs ?? [] };
}
