import { parseIp } from '../security/egress-address.js';

/**
 * Parser differentials: the upstream URL is read twice, by the RFC 3986 split in
 * target-url.ts (which the proxy connects with) and by the WHATWG URL parser (`new URL()`: browsers, Node,
 * undici, and the egress policy's host normaliser). `http://127.0.0.1:A\@127.0.0.1:B/x.m3u8` was host B
 * to the first and host A to the second. An allowlist has to judge the URL every other component sees, so
 * a URL the two read differently is refused, not guessed at. Only compared here: the path and query stay
 * byte for byte as written (signed CDN queries), nothing is re-serialised through `new URL()`.
 *
 * Two spellings still name the same host when RFC 3986 itself says so: case (§3.2.2 "The host subcomponent
 * is case-insensitive"), percent-encoded unreserved characters in a name (§2.3 "URIs that differ in the
 * replacement of an unreserved character with its corresponding percent-encoded US-ASCII octet are
 * equivalent") and the same IPv6 address in another text form.
 * An IPv4 address must be written as §3.2.2's IPv4address, byte for byte: four dec-octets, no leading
 * zero, no trailing dot, nothing percent-encoded. WHATWG's IPv4 number parser also reads `2130706433`,
 * `0x7f.1`, `127.1`, `0177.0.0.1`, `127.0.0.1.` and `%31%32%37.0.0.1` as 127.0.0.1, where RFC 3986 sees a
 * reg-name, a name to resolve; §7.4 "Rare IP Address Formats" lists exactly these as what lets one
 * component read another address than the next (`0177` is 127 to inet_aton and 177 to a decimal reader),
 * so a URL in such a form is refused (issue #15 §4) rather than judged by one reading. Pure.
 */

/** What the RFC 3986 split read (target-url.ts). */
export interface RfcReading {
  scheme: 'http' | 'https';
  /** Everything before the last `@` of the authority, as written; undefined without `@`. */
  userinfo: string | undefined;
  /** reg-name or IPv4address as written, or `[IP-literal]` with its brackets. */
  host: string;
  /** The port digits as written (possibly ''); undefined without `:`. */
  portText: string | undefined;
  /** The port connected to (the scheme's default when none is written). */
  port: number;
}

/** `hostname`: the host both readings name, as WHATWG serialises it (IPv6 without brackets). */
export type Agreement = { ok: true; hostname: string } | { ok: false; why: string };

// RFC 3986 §2: no production admits a control character or a space. WHATWG's basic URL parser strips
// leading and trailing "C0 control or space" and removes every "ASCII tab or newline" before parsing, so
// `http://a.te<TAB>st/` is `http://a.test/` to it and something else to every strict reader.
const CONTROL_OR_SPACE = /[\x00-\x20\x7f]/;
// RFC 3986 §3.2.1: userinfo = *( unreserved / pct-encoded / sub-delims / ":" ); §2.1 pct-encoded = "%" HEXDIG HEXDIG.
const USERINFO = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:]|%[0-9A-Fa-f]{2})*$/;
// RFC 3986 §3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ), ASCII only (non-ASCII names
// "must first be encoded according to UTF-8 ... and then each octet ... percent-encoded").
const REG_NAME = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$/;
// RFC 3986 §2.3: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~".
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const PCT = /%([0-9A-Fa-f]{2})/g;

const refuse = (why: string): Agreement => ({ ok: false, why });

/** RFC 3986 §2.3 / §6.2.2.2: decode the percent-encoded octets that stand for unreserved characters only. */
function decodeUnreserved(text: string): string {
  return text.replace(PCT, (escape, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : escape;
  });
}

/** Percent-decoded octets as a latin1 string: WHATWG re-encodes `;`, `=` and others in userinfo, RFC 3986 does not. */
const octets = (text: string): string => text.replace(PCT, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

/**
 * RFC 3986 §3.2.1 leaves `user:password` to the scheme ("deprecated"); RFC 7617 and WHATWG (the first `:`
 * outside the host ends the username) split at the first `:`. Both halves must be the same octets.
 */
function credentialsAgree(userinfo: string | undefined, url: URL): boolean {
  if (userinfo === undefined) return url.username === '' && url.password === '';
  const colon = userinfo.indexOf(':');
  const user = colon === -1 ? userinfo : userinfo.slice(0, colon);
  const pass = colon === -1 ? '' : userinfo.slice(colon + 1);
  return octets(user) === octets(url.username) && octets(pass) === octets(url.password);
}

/** The host both name, or undefined. `whatwg` is `URL#hostname` (IPv6 in brackets). */
function agreedHost(written: string, whatwg: string): string | undefined {
  if (written.startsWith('[')) {
    // RFC 3986 §3.2.2 IP-literal: compared as addresses (WHATWG writes `[::ffff:7f00:1]` for `[::ffff:127.0.0.1]`).
    const a = parseIp(written);
    const b = parseIp(whatwg);
    return a && b && a.v6 === b.v6 && a.value === b.value ? whatwg.slice(1, -1) : undefined;
  }
  // WHATWG read an IPv4 address: only the RFC 3986 IPv4address spelling of it names the same host to every
  // reader, and WHATWG serialises exactly that (four dec-octets without leading zeros).
  if (parseIp(whatwg)?.v6 === false) return written === whatwg ? whatwg : undefined;
  if (!REG_NAME.test(written)) return undefined;
  const normal = decodeUnreserved(written).toLowerCase();
  // Anything still percent-encoded (UTF-8 of an IDN, a reserved character) is decoded and IDNA-mapped by
  // WHATWG's host parser ("domain to ASCII"): another spelling of another string. Punycode is unambiguous.
  if (normal.includes('%')) return undefined;
  return whatwg === normal ? whatwg : undefined;
}

/** Do the RFC 3986 reading of `url` and WHATWG's agree on scheme, userinfo, host and port? */
export function compareReadings(url: string, rfc: RfcReading): Agreement {
  if (CONTROL_OR_SPACE.test(url)) return refuse('control character or space');
  const end = url.search(/[?#]/);
  // RFC 3986 §2.2: `\` is neither reserved nor unreserved, so to RFC 3986 it is data. To WHATWG, in an
  // http(s) URL it ends the authority and separates path segments exactly like `/` (authority and path
  // states: 'url is special and c is U+005C (\)'). The query keeps it verbatim in both.
  if ((end === -1 ? url : url.slice(0, end)).includes('\\')) return refuse('backslash before the query');
  const { userinfo, portText } = rfc;
  if (userinfo !== undefined) {
    // WHATWG keeps the last `@` and percent-encodes earlier ones into the username; RFC 3986 §3.2.1 admits
    // no `@` in userinfo, and parsers that stop at the first `@` read another host.
    if (userinfo.includes('@')) return refuse('more than one @ in the authority');
    if (!USERINFO.test(userinfo)) return refuse('userinfo outside RFC 3986 §3.2.1');
    // `@host` or `:@host`: WHATWG sees no credentials, an Authorization header would still be sent.
    if (userinfo === '' || userinfo === ':') return refuse('empty userinfo');
  }
  // RFC 3986 §3.2.3: port = *DIGIT, and producers "should omit the port component and its ':' delimiter if
  // port is empty". WHATWG reads `host:` as the default port and `:080` as 80; other readers differ.
  if (portText === '') return refuse('empty port');
  if (portText !== undefined && /^0\d/.test(portText)) return refuse('leading zero in port');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return refuse('the WHATWG URL parser refuses it');
  }
  if (parsed.protocol !== `${rfc.scheme}:`) return refuse('scheme differs');
  const whatwgPort = parsed.port === '' ? (rfc.scheme === 'https' ? 443 : 80) : Number(parsed.port);
  if (whatwgPort !== rfc.port) return refuse('port differs');
  if (!credentialsAgree(userinfo, parsed)) return refuse('userinfo differs');
  const hostname = agreedHost(rfc.host, parsed.hostname);
  return hostname === undefined ? refuse('host differs') : { ok: true, hostname };
}
