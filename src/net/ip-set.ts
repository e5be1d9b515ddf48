import { BlockList, isIP } from 'node:net';

/**
 * A set of addresses built from IPs, CIDRs and named presets, used for --trust-proxy, --acl-ip and the
 * egress policy. Backed by node's BlockList; IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a dual-stack socket
 * reports for an IPv4 peer) is matched as the IPv4 address it carries.
 */
export interface IpSet {
  has(address: string): boolean;
  /** The entries as given, for logs and the start-up banner. */
  readonly source: readonly string[];
}

export const PRESETS: Record<string, readonly string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  // RFC 1918, RFC 6598 (carrier-grade NAT, used by some container networks) and RFC 4193 unique-local.
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  all: ['0.0.0.0/0', '::/0'],
  none: [],
  // Aliases used by Express/Caddy-style configs.
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

export class IpSetError extends Error {}

/** Strips brackets and zone ids, and unwraps IPv4-mapped IPv6; returns '' when not an IP literal. */
export function normalizeIp(address: string): string {
  let a = address.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const zone = a.indexOf('%');
  if (zone !== -1) a = a.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) a = mapped[1]!;
  return isIP(a) ? a.toLowerCase() : '';
}

export function ipFamily(address: string): 'ipv4' | 'ipv6' | undefined {
  const v = isIP(address);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined;
}

/** Parses entries; throws IpSetError naming the bad entry. */
export function createIpSet(entries: readonly string[]): IpSet {
  const list = new BlockList();
  const expanded: string[] = [];
  for (const raw of entries) {
    for (const part of String(raw).split(',')) {
      const entry = part.trim();
      if (!entry) continue;
      const preset = PRESETS[entry.toLowerCase()];
      if (preset) expanded.push(...preset);
      else expanded.push(entry);
    }
  }
  for (const entry of expanded) {
    const slash = entry.indexOf('/');
    const addr = normalizeIp(slash === -1 ? entry : entry.slice(0, slash));
    const family = ipFamily(addr);
    if (!family) throw new IpSetError(`not an IP address, CIDR or preset: ${JSON.stringify(entry)}`);
    if (slash === -1) {
      list.addAddress(addr, family);
      continue;
    }
    const bits = Number(entry.slice(slash + 1));
    const max = family === 'ipv4' ? 32 : 128;
    if (!Number.isInteger(bits) || bits < 0 || bits > max) {
      throw new IpSetError(`bad prefix length in ${JSON.stringify(entry)}`);
    }
    list.addSubnet(addr, bits, family);
  }
  const source = Object.freeze([...entries]);
  // BlockList.check builds a SocketAddress per call, and the same few peers (the front servers) are checked
  // several times per request: answers are remembered, in a bounded map cleared when full.
  const answers = new Map<string, boolean>();
  return Object.freeze({
    source,
    has(address: string): boolean {
      const known = answers.get(address);
      if (known !== undefined) return known;
      const a = normalizeIp(address);
      const family = ipFamily(a);
      const answer = family ? list.check(a, family) : false;
      if (answers.size >= 4096) answers.clear();
      answers.set(address, answer);
      return answer;
    },
  });
}
