/**
 * RFC 3986 §5 reference resolution, byte-exact.
 *
 * Why not `new URL(ref, base)`: the WHATWG parser percent-encodes and normalises (it re-encodes `{`, `|`, spaces,
 * decodes `%2e` as a dot segment, lowercases hosts, adds a trailing `/`). Signed CDN query strings such as
 * `?token=abc~x%2F=` must reach the upstream exactly as the playlist wrote them, so this module only ever slices
 * and concatenates the input strings: nothing is encoded, decoded or case-folded.
 */

/** Components of a URI reference (RFC 3986 §3, split as in Appendix B). `undefined` means "not defined". */
interface Parts {
  scheme: string | undefined;
  authority: string | undefined;
  path: string;
  query: string | undefined;
  fragment: string | undefined;
}

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * Index of the ':' that ends a scheme at the start of `ref`, or -1.
 * RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). Stricter than Appendix B's `[^:/?#]+`, so
 * "1seg:2.ts" is a relative path rather than an absolute URI with scheme "1seg" (as browsers also treat it).
 * Stops at the first character that cannot be in a scheme, so it costs O(scheme length) even on a huge data: URI.
 */
export function schemeEnd(ref: string): number {
  const n = ref.length;
  if (n === 0 || !isAlpha(ref.charCodeAt(0))) return -1;
  for (let i = 1; i < n; i++) {
    const c = ref.charCodeAt(i);
    if (c === 58) return i;
    if (!(isAlpha(c) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46)) return -1;
  }
  return -1;
}

/** True when `ref` starts with an `http:` or `https:` scheme (schemes are case-insensitive, RFC 3986 §3.1). */
export function hasHttpScheme(ref: string, end: number = schemeEnd(ref)): boolean {
  if (end !== 4 && end !== 5) return false;
  const s = ref.slice(0, end).toLowerCase();
  return s === 'http' || s === 'https';
}

/** True when `url` is an absolute http(s) URL with an authority (`http://…`), the only thing the proxy fetches. */
export function isHttpUrl(url: string): boolean {
  const end = schemeEnd(url);
  return hasHttpScheme(url, end) && url.startsWith('//', end + 1);
}

function parse(ref: string): Parts {
  const se = schemeEnd(ref);
  const scheme = se === -1 ? undefined : ref.slice(0, se);
  let i = se + 1;
  const n = ref.length;
  const hash = ref.indexOf('#', i);
  const end = hash === -1 ? n : hash;
  const fragment = hash === -1 ? undefined : ref.slice(hash + 1);
  const q = ref.indexOf('?', i);
  const pathEnd = q !== -1 && q < end ? q : end;
  const query = pathEnd < end ? ref.slice(pathEnd + 1, end) : undefined;
  let authority: string | undefined;
  if (ref.startsWith('//', i) && i + 2 <= pathEnd) {
    let a = ref.indexOf('/', i + 2);
    if (a === -1 || a > pathEnd) a = pathEnd;
    authority = ref.slice(i + 2, a);
    i = a;
  }
  return { scheme, authority, path: ref.slice(i, pathEnd), query, fragment };
}

/** RFC 3986 §5.3 Component Recomposition. */
function recompose(t: Parts): string {
  let out = '';
  if (t.scheme !== undefined) out += t.scheme + ':';
  if (t.authority !== undefined) out += '//' + t.authority;
  out += t.path;
  if (t.query !== undefined) out += '?' + t.query;
  if (t.fragment !== undefined) out += '#' + t.fragment;
  return out;
}

/**
 * RFC 3986 §5.2.4 remove_dot_segments, written with an index instead of a shrinking input buffer so a
 * multi-megabyte path stays linear. Each output entry is one segment with its preceding "/" (if any), so
 * "remove the last segment and its preceding '/'" is a pop.
 */
export function removeDotSegments(path: string): string {
  if (path.indexOf('.') === -1) return path;
  const out: string[] = [];
  const n = path.length;
  let i = 0;
  while (i < n) {
    if (path.startsWith('../', i)) i += 3; // A
    else if (path.startsWith('./', i)) i += 2; // A
    else if (path.startsWith('/./', i)) i += 2; // B
    else if (i + 2 === n && path.startsWith('/.', i)) { out.push('/'); i = n; } // B, then E moves the "/"
    else if (path.startsWith('/../', i)) { i += 3; out.pop(); } // C
    else if (i + 3 === n && path.startsWith('/..', i)) { out.pop(); out.push('/'); i = n; } // C, then E
    else if ((i + 1 === n && path.charCodeAt(i) === 46) || (i + 2 === n && path.startsWith('..', i))) i = n; // D
    else { // E: move the first path segment (with its leading "/", if any) to the output
      let j = path.indexOf('/', path.charCodeAt(i) === 47 ? i + 1 : i);
      if (j === -1) j = n;
      out.push(path.slice(i, j));
      i = j;
    }
  }
  return out.join('');
}

/** RFC 3986 §5.2.3 Merge Paths. */
function merge(base: Parts, refPath: string): string {
  if (base.authority !== undefined && base.path === '') return '/' + refPath;
  return base.path.slice(0, base.path.lastIndexOf('/') + 1) + refPath;
}

/** RFC 3986 §5.2.2 Transform References, strict parser (a reference's own scheme is never ignored). */
function transform(base: Parts, ref: string): string {
  const r = parse(ref);
  const t: Parts = { scheme: base.scheme, authority: base.authority, path: '', query: r.query, fragment: r.fragment };
  if (r.scheme !== undefined) {
    t.scheme = r.scheme;
    t.authority = r.authority;
    t.path = removeDotSegments(r.path);
  } else if (r.authority !== undefined) {
    t.authority = r.authority;
    t.path = removeDotSegments(r.path);
  } else if (r.path === '') {
    t.path = base.path;
    if (r.query === undefined) t.query = base.query;
  } else if (r.path.charCodeAt(0) === 47) {
    t.path = removeDotSegments(r.path);
  } else {
    t.path = removeDotSegments(merge(base, r.path));
  }
  return recompose(t);
}

/**
 * True when `ref` is a relative-path reference (RFC 3986 §4.2) whose path has no dot segment: non-empty, its path
 * (up to "?" or "#") neither starts with "/" or "." nor contains ":" or "/.". Only the path is scanned, so a long
 * signed query costs nothing.
 */
export function isPlainRelativePath(ref: string): boolean {
  const n = ref.length;
  if (n === 0) return false;
  const c0 = ref.charCodeAt(0);
  if (c0 === 47 || c0 === 46 || c0 === 63 || c0 === 35 || c0 === 58) return false;
  for (let i = 1; i < n; i++) {
    const c = ref.charCodeAt(i);
    if (c === 63 || c === 35) return true;
    if (c === 58) return false;
    if (c === 47 && i + 1 < n && ref.charCodeAt(i + 1) === 46) return false;
  }
  return true;
}

/**
 * Parses `base` once, for many references against it (a playlist has one base and up to hundreds of thousands
 * of references). `prefix` is what every plain relative path `ref` (see isPlainRelativePath) is appended to:
 * scheme, authority and the base path up to its last "/"; null when the base path itself has dot segments, in
 * which case the full algorithm must run. It covers the usual `seg_00001.ts?token=…` line: when neither the
 * base directory nor the reference path has a dot segment, §5.2.2 and §5.2.3 reduce to "directory of the base
 * path + reference" (the base's own query and fragment are dropped).
 */
export function baseResolver(base: string): { resolve: (ref: string) => string; prefix: string | null } {
  const b = parse(base);
  const prefix = prefixOf(b);
  return { resolve: (ref) => (prefix !== null && isPlainRelativePath(ref) ? prefix + ref : transform(b, ref)), prefix };
}

export function createResolver(base: string): (ref: string) => string {
  return baseResolver(base).resolve;
}

function prefixOf(b: Parts): string | null {
  const dir = merge(b, '');
  if (removeDotSegments(dir) !== dir) return null;
  // One join() of the parts: a flat string. Concatenation with `+=` leaves a rope that every `prefix + ref`
  // would drag along (measured ~10% of a 100k-segment rewrite); flattening it with split('').join('') cost a
  // string per character, ~1% of a whole cache miss on a 10-segment playlist.
  const parts: string[] = [];
  if (b.scheme !== undefined) parts.push(b.scheme, ':');
  if (b.authority !== undefined) parts.push('//', b.authority);
  parts.push(dir);
  return parts.join('');
}

/** Resolves `ref` against `base` per RFC 3986 §5.2, without encoding or decoding a single byte. Never throws. */
export function resolveReference(base: string, ref: string): string {
  return createResolver(base)(ref);
}
