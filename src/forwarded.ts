import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import type { Config } from './config.js';
import { normalizeIp } from './net/ip-set.js';

/**
 * The public base that rewritten playlists point at: `<proto>://<host><prefix>/<token>` (issue #2 §6).
 *
 * Trust is decided in ONE place, here, as Caddy's `trusted_proxies` does: forwarded headers are read only
 * when the TCP peer is in --trust-proxy, so a client talking to the sidecar directly cannot make it write
 * an attacker's host into playlists other viewers may be served. Explicit configuration (--host, --prefix)
 * beats every header. Every header value is validated before use and an invalid one is ignored (the next
 * source is used), never echoed. The edge proxy is expected to SET these headers (nginx
 * `proxy_set_header X-Forwarded-Proto $scheme`), not append to what the client sent: like Express and Caddy
 * we read the first, client-facing value.
 */
export interface PublicBase {
  proto: 'http' | 'https';
  /** host[:port], lower-case. */
  host: string;
  /** '' or '/x/y', no trailing slash. */
  prefix: string;
  /** Address of the client as far as trusted proxies vouch for it; IPv4-mapped IPv6 unwrapped. */
  clientIp: string;
}

/** One RFC 7239 forwarded-element, parameter names lower-cased, quoted values unquoted. */
export type ForwardedElement = Partial<Record<'for' | 'by' | 'proto' | 'host', string>> & Record<string, string>;

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
/**
 * Unquoted values: RFC 7239 §4 requires quoting `host:port` and `[v6]`, but hand-written nginx configs
 * (`Forwarded: for=$remote_addr;host=$http_host`) do not; every value is validated after parsing anyway.
 */
const BARE_VALUE = /[!#$%&'*+.^_`|~0-9A-Za-z:[\]-]+/y;
const OWS = /[ \t]*/y;

/**
 * Every request header the public base depends on. Reads go through `header()`, typed to these names, so a
 * memo keyed on them (public-base-memo.ts) cannot miss an input.
 */
export const FORWARDING_HEADERS = ['host', 'forwarded', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-for'] as const;
type ForwardingHeader = (typeof FORWARDING_HEADERS)[number];

/** One of those headers as a single string (a repeated header is joined as a list, RFC 9110 §5.3). */
export function header(headers: IncomingHttpHeaders, name: ForwardingHeader): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : v;
}

/** First comma-separated value (RFC 9110 §5.3: repeated headers combine into a list), trimmed. */
function firstValue(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const comma = v.indexOf(',');
  return (comma === -1 ? v : v.slice(0, comma)).trim();
}

/**
 * RFC 7239 §4: `Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8::1]:4711"`.
 * Returns undefined for a header that does not follow the grammar (or repeats a parameter within an
 * element, which §4 forbids): a malformed header is ignored as a whole rather than half-believed.
 */
export function parseForwarded(value: string): ForwardedElement[] | undefined {
  const elements: ForwardedElement[] = [];
  // Null prototype: a parameter named `__proto__` must stay data.
  const fresh = (): ForwardedElement => Object.create(null) as ForwardedElement;
  let current = fresh();
  let i = 0;
  const skipOws = (): void => {
    OWS.lastIndex = i;
    OWS.exec(value);
    i = OWS.lastIndex;
  };
  skipOws();
  while (i < value.length) {
    const c = value[i];
    if (c === ';' || c === ',') {
      if (c === ',') {
        if (Object.keys(current).length) elements.push(current);
        current = fresh();
      }
      i++;
      skipOws();
      continue;
    }
    TOKEN.lastIndex = i;
    const name = TOKEN.exec(value)?.[0];
    if (!name || value[i + name.length] !== '=') return undefined;
    i += name.length + 1;
    let v: string;
    if (value[i] === '"') {
      v = '';
      i++;
      for (;;) {
        const ch = value[i];
        if (ch === undefined) return undefined; // unterminated quoted-string
        i++;
        if (ch === '"') break;
        if (ch === '\\') {
          const next = value[i];
          if (next === undefined) return undefined;
          v += next;
          i++;
        } else v += ch;
      }
    } else {
      BARE_VALUE.lastIndex = i;
      const tok = BARE_VALUE.exec(value)?.[0];
      if (!tok) return undefined;
      v = tok;
      i += tok.length;
    }
    const key = name.toLowerCase();
    if (Object.hasOwn(current, key)) return undefined;
    current[key] = v;
    skipOws();
    if (i < value.length && value[i] !== ';' && value[i] !== ',') return undefined;
  }
  if (Object.keys(current).length) elements.push(current);
  return elements;
}

/**
 * RFC 3986 §3.2.2 host (IP-literal, IPv4address or reg-name) with an optional §3.2.3 port. Stricter than the
 * RFC on purpose: reg-name is limited to unreserved characters (no sub-delims or percent-encoding, which no
 * DNS name needs and which would land verbatim in playlist URIs). Returns it lower-cased, or undefined.
 */
export function validHost(value: string | undefined): string | undefined {
  if (!value || value.length > 300) return undefined;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._~-]+))(?::([0-9]{1,5}))?$/.exec(value);
  if (!m) return undefined;
  if (m[1] !== undefined && isIP(m[1]) !== 6) return undefined;
  if (m[3] !== undefined && (Number(m[3]) < 1 || Number(m[3]) > 65535)) return undefined;
  return value.toLowerCase();
}

export function validProto(value: string | undefined): 'http' | 'https' | undefined {
  const v = value?.trim().toLowerCase();
  return v === 'http' || v === 'https' ? v : undefined;
}

const SEGMENT = /^(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})+$/;

/**
 * A path prefix: RFC 3986 §3.3 segments of pchar, normalised to '' or '/x/y' (leading slash, no trailing
 * slash). Empty segments and dot-segments (`.`/`..`, also percent-encoded) are refused: a prefix must not be
 * able to climb out of, or re-root, the path the front server routes to us.
 */
export function validPrefix(value: string | undefined): string | undefined {
  if (value === undefined || value.length > 1024) return undefined;
  const trimmed = value.trim().replace(/\/+$/, '');
  if (trimmed === '') return '';
  const p = trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
  for (const seg of p.slice(1).split('/')) {
    if (!SEGMENT.test(seg)) return undefined;
    let decoded: string;
    try {
      decoded = decodeURIComponent(seg);
    } catch {
      return undefined;
    }
    if (decoded === '.' || decoded === '..' || decoded.includes('/')) return undefined;
  }
  return p;
}

/** host[:port] with its port replaced by `port`, or removed when it is the scheme's default (RFC 9110 §4.2). */
function withPort(host: string, port: string | undefined, proto: 'http' | 'https'): string {
  if (port === undefined || !/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return host;
  const bare = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:[0-9]*$/, '');
  const isDefault = (proto === 'https' && port === '443') || (proto === 'http' && port === '80');
  return isDefault ? bare : `${bare}:${Number(port)}`;
}

/** RFC 7239 §6 node (`ip`, `ip:port`, `[v6]:port`) or an X-Forwarded-For entry → normalised IP, or ''. */
function nodeIp(node: string): string {
  let s = node.trim();
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end === -1) return '';
    s = s.slice(1, end);
  } else if (s.indexOf(':') !== -1 && s.indexOf(':') === s.lastIndexOf(':')) {
    s = s.slice(0, s.indexOf(':')); // IPv4 with a port, as IIS ARR writes it
  }
  return normalizeIp(s);
}

/**
 * Walks the forwarded-for chain from the right (the hop nearest us) while addresses are trusted proxies;
 * the first untrusted one is the client. An unparseable entry (`unknown`, an obfuscated `_node`) stops the
 * walk: the last address actually known is kept rather than anything the chain claims beyond it.
 */
function walkClientIp(chain: readonly string[], peerIp: string, trust: Config['trustProxy']): string {
  let client = peerIp;
  for (let j = chain.length - 1; j >= 0; j--) {
    const ip = nodeIp(chain[j]!);
    if (!ip) break;
    client = ip;
    if (!trust.has(ip)) break;
  }
  return client;
}

export function resolvePublicBase(input: {
  peer: string;
  headers: IncomingHttpHeaders;
  encrypted: boolean;
  echoedPrefix: string;
  config: Pick<Config, 'publicHost' | 'prefix' | 'trustProxy'>;
}): PublicBase {
  const { peer, headers, encrypted, echoedPrefix, config } = input;
  const peerIp = normalizeIp(peer ?? '') || String(peer ?? '');
  const trusted = config.trustProxy.has(peerIp);
  const directProto = encrypted ? 'https' : 'http';
  const directHost = validHost(header(headers, 'host')) ?? 'localhost';

  let elements: ForwardedElement[] = [];
  if (trusted) {
    const fwd = header(headers, 'forwarded');
    elements = (fwd !== undefined && parseForwarded(fwd)) || [];
  }
  const first = elements[0];

  let proto: 'http' | 'https';
  let host: string;
  if (config.publicHost) {
    proto = config.publicHost.proto;
    host = config.publicHost.authority;
  } else if (trusted) {
    proto = validProto(first?.proto) ?? validProto(firstValue(header(headers, 'x-forwarded-proto'))) ?? directProto;
    const fwdHost = validHost(first?.host);
    if (fwdHost) {
      host = fwdHost; // RFC 7239 §5.3: the Host as the proxy received it, port included
    } else {
      const xfHost = validHost(firstValue(header(headers, 'x-forwarded-host')));
      host = withPort(xfHost ?? directHost, firstValue(header(headers, 'x-forwarded-port')), proto);
    }
  } else {
    proto = directProto;
    host = directHost;
  }

  let prefix: string;
  if (config.prefix !== undefined) prefix = config.prefix;
  else {
    const forwarded = trusted ? validPrefix(firstValue(header(headers, 'x-forwarded-prefix'))) : undefined;
    prefix = forwarded ?? validPrefix(echoedPrefix) ?? '';
  }

  let clientIp = peerIp;
  if (trusted) {
    const fors = elements.filter((e) => e.for !== undefined).map((e) => e.for!);
    const chain = fors.length ? fors : (header(headers, 'x-forwarded-for') ?? '').split(',').filter((s) => s.trim());
    clientIp = walkClientIp(chain, peerIp, config.trustProxy);
  }

  return { proto, host, prefix, clientIp };
}
