import http, { type ServerResponse } from 'node:http';
import net, { type LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ProxyError } from '../errors.js';
import { ChunkedDecoder, H1ParseError, framingOf, headEnd, keepAliveOf, parseHead, type Framing } from './h1-parse.js';
import type { RequestAbort } from './request-abort.js';

/**
 * The upstream client for plain-http origins (issue #16): HTTP/1.1 over keep-alive sockets that read into
 * recycled buffers, so a streamed segment goes socket → buffer → client socket without a copy, an
 * allocation or a stream in between. undici (client.ts) still serves https, --http-proxy and anything this
 * client does not send (odd request headers): it copies every read into its WebAssembly parser's memory
 * and allocates a fresh 64 KiB buffer per read, which kept V8 running a full collection every few MB
 * streamed: with this client a 1.5 MB segment costs 0.8–0.9 ms of CPU instead of 2.6–3.7, less than nginx
 * proxy_pass's 1.1–1.2 (bench/segment-first-view.ts).
 *
 * What it keeps from undici: one pool per origin (at most `maxConnections`, LIFO reuse, `keepAliveMs` idle,
 * or less when the upstream's `Keep-Alive: timeout` says so), connect / headers / body timeouts (the body
 * timeout is the longest silence between reads, and does not run while the client's backpressure holds the
 * read), the pinned DNS lookup per origin, `host` from the origin, `connection: keep-alive`, and socket
 * options (no Nagle, TCP keep-alive after 60 s). A request on a reused socket that fails before any
 * response byte is retried once on a new one (RFC 9112 §9.3.1: GET and HEAD are idempotent).
 *
 * Body delivery, per response, chosen by the first consumer:
 *  - `H1Body.pipeTo(res)` (the stream route): bytes are written to the response straight from the read
 *    buffer; the buffer goes back to the pool when the response's write callback says the kernel has it;
 *    the read pauses while the response's buffered bytes exceed PAUSE_BYTES, and resumes on 'drain'.
 *  - the Readable API (playlists, the segment cache's copy, prefetch, peeking): chunks are pushed as
 *    views of buffers that are then left to the consumer (never recycled).
 *  - `dump()`: read and dropped (up to 128 KiB, so the connection can be reused), else the socket is closed.
 */

export interface H1ClientOptions {
  connectMs: number;
  headersMs: number;
  bodyMs: number;
  keepAliveMs: number;
  maxConnections: number;
  /** Pinned DNS lookup for an origin (`http://host[:port]`), as undici's Agent gets it (client.ts). */
  lookupFor?: ((origin: string) => LookupFunction) | undefined;
}

export interface H1Request {
  origin: string;
  hostname: string;
  port: number;
  path: string;
  method: 'GET' | 'HEAD';
  headers: Record<string, string>;
  signal?: AbortSignal | RequestAbort | null | undefined;
}

export interface H1Response {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: H1Body;
}

export interface H1Client {
  request(req: H1Request): Promise<H1Response>;
  close(): Promise<void>;
}

/** Size of a read: libuv's own read size for sockets, which the kernel fills in one go on a busy stream. */
const READ_BYTES = 64 * 1024;
/** Idle read buffers kept for reuse (4 MiB); more in flight than this are left to the GC when done. */
const POOL_MAX = 64;
/** The read pauses while the client's response holds more than this, unwritten (per stream). */
const PAUSE_BYTES = 64 * 1024;
/** dump(): bytes read and dropped to keep a connection; a longer body closes it instead. */
const DUMP_BYTES = 128 * 1024;
/** The upstream's Keep-Alive timeout, less this margin, bounds how long a socket stays idle (undici's 1 s). */
const KEEP_ALIVE_MARGIN_MS = 1000;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const VALUE_OK = /^[\t\x20-\x7e\x80-\xff]*$/;
const PATH_OK = /^[\x21-\xff]+$/;
/** Request headers undici treats specially (or refuses); a request with one goes through undici instead. */
const SPECIAL = new Set(['host', 'connection', 'keep-alive', 'upgrade', 'transfer-encoding', 'expect', 'content-length', 'te', 'trailer']);

/** Whether this client sends the request exactly as undici would; if not, the caller uses undici. */
export function canSend(path: string, headers: Record<string, string>): boolean {
  if (!PATH_OK.test(path)) return false;
  for (const name in headers) {
    if (!TOKEN.test(name) || SPECIAL.has(name.toLowerCase()) || !VALUE_OK.test(headers[name]!)) return false;
  }
  return true;
}

class BufferPool {
  private readonly free: Buffer[] = [];
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(READ_BYTES);
  }
  give(buf: Buffer): void {
    if (this.free.length < POOL_MAX) this.free.push(buf);
  }
}

const enum State {
  Waiting,
  Head,
  Body,
  Done,
}

const enum Mode {
  /** Nobody has asked for the body yet: the first bytes wait, the read is paused. */
  Undecided,
  Readable,
  Direct,
  Discard,
}

const aborted = (): ProxyError => new ProxyError('CLIENT_GONE', { detail: 'upstream request aborted' });
const cutShort = (): ProxyError => new ProxyError('UPSTREAM_UNREACHABLE', { detail: 'upstream closed the connection' });
/** What pipeline() rejects with when the response closes before it finished (the client went away). */
const prematureClose = (): Error => Object.assign(new Error('the response closed before it finished'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
const badResponse = (err: unknown): ProxyError => new ProxyError('UPSTREAM_BAD_RESPONSE', { cause: err, detail: (err as Error).message });

export function createH1Client(opts: H1ClientOptions): H1Client {
  const pool = new BufferPool();
  /** Reads of idle sockets land here: nothing is kept from them past the read callback. */
  const scratch = Buffer.allocUnsafeSlow(READ_BYTES);
  const origins = new Map<string, Origin>();
  let sweeper: NodeJS.Timeout | undefined;
  let closed = false;

  class Origin {
    readonly idle: Conn[] = [];
    readonly queue: Exchange[] = [];
    open = 0;
    readonly hostHeader: string;
    readonly lookup: LookupFunction | undefined;
    constructor(
      readonly key: string,
      readonly hostname: string,
      readonly port: number,
    ) {
      this.hostHeader = key.slice(key.indexOf('//') + 2);
      this.lookup = opts.lookupFor?.(key);
    }

    acquire(ex: Exchange): void {
      const now = Date.now();
      while (this.idle.length > 0) {
        const conn = this.idle.pop()!;
        if (conn.dead) continue;
        if (now - conn.idleSince >= conn.keepAliveMs) {
          conn.destroy();
          continue;
        }
        conn.start(ex);
        return;
      }
      if (this.open < opts.maxConnections) {
        new Conn(this).start(ex);
        return;
      }
      this.queue.push(ex);
    }

    release(conn: Conn): void {
      if (closed || conn.dead) return conn.destroy();
      const next = this.queue.shift();
      if (next) return conn.start(next);
      conn.idleSince = Date.now();
      this.idle.push(conn);
      sweeper ??= setInterval(sweep, 1000).unref();
    }

    /** A connection is gone: a queued request may now open one. */
    closedOne(conn: Conn): void {
      this.open--;
      const i = this.idle.indexOf(conn);
      if (i !== -1) this.idle.splice(i, 1);
      const next = this.queue.shift();
      if (next) this.acquire(next);
    }
  }

  function sweep(): void {
    const now = Date.now();
    let idle = 0;
    for (const [key, o] of origins) {
      for (const conn of [...o.idle]) if (now - conn.idleSince >= conn.keepAliveMs) conn.destroy();
      idle += o.idle.length;
      if (o.open === 0 && o.queue.length === 0) origins.delete(key);
    }
    if (idle === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }

  class Conn {
    readonly socket: net.Socket;
    ex: Exchange | null = null;
    idleSince = 0;
    keepAliveMs = opts.keepAliveMs;
    uses = 0;
    connected = false;
    dead = false;
    private connectTimer: NodeJS.Timeout | undefined;

    constructor(readonly origin: Origin) {
      origin.open++;
      this.socket = net.connect({
        host: origin.hostname,
        port: origin.port,
        ...(origin.lookup ? { lookup: origin.lookup } : {}),
        noDelay: true,
        keepAlive: true,
        keepAliveInitialDelay: 60_000,
        onread: { buffer: () => (this.ex === null ? scratch : pool.take()), callback: (n, buf) => this.onRead(n, buf as Buffer) },
      });
      this.connectTimer = setTimeout(() => this.fail(new ProxyError('UPSTREAM_CONNECT_TIMEOUT')), opts.connectMs);
      this.socket.once('connect', () => {
        clearTimeout(this.connectTimer);
        this.connected = true;
        this.ex?.sent();
      });
      this.socket.on('error', (err) => this.fail(err));
      this.socket.on('end', () => this.onEof());
      this.socket.on('close', () => this.onClose());
    }

    start(ex: Exchange): void {
      this.ex = ex;
      this.uses++;
      ex.conn = this;
      this.socket.write(ex.requestText, 'latin1');
      if (this.connected) ex.sent();
    }

    private onRead(n: number, buf: Buffer): boolean {
      const ex = this.ex;
      if (ex === null) {
        // Bytes nobody asked for: the upstream is out of step; the connection cannot be trusted again.
        if (buf !== scratch) pool.give(buf);
        this.destroy();
        return false;
      }
      if (buf === scratch) {
        // The first read after a request on an idle socket: keep nothing of the shared buffer.
        const own = pool.take();
        scratch.copy(own, 0, 0, n);
        buf = own;
      }
      return ex.onBytes(buf, n);
    }

    private onEof(): void {
      if (this.ex) this.ex.onEof();
      else this.destroy();
    }

    private onClose(): void {
      clearTimeout(this.connectTimer);
      if (!this.dead) {
        this.dead = true;
        this.origin.closedOne(this);
      }
      this.ex?.onConnFailed(cutShort(), this);
    }

    fail(err: unknown): void {
      const ex = this.ex;
      this.destroy();
      ex?.onConnFailed(err, this);
    }

    /** Back to the pool (or closed), the exchange on it finished. */
    done(reusable: boolean, keepAliveMs: number | undefined): void {
      this.ex = null;
      if (keepAliveMs !== undefined) this.keepAliveMs = Math.min(opts.keepAliveMs, Math.max(0, keepAliveMs - KEEP_ALIVE_MARGIN_MS));
      if (!reusable || this.keepAliveMs === 0) this.destroy();
      else this.origin.release(this);
    }

    destroy(): void {
      this.ex = null;
      if (!this.dead) {
        this.dead = true;
        clearTimeout(this.connectTimer);
        this.origin.closedOne(this);
      }
      this.socket.destroy();
    }
  }

  class Exchange {
    state = State.Waiting;
    mode = Mode.Undecided;
    conn: Conn | null = null;
    readonly requestText: string;
    private retried = false;
    private gotBytes = false;
    private headBuf: Buffer | null = null;
    private framing: Framing = { kind: 'none' };
    private remaining = 0;
    private decoder: ChunkedDecoder | null = null;
    private reusable = true;
    private keepAliveMs: number | undefined;
    private timer: NodeJS.Timeout | undefined;
    private lastRead = 0;
    private paused = false;
    body: H1Body | null = null;
    private resolveHead!: (res: H1Response) => void;
    private rejectHead!: (err: unknown) => void;
    readonly promise: Promise<H1Response>;
    /** Bytes of the read that completed the head, waiting for the body's consumer (Undecided). */
    private pending: Buffer | null = null;
    private pendingStart = 0;
    private pendingEnd = 0;
    // Direct mode.
    private res: ServerResponse | null = null;
    /** Write callbacks come in order: each entry is the buffer its write finished with, or null. */
    private readonly inflight: Array<Buffer | null> = [];
    private wrote = false;
    private ended = false;
    /** Why the exchange failed before anyone read the body (given to a later pipeTo). */
    private error: unknown = undefined;
    private resolvePipe: (() => void) | null = null;
    private rejectPipe: ((err: unknown) => void) | null = null;
    // Discard mode.
    private dumped = 0;
    private resolveDump: (() => void) | null = null;

    constructor(
      readonly origin: Origin,
      readonly method: 'GET' | 'HEAD',
      path: string,
      headers: Record<string, string>,
      private readonly signal: AbortSignal | RequestAbort | null | undefined,
    ) {
      let text = `${method} ${path} HTTP/1.1\r\nhost: ${origin.hostHeader}\r\nconnection: keep-alive\r\n`;
      for (const name in headers) text += `${name}: ${headers[name]}\r\n`;
      this.requestText = `${text}\r\n`;
      this.promise = new Promise<H1Response>((resolve, reject) => {
        this.resolveHead = resolve;
        this.rejectHead = reject;
      });
      if (signal) {
        if ('addEventListener' in signal) signal.addEventListener('abort', this.onAbort, { once: true });
        else signal.once('abort', this.onAbort);
      }
    }

    private readonly onAbort = (): void => this.fail(aborted());
    private readonly onTimer = (): void => this.checkTimer();
    private readonly onWritten = (err?: Error | null): void => {
      const buf = this.inflight.shift();
      if (buf && !err) pool.give(buf);
    };
    private readonly onDrain = (): void => this.resume();
    private readonly onResClose = (): void => {
      if (this.res!.writableFinished) return this.settlePipe();
      this.fail(prematureClose());
    };
    private readonly onResError = (err: Error): void => this.fail(err);

    /** The request is on the wire (or queued behind the connect): the headers timeout runs. */
    sent(): void {
      if (this.state !== State.Waiting) return;
      this.state = State.Head;
      this.lastRead = Date.now();
      clearTimeout(this.timer);
      this.timer = setTimeout(this.onTimer, opts.headersMs);
    }

    private checkTimer(): void {
      this.timer = undefined;
      if (this.state === State.Done) return;
      if (this.state !== State.Body) return this.fail(new ProxyError('UPSTREAM_HEADERS_TIMEOUT'));
      // A read held back by the client's pace is not the upstream stalling (undici's rule too).
      const quiet = this.paused ? 0 : Date.now() - this.lastRead;
      if (quiet >= opts.bodyMs) return this.fail(new ProxyError('UPSTREAM_BODY_TIMEOUT'));
      this.timer = setTimeout(this.onTimer, opts.bodyMs - quiet);
    }

    /** One read of `n` bytes into `buf` (a pool buffer this exchange now owns). Returns false to pause. */
    onBytes(buf: Buffer, n: number): boolean {
      this.gotBytes = true;
      this.lastRead = Date.now();
      let start = 0;
      if (this.state !== State.Body) {
        if (this.state !== State.Head) {
          pool.give(buf);
          return true;
        }
        try {
          start = this.readHead(buf, n);
        } catch (err) {
          pool.give(buf);
          this.fail(badResponse(err));
          return false;
        }
        if (start < 0) {
          pool.give(buf);
          return true;
        }
        if (this.framing.kind === 'none' || (this.framing.kind === 'length' && this.remaining === 0)) {
          if (start < n) this.reusable = false; // bytes after a body-less reply: out of step
          pool.give(buf);
          this.finish();
          return true;
        }
        if (this.mode === Mode.Undecided) {
          // Nobody reads the body yet: what came with the head waits, and so does the socket.
          if (start === n) pool.give(buf);
          else {
            this.pending = buf;
            this.pendingStart = start;
            this.pendingEnd = n;
          }
          this.paused = true;
          return false;
        }
      }
      if (this.deliver(buf, start, n) && this.state === State.Body) {
        this.paused = true;
        return false;
      }
      return true;
    }

    /** Parses head bytes; returns where the body starts in buf, or -1 while the head is incomplete. */
    private readHead(buf: Buffer, n: number): number {
      let from = 0;
      for (;;) {
        let end: number;
        let text: string;
        if (this.headBuf === null) {
          end = headEnd(buf, from, n);
          if (end === -1) {
            this.keepHead(buf.subarray(from, n));
            return -1;
          }
          text = buf.toString('latin1', from, end - 4);
        } else {
          const prior = this.headBuf.length;
          const joined = Buffer.concat([this.headBuf, buf.subarray(from, n)]);
          const at = headEnd(joined, prior - 3, joined.length);
          if (at === -1) {
            this.keepHead(buf.subarray(from, n), joined);
            return -1;
          }
          this.headBuf = null;
          text = joined.toString('latin1', 0, at - 4);
          end = from + at - prior;
        }
        if (text.length > http.maxHeaderSize) throw new H1ParseError('response head too large');
        const head = parseHead(text);
        if (head.status < 200) {
          // Informational (RFC 9110 §15.2): skipped; the final response follows. 101 was never asked for.
          if (head.status === 101) throw new H1ParseError('unexpected 101');
          from = end;
          if (from === n) return -1;
          continue;
        }
        this.onHead(head);
        return end;
      }
    }

    private keepHead(part: Buffer, joined?: Buffer): void {
      const all = joined ?? (this.headBuf ? Buffer.concat([this.headBuf, part]) : Buffer.from(part));
      if (all.length > http.maxHeaderSize) throw new H1ParseError('response head too large');
      this.headBuf = all;
    }

    private onHead(head: ReturnType<typeof parseHead>): void {
      this.framing = framingOf(head, this.method);
      const ka = keepAliveOf(head);
      this.reusable = ka.reusable && this.framing.kind !== 'close';
      this.keepAliveMs = ka.timeoutMs;
      this.body = new H1Body(this);
      this.state = State.Body;
      if (this.framing.kind === 'length') this.remaining = this.framing.length;
      else if (this.framing.kind === 'chunked') this.decoder = new ChunkedDecoder(this.emit);
      this.resolveHead({ statusCode: head.status, headers: head.headers, body: this.body });
      clearTimeout(this.timer);
      this.timer = setTimeout(this.onTimer, opts.bodyMs);
    }

    /** Body bytes buf[start, end): framed and handed on. Returns whether the consumer is full (pause). */
    private deliver(buf: Buffer, start: number, end: number): boolean {
      this.wrote = false;
      try {
        switch (this.framing.kind) {
          case 'length': {
            const take = Math.min(this.remaining, end - start);
            if (take > 0) this.emit(buf, start, start + take);
            this.remaining -= take;
            if (start + take < end) this.reusable = false; // more than Content-Length: out of step
            if (this.remaining === 0) this.finish();
            break;
          }
          case 'chunked': {
            const at = this.decoder!.feed(buf, start, end);
            if (at !== -1) {
              if (at < end) this.reusable = false;
              this.finish();
            }
            break;
          }
          default:
            this.emit(buf, start, end);
        }
      } catch (err) {
        this.fail(badResponse(err));
      }
      if (!this.wrote) pool.give(buf);
      else if (this.mode === Mode.Direct) this.inflight[this.inflight.length - 1] = buf; // the last write of this read returns it (callbacks run in order)
      // else Readable: the pushed views now belong to the consumer.
      if (this.state !== State.Body) return false;
      if (this.mode === Mode.Direct) return this.res!.writableLength > PAUSE_BYTES;
      if (this.mode === Mode.Readable) return this.body!.readableLength >= this.body!.readableHighWaterMark;
      return false;
    }

    private readonly emit = (buf: Buffer, start: number, end: number): void => {
      switch (this.mode) {
        case Mode.Direct:
          this.inflight.push(null);
          this.wrote = true;
          this.res!.write(buf.subarray(start, end), this.onWritten);
          return;
        case Mode.Readable:
          this.wrote = true;
          this.body!.push(buf.subarray(start, end));
          return;
        case Mode.Discard:
          this.dumped += end - start;
          if (this.dumped > DUMP_BYTES) {
            this.reusable = false;
            this.finish();
          }
          return;
        default:
          throw new Error('h1-client: body bytes before a consumer');
      }
    };

    private resume(): void {
      if (!this.paused || this.state !== State.Body) return;
      this.paused = false;
      this.lastRead = Date.now();
      this.conn?.socket.resume();
    }

    /** The consumer is chosen: the bytes that waited for it go first, then the read resumes. */
    private choose(mode: Mode): void {
      this.mode = mode;
      if (this.state === State.Done) return this.endConsumer(); // no body, or all of it came with the head
      const buf = this.pending;
      if (buf) {
        this.pending = null;
        if (this.deliver(buf, this.pendingStart, this.pendingEnd)) return; // full: stays paused until drained
      }
      this.resume();
    }

    readableWants(): void {
      if (this.mode === Mode.Undecided) return this.choose(Mode.Readable);
      if (this.mode === Mode.Readable) this.resume();
    }

    pipeTo(res: ServerResponse): Promise<void> {
      const body = this.body!;
      if (this.error) return Promise.reject(this.error);
      // Read through the Readable API before (a peek at the first bytes): what it holds is written first.
      const peeked = this.mode === Mode.Readable && this.state === State.Body && !body.destroyed && !body.readableFlowing;
      if (this.mode !== Mode.Undecided && !peeked) return pipeline(body, res);
      if (res.destroyed || res.writableEnded) {
        const err = prematureClose();
        this.fail(err);
        return Promise.reject(err);
      }
      return new Promise<void>((resolve, reject) => {
        this.res = res;
        this.resolvePipe = resolve;
        this.rejectPipe = reject;
        res.on('drain', this.onDrain);
        res.once('close', this.onResClose);
        res.on('error', this.onResError); // as pipeline() does: an error on the response fails the pipe
        if (!peeked) return this.choose(Mode.Direct);
        this.mode = Mode.Direct;
        for (let chunk = body.read() as Buffer | null; chunk !== null; chunk = body.read() as Buffer | null) res.write(chunk);
        if (res.writableLength <= PAUSE_BYTES) this.resume();
      });
    }

    dump(): Promise<void> {
      if (this.mode === Mode.Discard || this.state === State.Done) {
        this.mode = Mode.Discard;
        if (this.body && !this.body.destroyed) this.body.destroy();
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        this.resolveDump = resolve;
        if (this.mode === Mode.Undecided) return this.choose(Mode.Discard);
        this.mode = Mode.Discard;
        this.resume();
      });
    }

    private endConsumer(): void {
      if (this.ended) return;
      switch (this.mode) {
        case Mode.Readable:
          this.ended = true;
          this.body!.push(null);
          return;
        case Mode.Direct:
          this.ended = true;
          this.res!.end();
          return;
        case Mode.Discard:
          this.ended = true;
          if (!this.body!.destroyed) this.body!.destroy();
          this.resolveDump?.();
          return;
        default:
        // Undecided: told when it chooses (choose()).
      }
    }

    private finish(): void {
      if (this.state === State.Done) return;
      this.state = State.Done;
      this.cleanup();
      const conn = this.conn;
      this.conn = null;
      const wasPaused = this.paused;
      this.paused = false;
      if (conn) {
        conn.done(this.reusable, this.keepAliveMs);
        // A socket stopped for this body reads again, idle or for the next request on it (EOF is noticed).
        if (wasPaused && !conn.dead) conn.socket.resume();
      }
      this.endConsumer();
    }

    private cleanup(): void {
      clearTimeout(this.timer);
      const signal = this.signal;
      if (signal) {
        if ('removeEventListener' in signal) signal.removeEventListener('abort', this.onAbort);
        else signal.off('abort', this.onAbort);
      }
    }

    onEof(): void {
      if (this.state === State.Body && this.framing.kind === 'close') {
        this.reusable = false;
        this.finish();
      } else {
        this.onConnFailed(cutShort(), this.conn);
      }
    }

    onConnFailed(err: unknown, conn: Conn | null): void {
      if (this.state === State.Done || conn !== this.conn) return;
      if (this.state !== State.Body && !this.gotBytes && !this.retried && conn !== null && conn.uses > 1) {
        // A reused socket the upstream had already closed: once more on a new one.
        this.retried = true;
        this.conn = null;
        this.state = State.Waiting;
        clearTimeout(this.timer);
        this.origin.acquire(this);
        return;
      }
      this.fail(err);
    }

    /** Ends the exchange with an error: the socket is closed and whoever waits is told. */
    fail(err: unknown): void {
      if (this.state === State.Done) {
        if (this.res && this.rejectPipe) this.settlePipe(err);
        return;
      }
      const hadHead = this.state === State.Body;
      this.state = State.Done;
      this.cleanup();
      const conn = this.conn;
      this.conn = null;
      conn?.destroy();
      if (!conn) {
        const q = this.origin.queue.indexOf(this);
        if (q !== -1) this.origin.queue.splice(q, 1);
      }
      if (this.pending) {
        pool.give(this.pending);
        this.pending = null;
      }
      if (!hadHead) return this.rejectHead(err);
      switch (this.mode) {
        case Mode.Undecided:
          // Nobody listens for the body's 'error' yet: it is kept for whoever asks (pipeTo), and the
          // body closes without one (a Readable consumer then sees it end early).
          this.error = err;
          if (!this.body!.destroyed) this.body!.destroy();
          return;
        case Mode.Readable:
          if (!this.body!.destroyed) this.body!.destroy(err as Error);
          return;
        case Mode.Direct:
          this.settlePipe(err);
          return;
        case Mode.Discard:
          this.body!.destroy();
          this.resolveDump?.();
      }
    }

    private settlePipe(err?: unknown): void {
      const resolve = this.resolvePipe;
      const reject = this.rejectPipe;
      if (!resolve || !reject) return;
      this.resolvePipe = this.rejectPipe = null;
      const res = this.res!;
      res.off('drain', this.onDrain);
      res.off('close', this.onResClose);
      res.off('error', this.onResError);
      if (err) reject(err);
      else resolve();
    }

    /** The body's consumer destroyed it: an unfinished exchange cannot go on. */
    bodyDestroyed(err: Error | null): void {
      if (this.state !== State.Done) this.fail(err ?? aborted());
    }
  }

  return {
    request(req: H1Request): Promise<H1Response> {
      if (closed) return Promise.reject(new ProxyError('UPSTREAM_UNREACHABLE', { detail: 'client closed' }));
      if (req.signal?.aborted) return Promise.reject(aborted());
      let origin = origins.get(req.origin);
      if (!origin) {
        origin = new Origin(req.origin, req.hostname, req.port);
        origins.set(req.origin, origin);
      }
      const ex = new Exchange(origin, req.method, req.path, req.headers, req.signal);
      origin.acquire(ex);
      return ex.promise;
    },
    async close(): Promise<void> {
      closed = true;
      if (sweeper) clearInterval(sweeper);
      for (const o of origins.values()) {
        for (const conn of [...o.idle]) conn.destroy();
        for (const ex of o.queue.splice(0)) ex.fail(new ProxyError('UPSTREAM_UNREACHABLE', { detail: 'client closed' }));
      }
    },
  };
}

type ExchangeLike = {
  readableWants(): void;
  bodyDestroyed(err: Error | null): void;
  pipeTo(res: ServerResponse): Promise<void>;
  dump(): Promise<void>;
};

/** A response body from the h1 client: a Readable for any consumer, with a direct path to a response. */
export class H1Body extends Readable {
  constructor(private readonly ex: ExchangeLike) {
    super({ highWaterMark: READ_BYTES });
  }

  override _read(): void {
    this.ex.readableWants();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.ex.bodyDestroyed(err);
    callback(err);
  }

  /**
   * Writes the body to `res` and ends it, with backpressure, without a stream in between; settles as
   * `pipeline(body, res)` would: when `res` has finished, or with the upstream's error, or when `res`
   * closes first (the client went away; the upstream request is then aborted).
   */
  pipeTo(res: ServerResponse): Promise<void> {
    return this.ex.pipeTo(res);
  }

  /** Drops the body (the connection is kept when it is short); never rejects. */
  dump(): Promise<void> {
    return this.ex.dump();
  }
}
