import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { UpstreamHeaderConfig } from '../config.js';

/**
 * Which headers cross the proxy, in each direction. One list each, as in Caddy's reverse_proxy.
 */

/** RFC 9110 §7.6.1: connection-specific fields are never forwarded; nor is anything `Connection` names. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Client headers forwarded on segment/key/init requests. An allowlist, not a denylist: what a player sends
 * beyond these (cookies, credentials, tracing of the dashboard's own origin) is none of the upstream's business.
 * Range and the validators make 206/304/416 work end to end (RFC 9110 §13, §14). User-Agent is the
 * proxy's own (or --useragent), as for playlists, so upstream logs show one client: the proxy.
 */
const STREAM_REQUEST_HEADERS = ['range', 'if-range', 'if-none-match', 'if-modified-since', 'accept', 'accept-language'];

/**
 * Upstream response headers copied to the client on streamed responses (issue #2 §5). Set-Cookie is never
 * among them; Content-Encoding is, because the body is passed through untouched.
 */
export const STREAM_RESPONSE_HEADERS = [
  'content-type',
  'content-length',
  'content-range',
  'content-encoding',
  'accept-ranges',
  'etag',
  'last-modified',
  'cache-control',
  'expires',
] as const;

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Names listed in the client's `Connection` header, which RFC 9110 §7.6.1 says must be dropped too. */
function connectionNamed(headers: IncomingHttpHeaders): Set<string> {
  const named = new Set<string>();
  const conn = headers.connection;
  if (conn) for (const n of String(conn).split(',')) named.add(n.trim().toLowerCase());
  return named;
}

export interface UpstreamRequestHeaderInput {
  config: UpstreamHeaderConfig;
  /** Referer carried in the proxy token (hlsd `<url>|<referer>` form). */
  referer: string | undefined;
  /** The viewer's headers; undefined for playlist fetches, which are shared through the cache. */
  client: IncomingHttpHeaders | undefined;
}

/**
 * Headers for an upstream request. Playlist fetches get no client header at all: their result is cached and
 * served to every viewer, so one viewer's headers must not shape another's playlist (issue #3 §2).
 */
export function upstreamRequestHeaders({ config, referer, client }: UpstreamRequestHeaderInput): Record<string, string> {
  const out: Record<string, string> = {};
  if (client) {
    const dropped = connectionNamed(client);
    for (const name of STREAM_REQUEST_HEADERS) {
      const v = first(client[name]);
      if (v !== undefined && !dropped.has(name)) out[name] = v;
    }
    if (config.forwardCookies && client.cookie && !dropped.has('cookie')) out.cookie = String(client.cookie);
    if (config.forwardAuthorization && client.authorization && !dropped.has('authorization')) {
      out.authorization = client.authorization;
    }
  }
  // Fixed headers from the command line win over anything the client sent.
  for (const [k, v] of Object.entries(config.fixed)) out[k] = v;
  // hlsd (utils.js get_request_options): the token's referer wins over --referer, and brings a matching
  // Origin (scheme://host of the referer), since the upstreams that check one usually check both.
  if (referer) {
    out.referer = referer;
    const origin = /^(https?:\/\/[^/?#]+)/i.exec(referer)?.[1];
    if (origin) out.origin = origin;
  }
  if (!out['user-agent']) out['user-agent'] = 'hls-sidecar';
  return out;
}

/** Copies the allowlisted upstream response headers; never hop-by-hop, never Set-Cookie. */
export function clientResponseHeaders(upstream: Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name of STREAM_RESPONSE_HEADERS) {
    const v = upstream[name];
    if (v !== undefined) out[name] = v as string;
  }
  return out;
}

/**
 * Who else may be given the same reply (RFC 9111 §5.2.2.7, §5.2.2.9): 'public' when the decision rests on
 * the URL alone (no checks, or a signature in the token), so a shared cache keyed by the URL (the nginx
 * micro-cache in nginx/, a CDN) may serve it to anyone who asks for that URL; 'private' when it rested on who
 * asked (--acl-ip, a password), which such a cache cannot see.
 */
export type CacheScope = 'public' | 'private';

/**
 * The reply's headers for its cache scope (decided by security/access.ts). A 'private' reply keeps the
 * upstream's freshness for the viewer's own cache but forbids shared ones (RFC 9111 §5.2.2.7 `private`;
 * `public`, `s-maxage` and `proxy-revalidate` address shared caches only, §5.2.2.9, §5.2.2.10, §5.2.2.8).
 */
export function scoped(headers: OutgoingHttpHeaders, scope: CacheScope): OutgoingHttpHeaders {
  if (scope === 'public') return headers;
  const kept = String(headers['cache-control'] ?? '')
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '' && !/^(public|private|s-maxage|proxy-revalidate)\b/i.test(d));
  return { ...headers, 'cache-control': ['private', ...kept].join(', ') };
}

export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  return first(headers[name]);
}
