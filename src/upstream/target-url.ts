import { ProxyError } from '../errors.js';

/**
 * Splits an absolute http(s) URL into undici's `origin` and `path` without re-encoding anything, so a
 * signed CDN query (`~`, `=`, `%2F`, `+`) reaches the upstream byte for byte (issue #2 §2). `new URL()`
 * would percent-encode some characters and normalise others.
 */
export interface TargetUrl {
  origin: string;
  /** Path and query as given; '/' when empty. Fragment removed (RFC 9110 §4.2.4: never sent). */
  path: string;
  protocol: 'http:' | 'https:';
  hostname: string;
  port: number;
  /** Basic credentials from `user:pass@` (RFC 3986 §3.2.1), sent as Authorization instead. */
  basicAuth: string | undefined;
}

const ABSOLUTE = /^(https?):\/\/([^/?#]*)([^#]*)/i;

export function parseTargetUrl(url: string): TargetUrl {
  const m = ABSOLUTE.exec(url);
  if (!m) throw new ProxyError('BAD_TOKEN', { detail: 'not an absolute http(s) URL' });
  const scheme = m[1]!.toLowerCase() as 'http' | 'https';
  let authority = m[2]!;
  let basicAuth: string | undefined;
  const at = authority.lastIndexOf('@');
  if (at !== -1) {
    const userinfo = authority.slice(0, at);
    authority = authority.slice(at + 1);
    let decoded = userinfo;
    try {
      decoded = decodeURIComponent(userinfo);
    } catch {
      /* keep as given */
    }
    basicAuth = `Basic ${Buffer.from(decoded, 'utf8').toString('base64')}`;
  }
  const hp = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!hp) throw new ProxyError('BAD_TOKEN', { detail: 'bad upstream authority' });
  const hostname = hp[1]!.toLowerCase();
  const port = hp[2] ? Number(hp[2]) : scheme === 'https' ? 443 : 80;
  if (port < 1 || port > 65535) throw new ProxyError('BAD_TOKEN', { detail: 'bad upstream port' });
  let path = m[3]!;
  if (path === '') path = '/';
  else if (path.startsWith('?')) path = `/${path}`;
  const defaultPort = scheme === 'https' ? 443 : 80;
  return {
    origin: `${scheme}://${hostname}${port === defaultPort ? '' : `:${port}`}`,
    path,
    protocol: `${scheme}:`,
    hostname: hostname.startsWith('[') ? hostname.slice(1, -1) : hostname,
    port,
    basicAuth,
  };
}
