import { expect } from 'chai';
import { canUnshareNet, runInLoopbackNetns } from '../support/netns.js';
import { ROOT } from '../support/proxy.js';

/**
 * Egress refusals that involve non-loopback addresses (cloud metadata, private ranges, public names) run in
 * a loopback-only network namespace (test/support/security-probe.ts), so that even a broken refusal cannot
 * send a packet off the machine: it would fail with ENETUNREACH (→ 502), which these tests tell apart from
 * a refusal (→ 403). Names are answered by a table resolver that records what was asked: a refusal decided
 * on the URL must not even ask DNS.
 */

interface Case {
  label: string;
  proxy: 'open' | 'strict' | 'blocklist';
  url: string;
  ext?: string;
  status: number;
  /** Names the resolver must have been asked (default: none). */
  asked?: string[];
}

const DNS: Record<string, string[]> = {
  'meta.test': ['169.254.169.254'],
  'mixed.test': ['203.0.113.5', '127.0.0.1'],
  'public.test': ['203.0.113.5'],
  'a.cdn.test': ['203.0.113.6'],
  'a.cdn.test.': ['203.0.113.6'],
  'rebind.cdn.test': ['169.254.169.254'],
  'v6meta.cdn.test': ['fd00:ec2::254'],
  'evil.test': ['203.0.113.66'],
};

const PROXIES = {
  // Product default: no allow rule.
  open: { 'allow-upstream': [] },
  strict: { 'allow-upstream': ['*.cdn.test', '127.0.0.1:{port}'], 'deny-upstream': ['bad.cdn.test'] },
  // hlsd style: only a blocklist.
  blocklist: { 'allow-upstream': [], 'block-req-hostname': ['evil.test', '*.evil.test'] },
};

const CASES: Case[] = [
  { label: 'default: cloud metadata 169.254.169.254', proxy: 'open', url: 'http://169.254.169.254/latest/meta-data/x.m3u8', status: 403 },
  { label: 'default: cloud metadata as a segment', proxy: 'open', url: 'http://169.254.169.254/latest/meta-data/iam', ext: 'ts', status: 403 },
  { label: 'default: metadata as IPv4-mapped IPv6', proxy: 'open', url: 'http://[::ffff:a9fe:a9fe]/x.m3u8', status: 403 },
  // WHATWG reads 169.254.169.254, RFC 3986 a name: refused before any judging (issue #15 §4, url-differential.ts).
  { label: 'default: metadata as a decimal number', proxy: 'open', url: 'http://2852039166/x.m3u8', status: 400 },
  { label: 'default: metadata inside NAT64 64:ff9b::/96 (RFC 6052)', proxy: 'open', url: 'http://[64:ff9b::a9fe:a9fe]/x.m3u8', status: 403 },
  { label: 'default: loopback inside 6to4 2002::/16 (RFC 3056)', proxy: 'open', url: 'http://[2002:7f00:1::1]/x.m3u8', status: 403 },
  { label: 'default: AWS IPv6 metadata fd00:ec2::254', proxy: 'open', url: 'http://[fd00:ec2::254]/x.m3u8', status: 403 },
  { label: 'default: Alibaba metadata 100.100.100.200', proxy: 'open', url: 'http://100.100.100.200/x.m3u8', status: 403 },
  { label: 'default: link-local 169.254.1.1', proxy: 'open', url: 'http://169.254.1.1/x.m3u8', status: 403 },
  { label: 'default: 0.0.0.0', proxy: 'open', url: 'http://0.0.0.0:{other}/ok.m3u8', status: 403 },
  { label: 'default: a name resolving to metadata', proxy: 'open', url: 'http://meta.test/x.m3u8', status: 403, asked: ['meta.test'] },
  { label: 'default: a name resolving to public + loopback (rebinding mix)', proxy: 'open', url: 'http://mixed.test/x.m3u8', status: 403, asked: ['mixed.test'] },
  // Controls: the default leaves other upstreams open (and warns at start-up); here they are unreachable.
  { label: 'default control: private 10.0.0.1 is attempted (unreachable here)', proxy: 'open', url: 'http://10.0.0.1/x.m3u8', status: 502 },
  { label: 'default control: a public name is attempted (unreachable here)', proxy: 'open', url: 'http://public.test/x.m3u8', status: 502, asked: ['public.test'] },

  { label: 'strict control: the allowed origin', proxy: 'strict', url: 'http://127.0.0.1:{port}/ok.m3u8', status: 200 },
  { label: 'strict control: an allowed name is attempted (unreachable here)', proxy: 'strict', url: 'http://a.cdn.test/x.m3u8', status: 502, asked: ['a.cdn.test'] },
  { label: 'strict control: trailing-dot form of an allowed name', proxy: 'strict', url: 'http://a.cdn.test./y.m3u8', status: 502, asked: ['a.cdn.test.'] },
  { label: 'strict: http://allowed@evil', proxy: 'strict', url: 'http://a.cdn.test@evil.test/x.m3u8', status: 403 },
  { label: 'strict: http://allowed:port@evil', proxy: 'strict', url: 'http://127.0.0.1:{port}@evil.test/x.m3u8', status: 403 },
  { label: 'strict: allowed.evil (suffix trick)', proxy: 'strict', url: 'http://a.cdn.test.evil.test/x.m3u8', status: 403 },
  { label: 'strict: evil with a trailing dot', proxy: 'strict', url: 'http://evil.test./x.m3u8', status: 403 },
  { label: 'strict: denied name with a trailing dot', proxy: 'strict', url: 'http://bad.cdn.test./x.m3u8', status: 403 },
  { label: 'strict: private 10.0.0.1', proxy: 'strict', url: 'http://10.0.0.1/x.m3u8', status: 403 },
  { label: 'strict: allowed name resolving to metadata', proxy: 'strict', url: 'http://rebind.cdn.test/x.m3u8', status: 403, asked: ['rebind.cdn.test'] },
  { label: 'strict: allowed name resolving to IPv6 metadata', proxy: 'strict', url: 'http://v6meta.cdn.test/x.m3u8', status: 403, asked: ['v6meta.cdn.test'] },
  { label: 'strict: another local port (outside the allowlist)', proxy: 'strict', url: 'http://127.0.0.1:{other}/ok.m3u8', status: 403 },
  { label: 'strict: redirect from the allowed origin to metadata', proxy: 'strict', url: 'http://127.0.0.1:{port}/redirect?to=http%3A%2F%2F169.254.169.254%2Fx.m3u8', status: 403 },
  { label: 'strict: redirect from the allowed origin to a refused name', proxy: 'strict', url: 'http://127.0.0.1:{port}/redirect?to=http%3A%2F%2Fevil.test%2Fx.ts', ext: 'ts', status: 403 },

  { label: 'blocklist: blocked name', proxy: 'blocklist', url: 'http://evil.test/x.m3u8', status: 403 },
  { label: 'blocklist: blocked name, upper case + trailing dot', proxy: 'blocklist', url: 'http://EVIL.TEST./y.m3u8', status: 403 },
  { label: 'blocklist: blocked subdomain', proxy: 'blocklist', url: 'http://www.evil.test/x.m3u8', status: 403 },
  { label: 'blocklist control: another name is attempted', proxy: 'blocklist', url: 'http://public.test/z.m3u8', status: 502, asked: ['public.test'] },
];

describe('security: egress refusals for non-loopback targets (inside a loopback-only network namespace)', function () {
  this.timeout(60_000);
  let results: Array<{ status: number; body: string; asked: string[]; originHits: number; secretHits: number }> = [];
  let interfaces: string[] = [];

  before(async function () {
    if (!canUnshareNet()) {
      // Without a namespace these cases could send traffic off the machine: they are skipped, not run outside.
      this.skip();
    }
    const input = { dns: DNS, proxies: PROXIES, cases: CASES.map(({ proxy, url, ext }) => ({ proxy, url, ext })) };
    const run = await runInLoopbackNetns(process.execPath, ['--import', 'tsx', 'test/support/security-probe.ts'], {
      cwd: ROOT,
      input: JSON.stringify(input),
      timeoutMs: 45_000,
    });
    expect(run.code, run.stderr).to.equal(0);
    ({ results, interfaces } = JSON.parse(run.stdout.trim().split('\n').at(-1)!));
  });

  it('the probe ran with loopback as its only interface', () => {
    expect(interfaces).to.deep.equal(['lo']);
    expect(results).to.have.length(CASES.length);
  });

  CASES.forEach((c, i) => {
    it(`${c.label} → ${c.status}${c.asked ? `, DNS asked ${c.asked.join()}` : ', DNS never asked'}`, () => {
      const r = results[i]!;
      expect(r.status).to.equal(c.status);
      expect(r.asked).to.deep.equal(c.asked ?? []);
      if (c.status === 403) {
        expect(r.body).to.equal('upstream not allowed by egress policy\n');
        expect(r.secretHits).to.equal(0);
        // Only a redirect case may have asked the allowed origin (for the first hop).
        expect(r.originHits).to.equal(c.url.includes('/redirect?') ? 1 : 0);
      }
    });
  });
});
