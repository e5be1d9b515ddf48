/**
 * The HTTP/1.1 response side of the streaming client (h1-client.ts), as pure functions over bytes: the
 * head (status line and fields, RFC 9112 §4, §5), the body's framing (§6.3) and chunked decoding (§7.1).
 *
 * Strict where a lenient reading would let an upstream smuggle a second response or make two readers
 * disagree about where a body ends: a bare LF or CR, obs-fold, a field name that is not a token, control
 * characters in a value, Content-Length next to Transfer-Encoding, Content-Lengths that differ, and a
 * chunked coding that is not the last are all refused (llhttp, undici's parser, refuses them too). Anything
 * refused is an `H1ParseError`, which the client turns into a 502 (UPSTREAM_BAD_RESPONSE).
 */

export class H1ParseError extends Error {
  override readonly name = 'H1ParseError';
}

export interface ResponseHead {
  status: number;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minor: 0 | 1;
  /** Lower-cased names; a repeated field becomes an array, in order (as undici gives them). */
  headers: Record<string, string | string[]>;
}

const CR = 13;
const LF = 10;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Field values: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5); no other control character. */
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/;

/**
 * Index just past the CRLFCRLF that ends a head in buf[from, end), or -1. `from` may point a few bytes
 * before new data so a terminator split across reads is found.
 */
export function headEnd(buf: Uint8Array, from: number, end: number): number {
  for (let i = Math.max(from, 0); i + 3 < end; i++) {
    if (buf[i + 3] !== LF) continue;
    if (buf[i] === CR && buf[i + 1] === LF && buf[i + 2] === CR) return i + 4;
  }
  return -1;
}

/** Parses a head (everything before the blank line, the CRLFCRLF excluded), decoded as latin1. */
export function parseHead(text: string): ResponseHead {
  const lines = text.split('\r\n');
  const m = STATUS_LINE.exec(lines[0]!);
  if (!m) throw new H1ParseError('bad status line');
  const headers: Record<string, string | string[]> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new H1ParseError('bad header line');
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw new H1ParseError('bad header name');
    const value = line.slice(colon + 1).replace(/^[\t ]+|[\t ]+$/g, '');
    if (BAD_VALUE.test(value)) throw new H1ParseError('bad header value');
    const key = name.toLowerCase();
    const prev = headers[key];
    if (prev === undefined) headers[key] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else headers[key] = [prev, value];
  }
  return { status: Number(m[2]), minor: m[1] === '1' ? 1 : 0, headers };
}

export type Framing =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  /** Read until the upstream closes the connection (RFC 9112 §6.3 rule 8); never reusable. */
  | { kind: 'close' };

const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim().toLowerCase()).filter(Boolean);

/** How the body of a final (≥ 200) response is delimited (RFC 9112 §6.3). */
export function framingOf(head: ResponseHead, method: string): Framing {
  if (method === 'HEAD' || head.status === 204 || head.status === 304) return { kind: 'none' };
  const te = head.headers['transfer-encoding'];
  const cl = head.headers['content-length'];
  if (te !== undefined) {
    if (cl !== undefined) throw new H1ParseError('both Transfer-Encoding and Content-Length');
    const codings = list(te);
    const at = codings.indexOf('chunked');
    if (at === -1) return { kind: 'close' };
    if (at !== codings.length - 1) throw new H1ParseError('chunked is not the last transfer coding');
    return { kind: 'chunked' };
  }
  if (cl !== undefined) {
    const values = Array.isArray(cl) ? cl : [cl];
    const first = values[0]!;
    if (!/^\d{1,15}$/.test(first) || values.some((v) => v !== first)) throw new H1ParseError('bad Content-Length');
    return { kind: 'length', length: Number(first) };
  }
  return { kind: 'close' };
}

/**
 * Whether the connection may carry another request after this response (RFC 9112 §9.3), and for how long
 * the upstream says it keeps it open (`Keep-Alive: timeout=N`, a common extension undici reads too).
 */
export function keepAliveOf(head: ResponseHead): { reusable: boolean; timeoutMs: number | undefined } {
  const connection = list(head.headers.connection);
  const reusable = head.minor === 1 ? !connection.includes('close') : connection.includes('keep-alive');
  const ka = head.headers['keep-alive'];
  const t = /(?:^|[,;\s])timeout\s*=\s*(\d+)/i.exec(Array.isArray(ka) ? ka.join(',') : (ka ?? ''));
  return { reusable, timeoutMs: t ? Number(t[1]) * 1000 : undefined };
}

/** Longest chunk-size line (with extensions) and trailer section accepted. */
const MAX_LINE = 4096;
const MAX_TRAILERS = 16 * 1024;

const enum C {
  Size,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerLine,
  TrailerLf,
  Done,
}

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

/**
 * Incremental chunked decoder. `feed` hands each run of body bytes to `onData` as offsets into the buffer it
 * was given (no copy) and returns where the message ended in that buffer, or -1 while it has not.
 */
export class ChunkedDecoder {
  private state = C.Size;
  private size = 0;
  private digits = 0;
  private line = 0;
  private trailerBytes = 0;
  private lineEmpty = true;

  constructor(private readonly onData: (buf: Buffer, start: number, end: number) => void) {}

  get done(): boolean {
    return this.state === C.Done;
  }

  feed(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end) {
      switch (this.state) {
        case C.Data: {
          const take = Math.min(this.size, end - i);
          this.onData(buf, i, i + take);
          i += take;
          this.size -= take;
          if (this.size === 0) this.state = C.DataCr;
          continue;
        }
        case C.Size: {
          const c = buf[i]!;
          const h = hex(c);
          if (h >= 0) {
            if (++this.digits > 13) throw new H1ParseError('chunk size too large');
            this.size = this.size * 16 + h;
          } else if (this.digits === 0) {
            throw new H1ParseError('bad chunk size');
          } else if (c === CR) {
            this.state = C.SizeLf;
          } else if (c === 59 /* ; */ || c === 32 || c === 9) {
            this.state = C.Ext;
            this.line = this.digits;
          } else {
            throw new H1ParseError('bad chunk size');
          }
          i++;
          continue;
        }
        case C.Ext: {
          const c = buf[i]!;
          if (c === CR) this.state = C.SizeLf;
          else if ((c < 32 && c !== 9) || c === 127) throw new H1ParseError('bad chunk extension');
          else if (++this.line > MAX_LINE) throw new H1ParseError('chunk extension too long');
          i++;
          continue;
        }
        case C.SizeLf: {
          if (buf[i] !== LF) throw new H1ParseError('bad chunk size line');
          i++;
          this.digits = 0;
          if (this.size === 0) {
            this.state = C.TrailerLine;
            this.lineEmpty = true;
          } else {
            this.state = C.Data;
          }
          continue;
        }
        case C.DataCr: {
          if (buf[i] !== CR) throw new H1ParseError('chunk data not followed by CRLF');
          this.state = C.DataLf;
          i++;
          continue;
        }
        case C.DataLf: {
          if (buf[i] !== LF) throw new H1ParseError('chunk data not followed by CRLF');
          this.state = C.Size;
          this.size = 0;
          i++;
          continue;
        }
        case C.TrailerLine: {
          // Trailer fields are read and dropped (they are never forwarded); only their syntax matters here.
          const c = buf[i]!;
          if (c === CR) this.state = C.TrailerLf;
          else if ((c < 32 && c !== 9) || c === 127) throw new H1ParseError('bad trailer');
          else this.lineEmpty = false;
          if (++this.trailerBytes > MAX_TRAILERS) throw new H1ParseError('trailers too large');
          i++;
          continue;
        }
        case C.TrailerLf: {
          if (buf[i] !== LF) throw new H1ParseError('bad trailer line');
          i++;
          if (this.lineEmpty) {
            this.state = C.Done;
            return i;
          }
          this.state = C.TrailerLine;
          this.lineEmpty = true;
          continue;
        }
        case C.Done:
          return i;
      }
    }
    return this.state === C.Done ? i : -1;
  }
}
