import { isIP } from 'node:net';

/**
 * Addresses as the egress policy sees them (issue #5 §1). The one rule here: judge exactly the host the
 * socket will reach. undici turns a request origin into a host with the WHATWG URL parser
 * (`new URL(origin).hostname`), which percent-decodes the host, maps IDN labels to punycode (UTS #46, the
 * same as node:url domainToASCII), reads `2130706433`, `0x7f000001`, `0177.0.0.1` and `127.1` as IPv4
 * (WHATWG URL §3.5 "IPv4 parser") and compresses IPv6. So the policy parses with that very parser and never
 * with a home-made one: a host that means 127.0.0.1 to the socket means 127.0.0.1 to the policy. (The URLs
 * the proxy fetches never carry those IPv4 forms: upstream/url-differential.ts refuses them first. This
 * stays the policy's own defence for any caller.)
 */

export interface EgressRequest {
  protocol: 'http:' | 'https:';
  /**
   * Lower-case host: a domain name in ASCII (punycode) without trailing dots, a dotted-quad IPv4 address,
   * or an IPv6 address without brackets (IPv4-mapped IPv6 is unwrapped to the IPv4 address it carries).
   */
  host: string;
  /** The IP value of `host` when it is an IP literal. */
  ip: IpValue | undefined;
  port: number;
}

export interface IpValue {
  v6: boolean;
  /** 32-bit (IPv4) or 128-bit (IPv6) address as an integer. */
  value: bigint;
}

export interface Cidr {
  v6: boolean;
  net: bigint;
  bits: number;
}

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    v = (v << 8n) | BigInt(Number(p));
  }
  return v;
}

/** RFC 4291 §2.2 text forms (including `::` and a trailing dotted quad) → 128-bit integer. */
function parseV6(text: string): bigint | undefined {
  let s = text;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    // A trailing dotted quad is two 16-bit words (RFC 4291 §2.2 form 3).
    const v4 = parseV4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const words = (h: string): bigint[] | undefined => {
    if (h === '') return [];
    const out: bigint[] = [];
    for (const w of h.split(':')) {
      if (!/^[0-9a-f]{1,4}$/i.test(w)) return undefined;
      out.push(BigInt(`0x${w}`));
    }
    return out;
  };
  const head = words(halves[0]!);
  const rest = halves.length === 2 ? words(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...new Array<bigint>(missing).fill(0n), ...rest];
  return all.reduce((acc, w) => (acc << 16n) | w, 0n);
}

const MAPPED_PREFIX = 0xffffn << 32n;

/**
 * A strict IP literal (dotted-quad IPv4 or IPv6, brackets allowed) → value; undefined for anything else.
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) is read as the IPv4 address: the kernel connects a
 * dual-stack socket to exactly that IPv4 address.
 */
export function parseIp(text: string): IpValue | undefined {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const kind = isIP(s);
  if (kind === 4) {
    const v = parseV4(s);
    return v === undefined ? undefined : { v6: false, value: v };
  }
  if (kind !== 6) return undefined;
  const v = parseV6(s.toLowerCase());
  if (v === undefined) return undefined;
  if (v >> 32n === MAPPED_PREFIX >> 32n) return { v6: false, value: v & 0xffffffffn };
  return { v6: true, value: v };
}

/** `a.b.c.d/n`, `v6/n`, or a single address (a /32 or /128). */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const ip = parseIp(slash === -1 ? text : text.slice(0, slash));
  if (!ip) return undefined;
  const max = ip.v6 ? 128 : 32;
  let bits = max;
  if (slash !== -1) {
    const b = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(b) || Number(b) > max) return undefined;
    bits = Number(b);
    // `::ffff:10.0.0.0/104` style: a mapped prefix is an IPv4 prefix 96 bits shorter.
    const mapped = !ip.v6 && isIP(text.slice(0, slash).replace(/^\[|\]$/g, '')) === 6;
    if (mapped) {
      if (bits < 96) return undefined;
      bits -= 96;
    }
  }
  const width = BigInt(ip.v6 ? 128 : 32);
  const shift = width - BigInt(bits);
  return { v6: ip.v6, net: (ip.value >> shift) << shift, bits };
}

export function cidrContains(cidr: Cidr, ip: IpValue): boolean {
  if (cidr.v6 !== ip.v6) return false;
  const shift = BigInt((ip.v6 ? 128 : 32) - cidr.bits);
  return ip.value >> shift === cidr.net >> shift;
}

/**
 * A host as written in a URL or rule → the lower-case host the socket would reach, through the WHATWG URL
 * host parser (see the module comment). Trailing dots of a domain are dropped: DNS resolves `a.test.` and
 * `a.test` to the same records (RFC 1034 §3.1, absolute vs relative names), so a rule about one is a rule
 * about both. Returns undefined for a host the parser refuses (which undici would refuse too).
 */
export function normalizeHost(host: string): { host: string; ip: IpValue | undefined } | undefined {
  let url: URL;
  try {
    // A rule's host arrives without brackets (`[2001:db8::1]:8443` is split before this); RFC 3986 §3.2.2
    // needs them around an IPv6 literal in a URL.
    url = new URL(`http://${isIP(host) === 6 ? `[${host}]` : host}/`);
  } catch {
    return undefined;
  }
  if (url.username || url.password || url.port || url.pathname !== '/' || url.search || url.hash) return undefined;
  let h = url.hostname;
  if (h.startsWith('[')) h = h.slice(1, -1);
  const ip = parseIp(h);
  if (ip) return { host: ip.v6 ? h : formatIp(ip), ip };
  h = h.replace(/\.+$/, '');
  if (h === '') return undefined;
  return { host: h, ip: undefined };
}

/** IpValue → text (dotted quad, or full uncompressed IPv6 words); for messages and tests. */
export function formatIp(ip: IpValue): string {
  if (!ip.v6) return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.');
  const words: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) words.push(((ip.value >> s) & 0xffffn).toString(16));
  return words.join(':');
}

/**
 * `scheme://host[:port]` (an undici origin, or any absolute http(s) URL) → EgressRequest, parsed exactly as
 * undici parses the origin it connects to. Undefined when the URL is not http(s) or its host is unusable.
 */
export function toEgressRequest(origin: string): EgressRequest | undefined {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  let h = url.hostname;
  if (h.startsWith('[')) h = h.slice(1, -1);
  const ip = parseIp(h);
  const host = ip ? (ip.v6 ? h : formatIp(ip)) : h.replace(/\.+$/, '');
  if (host === '') return undefined;
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { protocol: url.protocol, host, ip, port };
}
