import { isUtf8 } from 'node:buffer';
import { ProxyError } from './errors.js';

export { mergeQuery } from './url-query.js';

/**
 * Proxy tokens: the path segment that names an upstream resource (issue #2 §3, §4).
 *
 * Emitted form (URL-safe, RFC 3986 §2.3 unreserved characters only, so no proxy or IIS request filter
 * re-encodes or rejects it — IIS refuses a raw `+` in a path by default):
 *
 *     <payload>[.r<referer>][.v<vars>][.s<signature>].<ext>
 *
 *   payload    base64url without padding (RFC 4648 §5) of the UTF-8 bytes of `url`, or of `url|referer`.
 *              This is hlsd's meaning, only in the URL-safe alphabet.
 *   .r<b64>    only when `url` itself contains `|http` (any case), which hlsd would split on: then the payload
 *              is the bare url and the referer (possibly empty) travels here, so the url stays byte-exact.
 *   .v<b64>    imported variables (RFC 8216bis §4.4.2.3 EXT-X-DEFINE IMPORT): base64url of the JSON array
 *              `[[name, value], ...]` in insertion order. An array, not an object, so a variable named
 *              `__proto__` stays data.
 *   .s<sig>    the signature string from signing.ts ([A-Za-z0-9_-], carried as is, verified by the caller).
 *   .<ext>     lower-case extension, 0-10 letters/digits; always preceded by its dot (so an empty ext gives a
 *              trailing `.`), which keeps the last segment unambiguous.
 * Tags are single letters in this fixed order; nothing is ever put in the query, which belongs to the origin
 * (see mergeQuery).
 *
 * Accepted on input, in addition (hlsd compatibility, utils.js parse_req_url):
 *   - standard base64 with `+`, `/`, `=` (so the token may span several path segments), percent-encoded or not,
 *     `+` arriving as a space;
 *   - `<base64>_<ext>` (hlsd's other extension separator), when there is no `.` in the token;
 *   - decoded text that is not UTF-8 is read as Latin-1, as hlsd's `Buffer#toString('binary')` did;
 *   - surrounding whitespace in the decoded text (`echo url | base64` adds a newline) is trimmed, as hlsd did.
 */

export interface Target {
  url: string;
  /** Sent upstream as Referer (and Origin) — hlsd's `url|referer`. Empty means none. */
  referer?: string;
  /** Imported EXT-X-DEFINE variables for a Media Playlist fetched on its own. Empty means none. */
  vars?: Readonly<Record<string, string>>;
}

export interface DecodedTarget extends Target {
  /** Lower-case, '' if none. */
  ext: string;
  /** Raw, unverified: pass to Signer.verify. */
  signature?: string;
}

export type TargetKind = 'playlist' | 'segment' | 'key' | 'map' | 'steering' | 'asset-list' | 'session-data';

/** Whitespace (JS `\s`: Unicode spaces, CR, LF, TAB…) and C0/C1 controls: never valid in a URL (RFC 3986 §2). */
const FORBIDDEN_CHARS = /[\s\x00-\x1f\x7f-\x9f]/;
const HTTP_PREFIX = /^https?:\/\//i;
const PIPE_HTTP = /\|http/i;
const EXT_RE = /^[A-Za-z0-9]{0,10}$/;
const SIG_RE = /^[A-Za-z0-9_-]{1,200}$/;
const STD_B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const URL_B64 = /^[A-Za-z0-9_-]+={0,2}$/;

/** True when `url` can be carried by a token: absolute http(s), no whitespace or control characters. */
export function isProxiableUrl(url: string): boolean {
  return HTTP_PREFIX.test(url) && !FORBIDDEN_CHARS.test(url);
}

function bad(detail: string, cause?: unknown): ProxyError {
  return new ProxyError('BAD_TOKEN', { detail, cause });
}

const ASCII = /^[\x00-\x7f]*$/;

/**
 * base64url without padding. For ASCII text (nearly every URL) btoa + two replaceAll is about twice as fast
 * as a Buffer round trip; this runs once per URI of a rewritten playlist (100k times for a long VOD).
 * btoa encodes Latin-1 code units, which equal the UTF-8 bytes only for ASCII, hence the test.
 */
function b64(text: string): string {
  if (!ASCII.test(text)) return Buffer.from(text, 'utf8').toString('base64url');
  let out = btoa(text);
  if (out.includes('+')) out = out.replaceAll('+', '-');
  if (out.includes('/')) out = out.replaceAll('/', '_');
  const pad = out.indexOf('=');
  return pad === -1 ? out : out.slice(0, pad);
}

/**
 * Path to append after `<public base>/`. Throws ProxyError('BAD_TOKEN') for a target no token can carry
 * (see isProxiableUrl; the rewriter leaves such URIs alone, e.g. FairPlay `skd://`), so every emitted token
 * decodes back to exactly this url, referer and vars. Hot path: no URL parsing, two regex tests, one base64.
 * Strings are encoded as UTF-8; a lone surrogate (impossible in text decoded from bytes) would become U+FFFD.
 */
export function encodeTarget(target: Target, ext: string, signature?: string): string {
  const { url, referer, vars } = target;
  if (!isProxiableUrl(url)) throw bad('target url is not an absolute http(s) URL without control characters');
  if (!EXT_RE.test(ext)) throw bad('extension must be 0-10 letters or digits');
  const ambiguous = url.includes('|') && PIPE_HTTP.test(url);
  let token: string;
  if (referer) {
    if (!isProxiableUrl(referer)) throw bad('referer is not an absolute http(s) URL without control characters');
    token = ambiguous ? `${b64(url)}.r${b64(referer)}` : b64(`${url}|${referer}`);
  } else {
    token = ambiguous ? `${b64(url)}.r` : b64(url);
  }
  if (vars) {
    const entries = Object.entries(vars);
    if (entries.length) token += `.v${b64(JSON.stringify(entries))}`;
  }
  if (signature !== undefined) {
    if (!SIG_RE.test(signature)) throw bad('signature has characters outside [A-Za-z0-9_-]');
    token += `.s${signature}`;
  }
  return `${token}.${ext.toLowerCase()}`;
}

/** Base64 (either alphabet, not mixed) → bytes; strict about the alphabet and length, which Node is not. */
function decodeBase64(text: string): Buffer {
  if (!(STD_B64.test(text) || URL_B64.test(text))) throw bad('invalid base64');
  const padded = text.endsWith('=');
  if (padded ? text.length % 4 !== 0 : text.length % 4 === 1) throw bad('invalid base64 length');
  return Buffer.from(text, 'base64');
}

function decodeText(text: string): string {
  const bytes = decodeBase64(text);
  return isUtf8(bytes) ? bytes.toString('utf8') : bytes.toString('latin1');
}

function checkUrl(value: string, what: string): string {
  if (!isProxiableUrl(value)) throw bad(`${what} is not an absolute http(s) URL without control characters`);
  return value;
}

function decodeVars(text: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decodeBase64(text).toString('utf8'));
  } catch (err) {
    throw bad('invalid variables segment', err);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw bad('invalid variables segment');
  const vars: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const pair of parsed as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw bad('invalid variables segment');
    }
    vars[pair[0]] = pair[1];
  }
  return vars;
}

const TAG_ORDER = 'rvs';

function assemble(payload: string, ext: string, middle: readonly string[]): DecodedTarget {
  let refererSeg: string | undefined;
  let varsSeg: string | undefined;
  let signature: string | undefined;
  let last = -1;
  for (const seg of middle) {
    const order = TAG_ORDER.indexOf(seg.charAt(0));
    if (seg === '' || order <= last) throw bad('unknown, repeated or misplaced token segment');
    last = order;
    const body = seg.slice(1);
    if (order === 0) refererSeg = body;
    else if (order === 1) varsSeg = body;
    else if (SIG_RE.test(body)) signature = body;
    else throw bad('invalid signature segment');
  }

  const text = decodeText(payload).trim();
  let url = text;
  let referer: string | undefined;
  if (refererSeg !== undefined) {
    // Emitted only for urls containing `|http`: the payload is the whole url, no split.
    if (refererSeg !== '') referer = checkUrl(decodeText(refererSeg), 'referer');
  } else {
    const split = PIPE_HTTP.exec(text);
    if (split) {
      url = text.slice(0, split.index).trim();
      referer = checkUrl(text.slice(split.index + 1), 'referer');
    }
  }
  const result: DecodedTarget = { url: checkUrl(url, 'url'), ext: ext.toLowerCase() };
  if (referer !== undefined) result.referer = referer;
  if (varsSeg !== undefined) result.vars = decodeVars(varsSeg);
  if (signature !== undefined) result.signature = signature;
  return result;
}

function decodeInner(tokenPath: string, maxTokenLength: number): DecodedTarget {
  if (tokenPath.length === 0) throw bad('empty token');
  if (tokenPath.length > maxTokenLength) throw bad('token too long');
  let s = tokenPath;
  if (s.includes('%')) {
    try {
      s = decodeURIComponent(s);
    } catch (err) {
      throw bad('invalid percent-encoding', err);
    }
  }
  // hlsd: a `+` that went through form decoding arrives as a space.
  if (s.includes(' ')) s = s.replaceAll(' ', '+');
  const parts = s.split('.');
  if (parts.length === 1) {
    // hlsd's `<base64>_<ext>`: standard base64 never contains `_`, so the first `_` ends it. A base64url
    // payload may contain `_` too, so that reading is tried first and kept only when it yields a URL.
    const u = s.indexOf('_');
    if (u > 0) {
      const head = s.slice(0, u);
      const ext = s.slice(u + 1);
      if (STD_B64.test(head) && EXT_RE.test(ext) && ext !== '') {
        try {
          return assemble(head, ext, []);
        } catch {
          // fall through: read the whole thing as base64url
        }
      }
    }
    return assemble(s, '', []);
  }
  const ext = parts[parts.length - 1]!;
  if (!EXT_RE.test(ext)) throw bad('invalid extension');
  return assemble(parts[0]!, ext, parts.slice(1, -1));
}

/**
 * tokenPath = the request path after the prefix and its '/', WITHOUT the query.
 * Throws ProxyError('BAD_TOKEN') — and nothing else — for anything that is not a token for an http(s) URL.
 */
export function decodeTarget(tokenPath: string, opts: { maxTokenLength: number }): DecodedTarget {
  try {
    return decodeInner(String(tokenPath), opts.maxTokenLength);
  } catch (err) {
    if (err instanceof ProxyError) throw err;
    throw bad('undecodable token', err);
  }
}

/** Cheap pre-check for splitPrefix: does `rest` plausibly start with base64 of "http"? */
function mayStartWithHttp(rest: string): boolean {
  const head = rest.slice(0, 8);
  if (head.length < 8 || /[^A-Za-z0-9+/_-]/.test(head)) return true; // let the full decoder judge
  const text = Buffer.from(head, 'base64').toString('latin1').trimStart();
  return text.length < 4 || text.slice(0, 4).toLowerCase() === 'http';
}

/**
 * No prefix configured or forwarded: find where the token starts in a path, hlsd-style
 * (`/hls-proxy/<token>.m3u8` → prefix '/hls-proxy'). Standard base64 contains '/', so the token may span
 * segments: the leftmost split whose remainder decodes to an http(s) URL wins. A prefix segment cannot be
 * mistaken for a token start unless it is base64 of "http…" itself.
 */
export function splitPrefix(pathname: string): { prefix: string; tokenPath: string; target: DecodedTarget } | undefined {
  const q = pathname.search(/[?#]/);
  const path = q === -1 ? pathname : pathname.slice(0, q);
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const rest = path.slice(i + 1);
    if (rest === '' || !mayStartWithHttp(rest)) continue;
    try {
      // The decoded target is returned too: the router would otherwise decode the token a second time.
      const target = decodeTarget(rest, { maxTokenLength: Number.POSITIVE_INFINITY });
      return { prefix: path.slice(0, i), tokenPath: rest, target };
    } catch {
      // not here; try the next '/'
    }
  }
  return undefined;
}

const DEFAULT_EXT: Record<Exclude<TargetKind, 'playlist'>, string> = {
  segment: 'ts',
  key: 'key',
  map: 'mp4',
  steering: 'json',
  'asset-list': 'json',
  'session-data': 'json',
};

/** Lower-case extension of the last path segment of an absolute URL (1-10 letters/digits), or ''. */
export function pathExtension(url: string): string {
  const scheme = url.indexOf('://');
  const authority = scheme === -1 ? 0 : scheme + 3;
  const q = url.indexOf('?', authority);
  const h = url.indexOf('#', authority);
  const end = q === -1 ? (h === -1 ? url.length : h) : h === -1 ? q : Math.min(q, h);
  const slash = url.lastIndexOf('/', end - 1);
  if (slash < authority) return ''; // no path, e.g. `http://host.ts?x`
  const dot = url.lastIndexOf('.', end);
  if (dot <= slash || end - dot - 1 < 1 || end - dot - 1 > 10) return '';
  const ext = url.slice(dot + 1, end);
  return /^[A-Za-z0-9]+$/.test(ext) ? ext.toLowerCase() : '';
}

/**
 * Extension to emit. Players and CDNs pick handling by extension (hlsd exists partly because some players
 * insist on `.m3u8`), so: playlists get `opts.manifestExtension` ('m3u8' by default). Anything else keeps
 * `opts.segmentExtension` for segments and init sections when set — hlsd's `--segment-extension` replaces the
 * extension of every URL of its 'ts' type (EXT-X-MAP/PART/PRELOAD-HINT included), and drop-in users rely on
 * that — else the upstream path's own extension when it has a meaningful one (except a playlist extension,
 * which would make a segment look like a playlist), else a default per kind. No URL parsing: called once
 * per rewritten URI.
 */
export function extensionFor(
  url: string,
  kind: TargetKind,
  opts: { manifestExtension: string; segmentExtension?: string | undefined },
): string {
  if (kind === 'playlist') return opts.manifestExtension || 'm3u8';
  if (opts.segmentExtension && (kind === 'segment' || kind === 'map')) return opts.segmentExtension;
  const own = pathExtension(url);
  if (own && own !== 'm3u8' && own !== 'm3u' && own !== opts.manifestExtension) return own;
  return DEFAULT_EXT[kind];
}
