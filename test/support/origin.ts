/**
 * A real HTTP origin for integration tests: node:http static files over a root directory (RFC 9110 ranges,
 * validators, conditional requests) plus path-prefix "test endpoints" that misbehave on purpose. Prefixes
 * compose left to right, e.g. /set-cookie/gzip/vod/master.m3u8 or /slow-headers/200/redirect/2/aes/index.m3u8:
 *
 *   /gzip/<p> /br/<p> /deflate/<p>  <p> with that Content-Encoding (no Content-Length, no ranges)
 *   /nocl/<p>                       <p> without Content-Length (chunked transfer coding)
 *   /stall/<p>                      headers (full Content-Length) and half the body, then silence forever
 *   /slow-headers/<ms>/<p>          waits <ms> before answering <p>
 *   /set-cookie/<p>                 <p> plus a Set-Cookie header
 *   /redirect/<n>/<p>               302 chain of n hops (path-absolute Location), then <p>
 *   /redirect-abs/<p>               302 with an absolute Location to /moved/<p>: relative URIs in <p> then
 *                                   resolve under /moved/ (RFC 3986 §5.1.3: base is the retrieval URI)
 *   /moved/<p>                      <p>
 *   /status/<code>[/...]            that status with a short text body
 *   /hang                           accepts the request, never sends headers
 *   /echo-headers                   the request headers as JSON
 * Anything else is a file under root. origin.override(path, handler) replaces any of this for one path.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { serveFile, type ServeOptions } from './origin-files.js';

export interface OriginLogEntry {
  method: string;
  /** Raw request target: path + query exactly as received. */
  path: string;
  headers: IncomingHttpHeaders;
  at: number;
  /** Set when the response was fully handed to the OS. */
  status?: number;
  finished: boolean;
  /** The connection closed before the response finished (client abort, or origin.close()). */
  aborted: boolean;
}

export interface OriginContext {
  root: string;
  url: string;
  /** Run the normal routing (test endpoints + files) for a path, e.g. to serve a file after counting. */
  serve(pathAndQuery: string): Promise<void>;
}

export type OriginHandler = (req: IncomingMessage, res: ServerResponse, ctx: OriginContext) => void | Promise<void>;
export type RequestPredicate = string | RegExp | ((entry: OriginLogEntry) => boolean);

export interface Origin {
  url: string;
  port: number;
  root: string;
  log: OriginLogEntry[];
  /** string: equal to the raw path or to its path part; RegExp: tested on the raw path. */
  countRequests(pred?: RequestPredicate): number;
  clearLog(): void;
  /** Custom response for one path (string: path part equality; RegExp: raw path). Returns an undo function. */
  override(path: string | RegExp, handler: OriginHandler): () => void;
  clearOverrides(): void;
  openSockets(): number;
  /** Responses started but neither finished nor aborted. */
  activeResponses(): number;
  /** Resolves with the first log entry matching pred (already logged or future). */
  waitForRequest(pred: RequestPredicate, timeoutMs?: number): Promise<OriginLogEntry>;
  close(): Promise<void>;
}

export interface OriginOptions {
  root: string;
  /** Address to listen on. Default 127.0.0.1; the container tests listen on the bridge gateway too. */
  host?: string;
}

function pathPart(raw: string): string {
  const q = raw.indexOf('?');
  return q === -1 ? raw : raw.slice(0, q);
}

function toMatcher(pred: RequestPredicate | undefined): (e: OriginLogEntry) => boolean {
  if (pred === undefined) return () => true;
  if (typeof pred === 'function') return pred;
  if (pred instanceof RegExp) return (e) => pred.test(e.path);
  return (e) => e.path === pred || pathPart(e.path) === pred;
}

function text(res: ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  const noBody = status === 204 || status === 304 || (status >= 100 && status < 200);
  res.writeHead(status, noBody ? headers : { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(noBody ? undefined : body);
}

export async function startOrigin(opts: OriginOptions): Promise<Origin> {
  const root = opts.root;
  const log: OriginLogEntry[] = [];
  const sockets = new Set<Socket>();
  const overrides: Array<{ match: string | RegExp; handler: OriginHandler }> = [];
  const waiters = new Set<{ match: (e: OriginLogEntry) => boolean; resolve: (e: OriginLogEntry) => void }>();
  const closing = new AbortController();
  let active = 0;
  let url = '';

  async function route(req: IncomingMessage, res: ServerResponse, raw: string): Promise<void> {
    const q = raw.indexOf('?');
    const query = q === -1 ? '' : raw.slice(q);
    const segs = pathPart(raw).split('/').slice(1);
    const serve: ServeOptions = {};
    let prefix = '';
    for (;;) {
      const head = segs[0] ?? '';
      const rest = (n: number): string => `/${segs.slice(n).join('/')}`;
      if (head === 'gzip' || head === 'br' || head === 'deflate') serve.encoding = head;
      else if (head === 'nocl') serve.chunked = true;
      else if (head === 'stall') serve.stall = true;
      else if (head === 'set-cookie') serve.setCookie = true;
      else if (head === 'moved') { /* same file, different base URI */ }
      else if (head === 'slow-headers') {
        await delay(Number(segs[1]), undefined, { signal: closing.signal }).catch(() => undefined);
        if (res.destroyed || closing.signal.aborted) return;
        prefix += `/${head}/${segs[1] ?? ''}`; // keep the delay on later redirect hops
        segs.splice(0, 2);
        continue;
      } else if (head === 'redirect') {
        const n = Number(segs[1]);
        const next = n > 1 ? `${prefix}/redirect/${n - 1}${rest(2)}` : `${prefix}${rest(2)}`;
        return text(res, 302, `see ${next}\n`, { Location: `${next}${query}` });
      } else if (head === 'redirect-abs') {
        return text(res, 302, 'moved\n', { Location: `${url}${prefix}/moved${rest(1)}${query}` });
      } else if (head === 'status') {
        const code = Number(segs[1]);
        return code >= 100 && code <= 599 ? text(res, code, `status ${code}\n`) : text(res, 400, 'bad status\n');
      } else if (head === 'hang') {
        return; // the socket stays open until the client gives up or close() destroys it
      } else if (head === 'echo-headers') {
        const body = JSON.stringify(req.headers);
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        return void res.end(body);
      } else {
        return serveFile(root, rest(0), req, res, serve);
      }
      prefix += `/${head}`;
      segs.shift();
    }
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const raw = req.url ?? '/';
    const entry: OriginLogEntry = { method: req.method ?? '', path: raw, headers: req.headers, at: Date.now(), finished: false, aborted: false };
    log.push(entry);
    for (const w of waiters) if (w.match(entry)) { waiters.delete(w); w.resolve(entry); }
    active++;
    res.once('finish', () => { entry.finished = true; entry.status = res.statusCode; });
    res.once('close', () => { active--; if (!entry.finished) entry.aborted = true; });
    const ctx: OriginContext = { root, url, serve: (p) => route(req, res, p) };
    const ov = overrides.find((o) => (typeof o.match === 'string' ? o.match === pathPart(raw) : o.match.test(raw)));
    const work = ov ? Promise.resolve().then(() => ov.handler(req, res, ctx)) : route(req, res, raw);
    work.catch((err: unknown) => {
      if (!res.headersSent) text(res, 500, `origin error: ${String(err)}\n`);
      else res.destroy();
    });
  }

  const server = http.createServer(onRequest);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, opts.host ?? '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('origin: no TCP address');
  url = `http://127.0.0.1:${address.port}`;

  return {
    url,
    port: address.port,
    root,
    log,
    countRequests: (pred) => log.filter(toMatcher(pred)).length,
    clearLog: () => { log.length = 0; },
    override(match, handler) {
      const entry = { match, handler };
      overrides.unshift(entry); // the latest override for a path wins
      return () => { const i = overrides.indexOf(entry); if (i !== -1) overrides.splice(i, 1); };
    },
    clearOverrides: () => { overrides.length = 0; },
    openSockets: () => sockets.size,
    activeResponses: () => active,
    waitForRequest(pred, timeoutMs = 10_000) {
      const match = toMatcher(pred);
      const seen = log.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { match, resolve: (e: OriginLogEntry) => { clearTimeout(timer); resolve(e); } };
        const timer = setTimeout(() => { waiters.delete(w); reject(new Error(`origin: no request matched within ${timeoutMs} ms`)); }, timeoutMs);
        waiters.add(w);
      });
    },
    async close() {
      closing.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
