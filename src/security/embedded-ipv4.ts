import { cidrContains, parseCidr, type Cidr, type IpValue } from './egress-address.js';

/**
 * IPv4 addresses carried inside IPv6 addresses by the translation and tunnelling schemes whose gateways turn
 * the IPv6 destination into an IPv4 one (SECURITY.md, egress policy). Where such a gateway exists — a NAT64
 * next to an IPv6-only host, a 6to4 or Teredo interface — a connection to `64:ff9b::a9fe:a9fe` is a
 * connection to 169.254.169.254. So the policy judges the IPv4 address inside as well as the IPv6 address
 * itself (egress-policy.ts, `judge`). IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is not here: parseIp already reads
 * it as the IPv4 address, because the kernel connects to exactly that. Pure.
 *
 * Only prefixes that are the same on every network are recognised. A Network-Specific Prefix (RFC 6052 §2.2,
 * any prefix an operator gives its own NAT64) cannot be known from here: name it in --deny-upstream.
 */

export interface EmbeddedIpv4 {
  /** The scheme that carries it, for log reasons. */
  via: string;
  /** Always an IPv4 value (`v6: false`). */
  ip: IpValue;
}

interface Scheme {
  prefix: Cidr;
  /** 128-bit address → the IPv4 addresses it carries, each named. */
  extract(v: bigint): Array<[via: string, v4: bigint]>;
}

const V4 = 0xffffffffn;
/** The 32 bits that end at bit `end` (exclusive; bit 0 is the most significant, as the RFCs number them). */
const bitsBefore = (v: bigint, end: number): bigint => (v >> BigInt(128 - end)) & V4;

const SCHEMES: ReadonlyArray<Scheme> = [
  {
    // RFC 6052 §2.1: the Well-Known Prefix 64:ff9b::/96; with a /96 prefix the IPv4 address is bits 96..127
    // (§2.2). §3.1 tells translators to drop packets for non-global IPv4 behind it, but not every translator
    // is configured to: one that is not is exactly the case to defend against.
    prefix: parseCidr('64:ff9b::/96')!,
    extract: (v) => [['NAT64 64:ff9b::/96', bitsBefore(v, 128)]],
  },
  {
    // RFC 8215 reserves 64:ff9b:1::/48 for local-use translation. RFC 6052 §2.2 places the IPv4 address after
    // a /48 prefix in bits 48..63 and 72..87, skipping the "u" octet (bits 64..71, which "MUST be set to
    // zero"). The u octet and the suffix are ignored here, not checked: a translator may ignore them too.
    prefix: parseCidr('64:ff9b:1::/48')!,
    extract: (v) => [['NAT64 64:ff9b:1::/48', (((v >> 64n) & 0xffffn) << 16n) | ((v >> 40n) & 0xffffn)]],
  },
  {
    // RFC 3056 §2: a 6to4 site prefix is 2002:V4ADDR::/48 — the IPv4 address is bits 16..47, and packets to
    // it are tunnelled (IP protocol 41) to that IPv4 address.
    prefix: parseCidr('2002::/16')!,
    extract: (v) => [['6to4 2002::/16', bitsBefore(v, 48)]],
  },
  {
    // RFC 4380 §4: a Teredo address carries the server's IPv4 address in bits 32..63 and the client's mapped
    // IPv4 address in bits 96..127, obfuscated: "Each bit in the address and port number is reversed"
    // (an exclusive OR with 0xFFFFFFFF). Both are places the packets go, so both are returned.
    prefix: parseCidr('2001::/32')!,
    extract: (v) => [
      ['Teredo 2001::/32 server', bitsBefore(v, 64)],
      ['Teredo 2001::/32 client', (v & V4) ^ V4],
    ],
  },
];

/** The IPv4 addresses an IPv6 address carries for translation or tunnelling; empty for anything else. */
export function embeddedIpv4(ip: IpValue): EmbeddedIpv4[] {
  if (!ip.v6) return [];
  for (const s of SCHEMES) {
    // The prefixes do not overlap, so at most one scheme applies.
    if (cidrContains(s.prefix, ip)) return s.extract(ip.value).map(([via, v4]) => ({ via, ip: { v6: false, value: v4 } }));
  }
  return [];
}
