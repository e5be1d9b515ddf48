import { ConfigError, type Config } from '../config.js';
import { PRESETS } from '../net/ip-set.js';
import { parseTargetUrl } from '../upstream/target-url.js';
import { cidrContains, formatIp, normalizeHost, parseCidr, parseIp, toEgressRequest, type Cidr, type EgressRequest, type IpValue } from './egress-address.js';
import { embeddedIpv4 } from './embedded-ipv4.js';

/**
 * Which upstreams the proxy may fetch (issue #5 §1: "not an open proxy"). Rules come from --allow-upstream
 * and --deny-upstream (and hlsd's --block-req-hostname):
 *
 *   https:                 a scheme (any host)            http://10.0.0.0/8   scheme + CIDR
 *   cdn.example.com        one host name                  *.example.com       its subdomains (not the apex)
 *   cdn.example.com:8443   host and port                  *:443               any host, that port
 *   10.0.0.0/8, fd00::/8   CIDRs (checked on resolved     127.0.0.1, [::1]    addresses
 *                          addresses)                     loopback|private|linklocal|metadata|uniquelocal|all
 *
 * A URL is refused when any deny rule matches; else, when allow rules exist, it needs one that matches.
 * Independently, loopback, link-local, cloud-metadata, "this network", multicast and reserved addresses are
 * always refused unless an allow rule names them at least as narrowly as the built-in block (`127.0.0.1`,
 * `loopback`; metadata needs `169.254.169.254` or `metadata` itself): a broad `all` or `0.0.0.0/0` does not
 * open them, and neither does a host-name rule, whose DNS may answer anything.
 *
 * An IPv6 address that carries an IPv4 address for translation or tunnelling (NAT64 64:ff9b::/96, RFC 6052
 * §2.1; local-use 64:ff9b:1::/48, RFC 8215; 6to4 2002::/16, RFC 3056 §2; Teredo 2001::/32, RFC 4380 §4 —
 * see embedded-ipv4.ts) is judged as itself and as each IPv4 address inside, exactly as if that IPv4 address
 * were the target. Both must pass. So `--allow-upstream 64:ff9b::/96` alone admits no address
 * inside it: the IPv4 address must be admitted too (`203.0.113.0/24`, a name rule, or no allow rules), and
 * the metadata or loopback address inside opens only to a rule naming it as an IPv4 address (`metadata`,
 * `127.0.0.1`), never to the IPv6 prefix. A deny rule on either form refuses.
 *
 * Judging happens twice, with the same function: before the request on the URL (names, ports, schemes,
 * IP literals), and at connect time on every address DNS returned (see pinned-lookup.ts). Pure.
 */

export type EgressDecision = 'allow' | 'deny' | 'resolve';

export interface EgressVerdict {
  /** 'resolve': nothing refuses the name itself; the addresses it resolves to decide. */
  decision: EgressDecision;
  /** For logs only (may contain the host); never sent to a client. */
  reason: string;
}

export interface EgressPolicy {
  readonly hasAllowRules: boolean;
  /** Judges a request; with `address`, the request as connected to that resolved address. */
  judge(req: EgressRequest, address?: string): EgressVerdict;
  /** Judges an absolute http(s) URL or an undici origin before any DNS lookup. */
  judgeUrl(url: string): EgressVerdict;
  /** An explicit --allow-upstream rule admits this URL (unsigned entry URLs are accepted for these). */
  explicitlyAllows(url: string): boolean;
}

type HostMatcher = { kind: 'any' } | { kind: 'name'; name: string; wildcard: boolean } | { kind: 'ip'; cidrs: readonly Cidr[] };

interface Rule {
  source: string;
  scheme: 'http:' | 'https:' | undefined;
  host: HostMatcher;
  port: number | undefined;
}

const PRESET_CIDRS: Record<string, readonly string[]> = {
  ...PRESETS,
  metadata: ['169.254.169.254', '100.100.100.200', 'fd00:ec2::254'],
};

/** Never a legitimate upstream unless named explicitly (RFC 6890 special-purpose registries, cloud IMDS). */
const RESERVED: ReadonlyArray<{ name: string; cidr: Cidr }> = (
  [
    ['"this network" (0.0.0.0/8)', '0.0.0.0/8'],
    ['loopback', '127.0.0.0/8'],
    ['link-local', '169.254.0.0/16'],
    ['cloud metadata', '169.254.169.254'],
    ['cloud metadata', '100.100.100.200'],
    ['multicast', '224.0.0.0/4'],
    ['reserved', '240.0.0.0/4'],
    ['unspecified or IPv4-compatible', '::/96'],
    ['loopback', '::1'],
    ['link-local', 'fe80::/10'],
    ['cloud metadata', 'fd00:ec2::254'],
    ['multicast', 'ff00::/8'],
  ] as const
).map(([name, text]) => ({ name, cidr: parseCidr(text)! }));

function reservedBlock(ip: IpValue): { name: string; cidr: Cidr } | undefined {
  let best: { name: string; cidr: Cidr } | undefined;
  for (const r of RESERVED) if (cidrContains(r.cidr, ip) && (!best || r.cidr.bits > best.cidr.bits)) best = r;
  return best;
}

function ruleError(option: string, rule: string, why: string): ConfigError {
  return new ConfigError(option, `${JSON.stringify(rule)}: ${why}`);
}

function parsePort(option: string, rule: string, text: string | undefined): number | undefined {
  if (text === undefined || text === '*') return undefined;
  const n = Number(text);
  if (!/^\d{1,5}$/.test(text) || n < 1 || n > 65535) throw ruleError(option, rule, 'bad port');
  return n;
}

function ipMatcher(option: string, rule: string, texts: readonly string[]): HostMatcher {
  const cidrs = texts.map((t) => parseCidr(t));
  if (cidrs.some((c) => c === undefined)) throw ruleError(option, rule, 'not an IP address or CIDR');
  return { kind: 'ip', cidrs: cidrs as Cidr[] };
}

function hostMatcher(option: string, rule: string, host: string): HostMatcher {
  if (host === '*') return { kind: 'any' };
  const preset = PRESET_CIDRS[host.toLowerCase()];
  if (preset) return ipMatcher(option, rule, preset);
  if (host.includes('/')) return ipMatcher(option, rule, [host]);
  const wildcard = host.startsWith('*.');
  const n = normalizeHost(wildcard ? host.slice(2) : host);
  if (!n || n.host.includes('*')) throw ruleError(option, rule, 'not a host name, IP address, CIDR or preset');
  if (n.ip) {
    if (wildcard) throw ruleError(option, rule, 'a wildcard needs a domain name');
    return { kind: 'ip', cidrs: [parseCidr(n.host)!] };
  }
  return { kind: 'name', name: n.host, wildcard };
}

/** One --allow-upstream / --deny-upstream entry → Rule; throws ConfigError naming the option. */
export function parseRule(option: string, text: string): Rule {
  const rule = text.trim();
  let rest = rule;
  let scheme: Rule['scheme'];
  const s = /^([a-z][a-z0-9+.-]*):(\/\/.*)?$/i.exec(rule);
  if (s) {
    const name = s[1]!.toLowerCase();
    if (name !== 'http' && name !== 'https') throw ruleError(option, rule, 'only http: and https: upstreams exist');
    scheme = `${name}:`;
    rest = (s[2] ?? '').replace(/^\/\//, '').replace(/\/+$/, '');
  }
  if (rest === '') {
    if (!scheme) throw ruleError(option, rule, 'empty rule');
    return { source: rule, scheme, host: { kind: 'any' }, port: undefined };
  }
  let host: string;
  let port: string | undefined;
  const bracket = /^\[([^\]]+)\](\/\d{1,3})?(?::(\d+|\*))?$/.exec(rest);
  const colons = rest.split(':').length - 1;
  if (bracket) {
    host = bracket[1]! + (bracket[2] ?? '');
    port = bracket[3];
  } else if (colons >= 2) {
    // Bare IPv6 (or IPv6 CIDR); a port is only recognised after a prefix length: `fd00::/8:443`.
    const m = /^(.+\/\d{1,3}):(\d+|\*)$/.exec(rest);
    host = m ? m[1]! : rest;
    port = m?.[2];
  } else {
    const m = /^([^:]+)(?::(\d+|\*))?$/.exec(rest);
    if (!m) throw ruleError(option, rule, 'expected host[:port]');
    host = m[1]!;
    port = m[2];
  }
  return { source: rule, scheme, host: hostMatcher(option, rule, host), port: parsePort(option, rule, port) };
}

function matches(rule: Rule, req: EgressRequest, ip: IpValue | undefined): boolean | 'unknown' {
  if (rule.scheme && rule.scheme !== req.protocol) return false;
  if (rule.port !== undefined && rule.port !== req.port) return false;
  const h = rule.host;
  if (h.kind === 'any') return true;
  if (h.kind === 'name') {
    if (req.ip) return false;
    return h.wildcard ? req.host.endsWith(`.${h.name}`) : req.host === h.name;
  }
  if (!ip) return 'unknown';
  return h.cidrs.some((c) => cidrContains(c, ip));
}

/** An allow rule opens a reserved block only when it is at least as narrow as the block and covers `ip`. */
function unlocks(rule: Rule, req: EgressRequest, ip: IpValue, block: Cidr): boolean {
  if (rule.host.kind !== 'ip') return false;
  if (rule.scheme && rule.scheme !== req.protocol) return false;
  if (rule.port !== undefined && rule.port !== req.port) return false;
  return rule.host.cidrs.some((c) => c.bits >= block.bits && cidrContains(c, ip));
}

const deny = (reason: string): EgressVerdict => ({ decision: 'deny', reason });

export function createEgressPolicy(security: Pick<Config['security'], 'allowUpstream' | 'denyUpstream'>): EgressPolicy {
  const allow = security.allowUpstream.map((r) => parseRule('allow-upstream', r));
  const denied = security.denyUpstream.map((r) => parseRule('deny-upstream', r));

  /** One address (or none yet: a name before DNS) against the deny rules, the reserved blocks, the allow rules. */
  function judgeAddress(req: EgressRequest, ip: IpValue | undefined): EgressVerdict {
    for (const rule of denied) {
      if (matches(rule, req, ip) === true) return deny(`matches --deny-upstream ${rule.source}`);
    }
    if (ip) {
      const block = reservedBlock(ip);
      if (block && !allow.some((r) => unlocks(r, req, ip, block.cidr))) {
        return deny(`${block.name} address, not explicitly allowed`);
      }
    }
    const settled = ip ? 'allow' : 'resolve';
    if (allow.length === 0) return { decision: settled, reason: 'no allow rules' };
    let maybe = false;
    for (const rule of allow) {
      const m = matches(rule, req, ip);
      if (m === true) return { decision: settled, reason: `matches --allow-upstream ${rule.source}` };
      if (m === 'unknown') maybe = true;
    }
    return maybe ? { decision: 'resolve', reason: 'address rules decide' } : deny('no --allow-upstream rule matches');
  }

  function judge(req: EgressRequest, address?: string): EgressVerdict {
    const ip = address === undefined ? req.ip : parseIp(address);
    if (address !== undefined && !ip) return deny('resolver answer is not an IP address');
    const verdict = judgeAddress(req, ip);
    if (!ip || verdict.decision === 'deny') return verdict;
    // The IPv4 address a translator or tunnel turns this IPv6 address into must pass on its own (module comment).
    for (const inner of embeddedIpv4(ip)) {
      const v = judgeAddress(req, inner.ip);
      if (v.decision !== 'allow') return deny(`${inner.via} carries ${formatIp(inner.ip)}: ${v.reason}`);
    }
    return verdict;
  }

  function judgeUrl(url: string): EgressVerdict {
    let origin: string;
    try {
      // The origin exactly as the upstream client hands it to undici.
      origin = parseTargetUrl(url).origin;
    } catch {
      return deny('not an absolute http(s) URL');
    }
    const req = toEgressRequest(origin);
    return req ? judge(req) : deny('unusable host');
  }

  return Object.freeze({
    hasAllowRules: allow.length > 0,
    judge,
    judgeUrl,
    explicitlyAllows: (url: string) => allow.length > 0 && judgeUrl(url).decision !== 'deny',
  });
}
