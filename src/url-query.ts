/**
 * Merging the query a player puts on a proxied URL into the upstream URL (issue #2 §4).
 *
 * LL-HLS players add delivery directives to the URL they request (RFC 8216bis §6.2.5.2: `_HLS_msn`,
 * `_HLS_part`, `_HLS_skip`), and some players or dashboards add their own parameters; the origin must see
 * them. Origins that sign URLs (CDN tokens, AWS SigV4 query auth) compare the query byte for byte, so this
 * module never parses-and-reserialises: pairs are split on `&` and copied as the exact substrings they were.
 * RFC 3986 §3.4 gives the query no structure beyond "everything between `?` and `#`"; the `name=value&...`
 * convention is the only one assumed, and only to decide which upstream pairs a request pair replaces.
 */

/** Raw name of a `name=value` piece: everything before the first `=` (the whole piece when there is none). */
function rawName(piece: string): string {
  const eq = piece.indexOf('=');
  return eq === -1 ? piece : piece.slice(0, eq);
}

/** Decoded form of a raw name, used only to recognise proxy-own params however the client encoded them. */
function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll('+', ' '));
  } catch {
    return name;
  }
}

/**
 * Returns `upstreamUrl` with `requestQuery` merged in.
 *
 * - `requestQuery` may start with `?`; empty pieces (`a=1&&b=2`) are dropped from it.
 * - A request pair whose name (raw or percent-decoded) is in `drop` is not forwarded: those are the proxy's
 *   own parameters (hlsd's `password`, `headers`), which must never leak to an origin.
 * - For every raw name the request carries, every upstream pair with that same raw name is removed (the
 *   request wins: a player asking `_HLS_msn=12` overrides a stale `_HLS_msn` baked into the playlist URI).
 * - Remaining upstream pieces keep their order and bytes; request pairs follow, in their order and bytes.
 * - A fragment on the upstream URL (hlsd appends `#vod_start=N`) stays at the end, after the query,
 *   as RFC 3986 §3.5 requires.
 * - With nothing to add the upstream URL is returned unchanged (same string).
 */
export function mergeQuery(upstreamUrl: string, requestQuery: string, drop: readonly string[] = []): string {
  let rq = requestQuery.startsWith('?') ? requestQuery.slice(1) : requestQuery;
  if (rq === '') return upstreamUrl;
  const added: string[] = [];
  const names = new Set<string>();
  for (const piece of rq.split('&')) {
    if (piece === '') continue;
    const name = rawName(piece);
    if (drop.length && (drop.includes(name) || drop.includes(decodedName(name)))) continue;
    added.push(piece);
    names.add(name);
  }
  if (added.length === 0) return upstreamUrl;
  rq = added.join('&');

  const hash = upstreamUrl.indexOf('#');
  const beforeHash = hash === -1 ? upstreamUrl : upstreamUrl.slice(0, hash);
  const fragment = hash === -1 ? '' : upstreamUrl.slice(hash);
  const qmark = beforeHash.indexOf('?');
  if (qmark === -1) return `${beforeHash}?${rq}${fragment}`;

  const base = beforeHash.slice(0, qmark);
  const uq = beforeHash.slice(qmark + 1);
  if (uq === '') return `${base}?${rq}${fragment}`;
  const kept = uq.split('&').filter((piece) => !names.has(rawName(piece)));
  // Empty upstream pieces are kept: they are part of the bytes an origin may have signed.
  const merged = kept.length ? `${kept.join('&')}&${rq}` : rq;
  return `${base}?${merged}${fragment}`;
}

/**
 * Whether a playlist URL asks for a blocking reload: RFC 8216bis §6.2.5.2, a request with `_HLS_msn` is
 * held by the server until the playlist has that segment (and `_HLS_part`, that part), so no stale copy may
 * answer it early.
 */
export function isBlockingReload(url: string): boolean {
  const q = url.indexOf('?');
  if (q === -1) return false;
  const end = url.indexOf('#', q);
  return url.slice(q + 1, end === -1 ? undefined : end).split('&').some((piece) => decodedName(rawName(piece)) === '_HLS_msn');
}
