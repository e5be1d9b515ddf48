import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress, LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { ProxyError } from '../errors.js';
import type { EgressGuard } from '../upstream/client.js';
import type { TargetUrl } from '../upstream/target-url.js';
import { toEgressRequest } from './egress-address.js';
import type { EgressPolicy } from './egress-policy.js';

/**
 * Enforcing the egress policy (issue #5 §1) at the two places a request can go somewhere:
 *
 * - `createEgressGuard`: before every hop (entry URL and each redirect), on the URL — scheme, port, host
 *   names, IP literals. No DNS here: a check that resolved the name and then let the socket resolve it
 *   again would be a time-of-check/time-of-use gap that DNS rebinding walks through.
 * - `createPinnedLookup`: the `lookup` of the upstream sockets (undici Agent `connect` options, one per
 *   origin). It resolves the name ONCE, judges every address the resolver returned, and hands exactly those
 *   checked addresses to the socket. If any address is refused the connection is refused: a rebinding answer
 *   that mixes an allowed and a refused address gets nothing.
 */

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Name → addresses. Injectable, so tests answer from a local DNS server or a table. */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** The operating system's resolver (getaddrinfo: /etc/hosts, then DNS), as node's own sockets use it. */
export const systemResolver: HostResolver = async (hostname) => {
  const answers = await dnsLookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

function refused(reason: string): ProxyError {
  return new ProxyError('EGRESS_DENIED', { detail: reason });
}

/**
 * Origins whose URL verdict is remembered. Re-judging costs a WHATWG URL parse and BigInt range checks on
 * every playlist miss and every segment (measured: ~5% of a cache miss's CPU); the verdict depends only on
 * the origin string and the frozen policy, so remembering it changes no answer. Bounded, because origins
 * come from viewers' tokens.
 */
const VERDICT_MEMO_MAX = 1024;

export function createEgressGuard(policy: EgressPolicy): EgressGuard {
  // origin → reason it is refused, or null when the URL check lets it through (DNS answers are still
  // judged at connect time by the pinned lookup, never remembered here).
  const memo = new Map<string, string | null>();
  const judgeOrigin = (origin: string): string | null => {
    const req = toEgressRequest(origin);
    if (!req) return 'unusable upstream host';
    const verdict = policy.judge(req);
    return verdict.decision === 'deny' ? verdict.reason : null;
  };
  return {
    async check(target: TargetUrl): Promise<void> {
      let refusal = memo.get(target.origin);
      if (refusal === undefined) {
        refusal = judgeOrigin(target.origin);
        if (memo.size >= VERDICT_MEMO_MAX) memo.clear();
        memo.set(target.origin, refusal);
      }
      if (refusal !== null) throw refused(refusal);
    },
  };
}

function notFound(hostname: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`no usable address for ${hostname}`);
  err.code = 'ENOTFOUND';
  return err;
}

function wantedFamily(options: LookupOptions): 4 | 6 | undefined {
  const f = options.family as unknown;
  if (f === 4 || f === 'IPv4') return 4;
  if (f === 6 || f === 'IPv6') return 6;
  return undefined;
}

/**
 * A `net.connect` lookup for sockets to `origin` (`scheme://host:port`, as undici keys its pools): the
 * scheme and port come from the origin, so rules such as `10.0.0.0/8:8443` are judged on the address with
 * their port. Handles both callback shapes node uses (`all: true` for happy eyeballs, RFC 8305).
 */
export function createPinnedLookup(policy: EgressPolicy, origin: string, resolve: HostResolver): LookupFunction {
  const req = toEgressRequest(origin);
  return (hostname, options, callback) => {
    const run = async (): Promise<ResolvedAddress[]> => {
      if (!req) throw refused('unusable upstream host');
      const answers = await resolve(hostname);
      if (answers.length === 0) throw notFound(hostname);
      for (const a of answers) {
        const verdict = policy.judge(req, a.address);
        if (verdict.decision !== 'allow') throw refused(`${verdict.reason} (resolved)`);
      }
      const family = wantedFamily(options);
      const usable = family ? answers.filter((a) => a.family === family) : answers;
      if (usable.length === 0) throw notFound(hostname);
      return usable;
    };
    run().then(
      (usable) => {
        if (options.all) callback(null, usable as LookupAddress[]);
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}
