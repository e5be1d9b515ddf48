import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { CacheScope } from '../upstream/headers.js';

/**
 * "nginx moves the bytes" (issue #16 §1), decided here and nowhere else (pure): whether a stream request
 * (segment, key, init section) is answered with `X-Accel-Redirect`, after the proxy has done everything it
 * does before an upstream request (token, signature, ACL, egress policy with the judged address, request
 * headers), and with which headers the front server's internal location then fetches the upstream itself.
 *
 * Only a --trust-proxy peer that announced an internal location (`X-HLS-Sidecar-Offload: <path>`, which the
 * shipped nginx templates set with proxy_set_header, so a client cannot forge it) is answered so; every
 * request nginx cannot make exactly as the proxy would is streamed here as before, with the reason counted
 * (hls_sidecar_offload_total{result}).
 */

export const OFFLOAD_HEADER = 'x-hls-sidecar-offload';
/** Set by the templates' @hls_sidecar_stream location: an origin redirect came back to be judged here. */
export const STREAM_ITSELF_HEADER = 'x-hls-sidecar-stream';

/**
 * Upstream path extensions of media that is never a playlist. The proxy cannot see the body before it
 * decides, and a playlist found at a segment URL must still be rewritten (issue #2 §3): it offloads only
 * when the upstream's own path names a media file. A token for `x.ts` whose upstream URL ends in `.m3u8`,
 * or names no extension, is streamed here and sniffed as before.
 */
export const MEDIA_EXTENSIONS: ReadonlySet<string> = new Set([
  'ts', 'm2ts', 'mts', 'm4s', 'mp4', 'm4v', 'm4a', 'fmp4', 'cmfv', 'cmfa', 'cmft', 'aac', 'ac3', 'ec3', 'mp3', 'webm', 'vtt', 'webvtt', 'key',
]);

/**
 * Upstream request headers nginx can send as the proxy would: the client's own (Range, validators, Accept*,
 * which the template takes from the client exactly as the proxy's allowlist does), and the three the proxy
 * fixes, passed to nginx in X-HLS-Sidecar-* headers. Any other name (--header, --req-headers with other
 * names, forwarded cookies or credentials) cannot be written in a static nginx config: streamed here.
 */
const FROM_CLIENT = new Set(['range', 'if-range', 'if-none-match', 'if-modified-since', 'accept', 'accept-language']);
const PASSED = ['user-agent', 'referer', 'origin'] as const;

const VISIBLE = /^[\x21-\x7e]*$/;
const VISIBLE_OR_SPACE = /^[\x20-\x7e]*$/;
/** An announced internal location: a plain absolute path, nothing nginx would read as more than a URI. */
const LOCATION = /^\/[A-Za-z0-9._~/-]{1,100}$/;

export interface OffloadFacts {
  mode: 'auto' | 'none';
  /** The peer is in --trust-proxy. */
  trustedPeer: boolean;
  method: string;
  /** The client's headers, as nginx passed them. */
  client: IncomingHttpHeaders;
  scope: CacheScope;
  /** What the proxy itself would send upstream (headers.ts#upstreamRequestHeaders). */
  upstreamHeaders: Readonly<Record<string, string>>;
  /** The upstream URL, its scheme and own path extension (lower case, '' for none), and whether it carries userinfo. */
  upstream: { protocol: 'http:' | 'https:'; extension: string; userinfo: boolean; url: string };
  /** Anything set that only the proxy's own client applies. */
  proxyOnly: { httpProxy: boolean; hooks: boolean; reqOptionHeaders: boolean; tlsOptions: boolean; insecure: boolean };
}

export type OffloadVerdict = { offload: true; location: string } | { offload: false; reason: string };

export function planOffload(f: OffloadFacts): OffloadVerdict {
  const no = (reason: string): OffloadVerdict => ({ offload: false, reason });
  if (f.mode === 'none') return no('off');
  if (!f.trustedPeer) return no('not-announced');
  if (f.client[STREAM_ITSELF_HEADER] === '1') return no('redirected');
  const announced = f.client[OFFLOAD_HEADER];
  if (typeof announced !== 'string' || !LOCATION.test(announced)) return no('not-announced');
  if (f.method !== 'GET') return no('method');
  // The reply's Cache-Control is rewritten for its scope (headers.ts#scoped), which nginx cannot do.
  if (f.scope !== 'public') return no('private');
  if (!MEDIA_EXTENSIONS.has(f.upstream.extension)) return no('may-be-playlist');
  const p = f.proxyOnly;
  if (p.httpProxy || p.hooks || p.reqOptionHeaders) return no('proxy-only');
  if (f.upstream.protocol === 'https:' && (p.tlsOptions || p.insecure)) return no('tls-options');
  // Everything goes to nginx in header values: visible ASCII only.
  if (!VISIBLE.test(f.upstream.url)) return no('headers');
  if (f.upstream.userinfo) return no('headers');
  for (const name of Object.keys(f.upstreamHeaders)) {
    if ((PASSED as readonly string[]).includes(name)) {
      if (!VISIBLE_OR_SPACE.test(f.upstreamHeaders[name]!)) return no('headers');
      continue;
    }
    // A client header the proxy forwards is one nginx forwards too, unless the command line replaced it.
    if (FROM_CLIENT.has(name) && f.upstreamHeaders[name] === first(f.client[name])) continue;
    return no('headers');
  }
  return { offload: true, location: announced };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export interface OffloadTarget {
  protocol: 'http:' | 'https:';
  /** As TargetUrl: lower case, IPv6 without brackets. */
  hostname: string;
  port: number;
  /** Path and query, byte for byte as the proxy would send them. */
  path: string;
  /** The Host header the proxy would send (host[:port], the port only when not the scheme's default). */
  host: string;
}

/**
 * The headers of the X-Accel-Redirect reply. nginx's internal location copies them into variables
 * (`set $v $upstream_http_x_hls_sidecar_...`, nginx/hls-proxy-location.conf) and connects to `address`, the
 * one the egress policy judged (security/pinned-lookup.ts): never a name, so nginx never resolves one.
 * Nothing else from this reply reaches the client but `own` (X-Request-Id, CORS), which nginx adds to the
 * upstream's reply; no Cache-Control or Content-Type here, since nginx would keep those.
 */
export function offloadHeaders(
  location: string,
  target: OffloadTarget,
  address: { address: string; family: 4 | 6 },
  upstreamHeaders: Readonly<Record<string, string>>,
  own: Readonly<OutgoingHttpHeaders>,
): OutgoingHttpHeaders {
  const ip = address.family === 6 ? `[${address.address}]` : address.address;
  const out: OutgoingHttpHeaders = {
    ...own,
    'x-accel-redirect': location,
    'x-hls-sidecar-scheme': target.protocol === 'https:' ? 'https' : 'http',
    'x-hls-sidecar-address': `${ip}:${target.port}`,
    'x-hls-sidecar-path': target.path,
    'x-hls-sidecar-host': target.host,
    // SNI and certificate name: a name, never an IP literal in brackets.
    'x-hls-sidecar-name': target.hostname,
    'content-length': '0',
  };
  for (const name of PASSED) {
    const v = upstreamHeaders[name];
    if (v !== undefined) out[`x-hls-sidecar-${name}`] = v;
  }
  return out;
}
