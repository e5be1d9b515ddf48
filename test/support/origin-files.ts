/**
 * Static file responses for the test origin (origin.ts): content types, validators, conditional requests,
 * single byte ranges, optional content coding / chunking / stalling. Files are always streamed, never read
 * whole, so the 20 MB fixture costs no memory.
 */
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';

export interface ServeOptions {
  encoding?: 'gzip' | 'br' | 'deflate';
  chunked?: boolean;
  stall?: boolean;
  setCookie?: boolean;
}

export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.m3u8': 'application/vnd.apple.mpegurl', // RFC 8216 §4: the media type for playlists
  '.m3u': 'audio/mpegurl',
  '.ts': 'video/mp2t',
  '.m4s': 'video/mp4',
  '.mp4': 'video/mp4',
  '.m4a': 'audio/mp4',
  '.aac': 'audio/aac',
  '.vtt': 'text/vtt',
  '.key': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.json': 'application/json',
  '.html': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

function plain(res: ServerResponse, status: number, body: string, extra: OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

/** Root-confined absolute path for a URL path, or undefined when it escapes root or is malformed. */
function resolveInside(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const abs = path.resolve(root, `.${path.posix.normalize(`/${decoded}`)}`);
  const base = path.resolve(root);
  return abs === base || abs.startsWith(base + path.sep) ? abs : undefined;
}

/** RFC 9110 §8.8.3.2 weak comparison, used for If-None-Match. */
function etagListMatches(header: string, etag: string): boolean {
  const bare = (t: string): string => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() === '*' || bare(t) === bare(etag));
}

type RangeResult = { kind: 'none' } | { kind: 'unsatisfiable' } | { kind: 'range'; start: number; end: number };

/**
 * One byte range (RFC 9110 §14.1.2). Multiple ranges, other units and invalid specs yield 'none': a server
 * MAY ignore the Range header field (§14.2), and serving 200 keeps the origin simple and truthful.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'none' };
  if (m[1] === '') {
    const suffix = Number(m[2]);
    // §14.1.3: a suffix range of zero, or any range of an empty representation, is unsatisfiable.
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  // §14.1.1: "invalid if the last-pos value is present and less than the first-pos": ignore the field.
  if (m[2] !== '' && Number(m[2]) < start) return { kind: 'none' };
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = m[2] === '' ? size - 1 : Number(m[2]);
  return { kind: 'range', start, end: Math.min(end, size - 1) };
}

function validators(st: Stats): { etag: string; lastModified: string } {
  return {
    etag: `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
    lastModified: st.mtime.toUTCString(),
  };
}

/** RFC 9110 §13.1.2/§13.1.3: If-None-Match wins; If-Modified-Since only when it is absent. */
function notModified(req: IncomingMessage, st: Stats, etag: string): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) return etagListMatches(inm, etag);
  const ims = Date.parse(req.headers['if-modified-since'] ?? '');
  return !Number.isNaN(ims) && Math.floor(st.mtimeMs / 1000) * 1000 <= ims;
}

/** Stream a byte slice (inclusive end) into res, optionally through a compressor, optionally stalling halfway. */
async function sendBody(file: string, res: ServerResponse, start: number, end: number, opts: ServeOptions): Promise<void> {
  const length = end - start + 1;
  const stop = opts.stall ? start + Math.floor(length / 2) - 1 : end;
  const source = stop >= start ? createReadStream(file, { start, end: stop }) : Readable.from([]);
  const coder = opts.encoding === 'gzip' ? zlib.createGzip()
    : opts.encoding === 'br' ? zlib.createBrotliCompress()
      : opts.encoding === 'deflate' ? zlib.createDeflate() : undefined;
  if (!opts.stall) {
    await (coder ? pipeline(source, coder, res) : pipeline(source, res)).catch(() => undefined);
    return;
  }
  // Stall: deliver the first half, flush it through any compressor, then keep the response open forever.
  const sink = coder ?? res;
  if (coder) coder.on('data', (c: Buffer) => res.write(c));
  for await (const chunk of source) {
    if (res.destroyed) return;
    sink.write(chunk as Buffer);
  }
  coder?.flush();
  res.once('close', () => { source.destroy(); coder?.destroy(); });
}

export async function serveFile(root: string, urlPath: string, req: IncomingMessage, res: ServerResponse, opts: ServeOptions = {}): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
  const file = resolveInside(root, urlPath);
  const st = file === undefined ? undefined : await stat(file).catch(() => undefined);
  if (file === undefined || st === undefined || !st.isFile()) return plain(res, 404, 'not found\n');

  const { etag, lastModified } = validators(st);
  const headers: OutgoingHttpHeaders = {
    'Content-Type': CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
    ETag: etag,
    'Last-Modified': lastModified,
  };
  if (opts.setCookie) headers['Set-Cookie'] = 'origin_session=s3cr3t; Path=/; HttpOnly';
  if (notModified(req, st, etag)) {
    res.writeHead(304, { ETag: etag, 'Last-Modified': lastModified, ...(opts.setCookie ? { 'Set-Cookie': headers['Set-Cookie'] } : {}) });
    return void res.end();
  }

  let start = 0;
  let end = st.size - 1;
  let status = 200;
  if (opts.encoding) {
    headers['Content-Encoding'] = opts.encoding;
    headers.Vary = 'Accept-Encoding';
  } else {
    headers['Accept-Ranges'] = 'bytes';
    // §13.1.5 If-Range: a stale validator means "send the whole thing".
    const ifRange = req.headers['if-range'];
    const range = ifRange === undefined || ifRange === etag || ifRange === lastModified
      ? parseRange(req.headers.range, st.size) : { kind: 'none' as const };
    if (range.kind === 'unsatisfiable') return plain(res, 416, 'range not satisfiable\n', { 'Content-Range': `bytes */${st.size}` });
    if (range.kind === 'range') {
      ({ start, end } = range);
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
    }
    if (!opts.chunked) headers['Content-Length'] = end - start + 1;
  }
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || st.size === 0) return void res.end();
  await sendBody(file, res, start, end, opts);
}
