import { ProxyError } from '../errors.js';
import { compareReadings } from './url-differential.js';

/**
 * Splits an absolute http(s) URL into undici's `origin` and `path` without re-encoding anything, so a
 * signed CDN query (`~`, `=`, `%2F`, `+`) reaches the upstream byte for byte (issue #2 §2). `new URL()`
 * would percent-encode some characters and normalise others.
 *
 * The one place an upstream URL string becomes parts: the entry URL and every redirect hop go through here
 * before the egress guard judges them. A URL the WHATWG parser reads differently (another host, port or
 * userinfo; characters the two treat differently) is refused (url-differential.ts).
 */
export interface TargetUrl {
  origin: string;
  /** Path and query as given; '/' when empty. Fragment removed (RFC 9110 §4.2.4: never sent). */
  path: string;
  protocol: 'http:' | 'https:';
  /** Lower-case; IPv6 without brackets; the same host `new URL(url).hostname` names. */
  hostname: string;
  port: number;
  /** Basic credentials from `user:pass@` (RFC 3986 §3.2.1), sent as Authorization instead. */
  basicAuth: string | undefined;
}

// RFC 3986 Appendix B: scheme, authority (up to the first / ? #), then path and query (up to #).
const ABSOLUTE = /^(https?):\/\/([^/?#]*)([^#]*)/i;
// RFC 3986 §3.2.2 / §3.2.3: host (IP-literal in brackets, or anything without `:`), then `:` port.
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{0,5}))?$/;

const bad = (detail: string): ProxyError => new ProxyError('BAD_TOKEN', { detail });

function basicAuthOf(userinfo: string): string {
  let decoded = userinfo;
  try {
    decoded = decodeURIComponent(userinfo);
  } catch {
    /* keep as given */
  }
  return `Basic ${Buffer.from(decoded, 'utf8').toString('base64')}`;
}

export function parseTargetUrl(url: string): TargetUrl {
  const m = ABSOLUTE.exec(url);
  if (!m) throw bad('not an absolute http(s) URL');
  const scheme = m[1]!.toLowerCase() as 'http' | 'https';
  const authority = m[2]!;
  // §3.2.1: userinfo ends at "@"; the last one, as WHATWG takes it (more than one is refused below).
  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? undefined : authority.slice(0, at);
  const hp = HOST_PORT.exec(authority.slice(at + 1));
  if (!hp) throw bad('bad upstream authority');
  const defaultPort = scheme === 'https' ? 443 : 80;
  const portText = hp[2];
  const port = portText ? Number(portText) : defaultPort;
  if (port < 1 || port > 65535) throw bad('bad upstream port');
  const readings = compareReadings(url, { scheme, userinfo, host: hp[1]!, portText, port });
  // The reason goes to the log only: error bodies are fixed catalogue strings (errors.ts).
  if (!readings.ok) throw bad(`ambiguous upstream URL: ${readings.why}`);
  const { hostname } = readings;
  let path = m[3]!;
  if (path === '') path = '/';
  else if (path.startsWith('?')) path = `/${path}`;
  return {
    origin: `${scheme}://${hostname.includes(':') ? `[${hostname}]` : hostname}${port === defaultPort ? '' : `:${port}`}`,
    path,
    protocol: `${scheme}:`,
    hostname,
    port,
    basicAuth: userinfo === undefined ? undefined : basicAuthOf(userinfo),
  };
}
