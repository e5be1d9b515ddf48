import { expect } from 'chai';
import fc from 'fast-check';
import { ConfigError } from '../../src/config.js';
import { resolveReference } from '../../src/manifest/resolve.js';
import { rewriteForBase } from '../../src/routes/rewrite-for-base.js';
import { parseIp, toEgressRequest, formatIp } from '../../src/security/egress-address.js';
import { createEgressPolicy, type EgressDecision, type EgressPolicy } from '../../src/security/egress-policy.js';
import { createPinnedLookup, type HostResolver } from '../../src/security/pinned-lookup.js';
import { createSigner } from '../../src/signing.js';
import { decodeTarget, isProxiableUrl } from '../../src/url-codec.js';

/**
 * The egress policy as a pure function over URLs and addresses (issue #5 §1). No sockets, no DNS.
 */

const policy = (allow: string[] = [], deny: string[] = []): EgressPolicy =>
  createEgressPolicy({ allowUpstream: allow, denyUpstream: deny });

describe('egress policy: host normalisation (WHATWG URL host parser, as undici connects)', () => {
  const table: Array<[string, string]> = [
    // WHATWG URL §3.5 IPv4 parser: decimal, hex, octal and short forms all mean 127.0.0.1.
    ['http://2130706433/', '127.0.0.1'],
    ['http://0x7f000001/', '127.0.0.1'],
    ['http://0177.0.0.1/', '127.0.0.1'],
    ['http://127.1/', '127.0.0.1'],
    ['http://0x7f.1/', '127.0.0.1'],
    ['http://127.0.0.1./', '127.0.0.1'],
    ['http://%31%32%37.0.0.1/', '127.0.0.1'],
    ['http://127\u30020\u30020\u30021/', '127.0.0.1'], // ideographic full stops are dots (UTS #46)
    // RFC 4291 §2.5.5.2: IPv4-mapped IPv6 reaches the IPv4 address.
    ['http://[::ffff:127.0.0.1]/', '127.0.0.1'],
    ['http://[::ffff:7f00:1]/', '127.0.0.1'],
    ['http://[0:0:0:0:0:0:0:1]/', '::1'],
    ['http://0/', '0.0.0.0'],
    // RFC 1034 §3.1: `a.test.` is the absolute form of `a.test`.
    ['http://Evil.TEST./', 'evil.test'],
    ['http://evil.test../', 'evil.test'],
    ['http://b\u00fccher.example/', 'xn--bcher-kva.example'],
    ['http://user:pw@evil.test:8080/', 'evil.test'],
  ];
  for (const [url, host] of table) {
    it(`${JSON.stringify(url)} → ${host}`, () => {
      expect(toEgressRequest(url)?.host).to.equal(host);
    });
  }

  it('default ports: 80 for http, 443 for https; explicit ports kept', () => {
    expect(toEgressRequest('http://a.test/')?.port).to.equal(80);
    expect(toEgressRequest('https://a.test/')?.port).to.equal(443);
    expect(toEgressRequest('https://a.test:8443/')?.port).to.equal(8443);
  });

  it('unusable hosts and schemes give undefined', () => {
    for (const u of ['file:///etc/passwd', 'gopher://a.test/', 'http://1.2.3.4.5/', 'http://999999999999/', 'http://a b/']) {
      expect(toEgressRequest(u), u).to.equal(undefined);
    }
  });

  it('parseIp reads IPv6 with an embedded dotted quad and rejects junk', () => {
    expect(formatIp(parseIp('::ffff:10.1.2.3')!)).to.equal('10.1.2.3');
    expect(formatIp(parseIp('64:ff9b::1.2.3.4')!)).to.equal('64:ff9b:0:0:0:0:102:304');
    expect(parseIp('127.1')).to.equal(undefined); // rules and DNS answers are strict; URLs go through WHATWG
    expect(parseIp('1:2:3:4:5:6:7:8:9')).to.equal(undefined);
  });
});

type Row = [url: string, expected: EgressDecision];

function table(name: string, p: EgressPolicy, rows: Row[]): void {
  describe(name, () => {
    for (const [url, expected] of rows) {
      it(`${url} → ${expected}`, () => {
        expect(p.judgeUrl(url).decision, p.judgeUrl(url).reason).to.equal(expected);
      });
    }
  });
}

describe('egress policy: verdicts on URLs before DNS', () => {
  table('no rules: everything but reserved addresses (names are judged on their addresses)', policy(), [
    ['http://127.0.0.1:8080/', 'deny'],
    ['http://2130706433/', 'deny'],
    ['http://0x7f000001/', 'deny'],
    ['http://0177.0.0.1/', 'deny'],
    ['http://127.1/', 'deny'],
    ['http://[::1]/', 'deny'],
    ['http://[::ffff:127.0.0.1]/', 'deny'],
    ['http://[::]/', 'deny'],
    ['http://0.0.0.0/', 'deny'],
    ['http://169.254.169.254/latest/meta-data/', 'deny'],
    ['http://[fd00:ec2::254]/', 'deny'],
    ['http://100.100.100.200/', 'deny'],
    ['http://169.254.10.1/', 'deny'],
    ['http://[fe80::1]/', 'deny'],
    ['http://224.0.0.1/', 'deny'],
    ['http://255.255.255.255/', 'deny'],
    ['http://10.1.2.3/', 'allow'],
    ['http://203.0.113.7/', 'allow'],
    ['http://cdn.test/', 'resolve'],
    ['file:///etc/passwd', 'deny'],
    ['gopher://cdn.test/', 'deny'],
    ['javascript:alert(1)', 'deny'],
  ]);

  table('names, wildcards, ports, schemes', policy(['*.cdn.test', 'origin.test:8443', 'https://secure.test'], ['bad.cdn.test', '*:25']), [
    ['http://a.cdn.test/x.m3u8', 'resolve'],
    ['http://x.y.cdn.test/', 'resolve'],
    ['http://A.CDN.TEST./', 'resolve'],
    ['http://cdn.test/', 'deny'], // `*.` means subdomains, not the apex
    ['http://a.cdn.test.evil.test/', 'deny'],
    ['http://acdn.test/', 'deny'],
    ['http://a.cdn.test@evil.test/', 'deny'],
    ['http://evil.test/?h=.cdn.test', 'deny'],
    ['http://evil.test#@a.cdn.test/', 'deny'],
    ['http://bad.cdn.test/', 'deny'],
    ['http://bad.cdn.test./', 'deny'],
    ['http://a.cdn.test:25/', 'deny'],
    ['http://origin.test:8443/', 'resolve'],
    ['http://origin.test/', 'deny'],
    ['http://origin.test:8444/', 'deny'],
    ['https://secure.test/', 'resolve'],
    ['http://secure.test/', 'deny'],
    ['http://127.0.0.1/', 'deny'],
    ['http://10.0.0.1/', 'deny'],
  ]);

  table('CIDRs, scheme+CIDR+port, deny CIDR inside an allowed one', policy(['10.0.0.0/8', 'http://192.168.1.0/24:8080'], ['10.9.0.0/16']), [
    ['http://10.1.2.3/', 'allow'],
    ['http://[::ffff:10.1.2.3]/', 'allow'],
    ['http://167837955/', 'deny'], // 10.1.2.3 in decimal: refused whatever the rules (url-differential.ts, issue #15 §4)
    ['http://10.9.1.1/', 'deny'],
    ['http://192.168.1.5:8080/', 'allow'],
    ['https://192.168.1.5:8080/', 'deny'],
    ['http://192.168.1.5/', 'deny'],
    ['http://172.16.0.1/', 'deny'],
    ['http://internal.test/', 'resolve'], // the addresses decide
  ]);

  table('deny-only (hlsd --block-req-hostname), IDN rules', policy([], ['evil.test', '*.evil.test', '203.0.113.0/24', 'b\u00fccher.test']), [
    ['http://evil.test/', 'deny'],
    ['http://EVIL.TEST./', 'deny'],
    ['http://a.evil.test/', 'deny'],
    ['http://notevil.test/', 'resolve'],
    ['http://203.0.113.9/', 'deny'],
    ['http://xn--bcher-kva.test/', 'deny'],
    ['http://b\u00fccher.test/', 'deny'],
  ]);

  table('reserved blocks open only to rules at least as narrow', policy(['127.0.0.1', 'all', 'linklocal']), [
    ['http://127.0.0.1/', 'allow'],
    ['http://127.0.0.2/', 'deny'],
    ['http://[::1]/', 'deny'],
    ['http://169.254.1.1/', 'allow'],
    ['http://169.254.169.254/', 'deny'], // metadata is a /32 block: `linklocal` is too broad to open it
    ['http://0.0.0.0/', 'deny'], // `all` opens nothing reserved
    ['http://8.8.8.8/', 'allow'],
  ]);

  table('`loopback` and `metadata` presets', policy(['loopback', 'metadata']), [
    ['http://127.0.0.2/', 'allow'],
    ['http://[::1]/', 'allow'],
    // Refused even where its value is allowed: WHATWG reads 127.0.0.1, RFC 3986 a name (issue #15 §4,
    // upstream/url-differential.ts), so no one reading may decide.
    ['http://2130706433/', 'deny'],
    ['http://169.254.169.254/', 'allow'],
    ['http://169.254.1.1/', 'deny'],
    ['http://8.8.8.8/', 'deny'],
  ]);
});

describe('egress policy: verdicts on resolved addresses (connect time)', () => {
  const rows: Array<[allow: string[], deny: string[], url: string, address: string, expected: EgressDecision]> = [
    [[], [], 'http://cdn.test/', '203.0.113.5', 'allow'],
    [[], [], 'http://cdn.test/', '127.0.0.1', 'deny'],
    [[], [], 'http://cdn.test/', '::ffff:169.254.169.254', 'deny'],
    [[], [], 'http://cdn.test/', 'fd00:ec2::254', 'deny'],
    [['*.cdn.test'], [], 'http://a.cdn.test/', '203.0.113.5', 'allow'],
    [['*.cdn.test'], [], 'http://a.cdn.test/', '127.0.0.1', 'deny'], // a name rule never opens loopback
    [['*.cdn.test', '127.0.0.1'], [], 'http://a.cdn.test/', '127.0.0.1', 'allow'],
    [['10.0.0.0/8'], ['10.9.0.0/16'], 'http://internal.test/', '10.1.1.1', 'allow'],
    [['10.0.0.0/8'], ['10.9.0.0/16'], 'http://internal.test/', '10.9.0.1', 'deny'],
    [['10.0.0.0/8'], [], 'http://internal.test/', '8.8.8.8', 'deny'],
    [['10.0.0.0/8:8443'], [], 'http://internal.test:8443/', '10.1.1.1', 'allow'],
    [['10.0.0.0/8:8443'], [], 'http://internal.test:80/', '10.1.1.1', 'deny'],
    [[], ['203.0.113.0/24'], 'http://cdn.test/', '203.0.113.9', 'deny'],
    [[], [], 'http://cdn.test/', 'not-an-ip', 'deny'],
  ];
  for (const [allow, deny, url, address, expected] of rows) {
    it(`allow ${JSON.stringify(allow)} deny ${JSON.stringify(deny)}: ${url} at ${address} → ${expected}`, () => {
      const req = toEgressRequest(url)!;
      expect(policy(allow, deny).judge(req, address).decision).to.equal(expected);
    });
  }

  it('pinned lookup: refuses when any answer is refused, hands over only checked answers', async () => {
    const answers: Record<string, Array<{ address: string; family: 4 | 6 }>> = {
      'mixed.test': [{ address: '203.0.113.5', family: 4 }, { address: '127.0.0.1', family: 4 }],
      'good.test': [{ address: '203.0.113.5', family: 4 }, { address: '2001:db8::5', family: 6 }],
    };
    const resolve: HostResolver = async (h) => answers[h] ?? [];
    const p = policy();
    const call = (host: string, options: object): Promise<{ err: NodeJS.ErrnoException | null; result: unknown }> =>
      new Promise((done) => createPinnedLookup(p, `http://${host}`, resolve)(host, options, (err, address, family) => done({ err, result: options && 'all' in options ? address : [address, family] })));
    const mixed = await call('mixed.test', { all: true });
    expect(mixed.err?.code).to.equal('EGRESS_DENIED');
    expect((await call('good.test', { all: true })).result).to.deep.equal(answers['good.test']);
    expect((await call('good.test', { family: 6 })).result).to.deep.equal(['2001:db8::5', 6]);
    expect((await call('none.test', {})).err?.code).to.equal('ENOTFOUND');
  });
});

describe('egress policy: rules', () => {
  const bad: Array<[string, string]> = [
    ['ftp:', 'allow-upstream'],
    ['file://x', 'allow-upstream'],
    ['*.10.0.0.1', 'allow-upstream'],
    ['300.1.1.1/8', 'allow-upstream'],
    ['cdn.test:99999', 'allow-upstream'],
    ['fd00::/200', 'allow-upstream'],
    ['a b', 'allow-upstream'],
    ['*.*.test', 'allow-upstream'],
    ['cdn.test?x', 'allow-upstream'],
    ['cdn.test#x', 'allow-upstream'],
    ['user@cdn.test', 'allow-upstream'],
  ];
  for (const [rule, option] of bad) {
    it(`${JSON.stringify(rule)} is a ConfigError naming --${option}`, () => {
      expect(() => policy([rule])).to.throw(ConfigError, `--${option}`);
    });
  }
  it('single IPv6 addresses, bracketed (with or without a port) or bare, are address rules', () => {
    const p = policy(['[2001:db8::1]:8443', '2001:db8::2', '[::1]']);
    expect(p.judgeUrl('http://[2001:db8::1]:8443/').decision).to.equal('allow');
    expect(p.judgeUrl('http://[2001:db8::1]:8444/').decision).to.equal('deny');
    expect(p.judgeUrl('http://[2001:db8::2]/').decision).to.equal('allow');
    expect(p.judgeUrl('http://[::1]/').decision).to.equal('allow'); // a /128 rule opens the ::1 block
    expect(p.judgeUrl('http://[2001:db8::3]/').decision).to.equal('deny');
  });

  it('a bad deny rule names --deny-upstream', () => {
    expect(() => policy([], ['gopher:'])).to.throw(ConfigError, '--deny-upstream');
  });

  it('explicitlyAllows: only with an allow rule that admits the URL', () => {
    expect(policy().explicitlyAllows('http://cdn.test/a.m3u8')).to.equal(false);
    expect(policy(['*.cdn.test']).explicitlyAllows('http://a.cdn.test/a.m3u8')).to.equal(true);
    expect(policy(['*.cdn.test']).explicitlyAllows('http://evil.test/a.m3u8')).to.equal(false);
    expect(policy(['*.cdn.test'], ['bad.cdn.test']).explicitlyAllows('http://bad.cdn.test/a.m3u8')).to.equal(false);
  });
});

describe('egress policy × rewriter (property): emitted tokens are judged like their sources', () => {
  const hosts = [
    'cdn.test', 'a.cdn.test', 'evil.test', 'evil.test.', 'a.cdn.test.evil.test', 'u@evil.test', 'a.cdn.test@evil.test',
    '127.0.0.1', '2130706433', '0x7f000001', '0177.0.0.1', '127.1', '[::1]', '[::ffff:127.0.0.1]', '169.254.169.254',
    '10.0.0.1', '10.9.9.9', '%31%32%37.0.0.1', 'b\u00fccher.test', 'cdn.test:25', 'a.cdn.test:8443',
  ];
  const absolute = fc
    .tuple(fc.constantFrom('http', 'https', 'HTTP'), fc.constantFrom(...hosts), fc.constantFrom('/s.ts', '/a/b.m3u8', '/k.key?x=1', ''))
    .map(([s, h, p]) => `${s}://${h}${p}`);
  const relative = fc.constantFrom('seg.ts', '../up.ts', '/root.ts', '//evil.test/x.ts', '//169.254.169.254/x.ts', '//a.cdn.test/y.ts', 'skd://key-id');
  const uri = fc.oneof(absolute, relative);
  const base = fc.constantFrom('http://a.cdn.test/live/index.m3u8', 'http://10.0.0.1/x/index.m3u8', 'https://2130706433/p.m3u8');
  const p = policy(['*.cdn.test', '10.0.0.0/8'], ['10.9.0.0/16', '*:25']);
  const signer = createSigner(['property-key-0123456789'], 0, () => 0);
  const rewriteDeps = { extOptions: { manifestExtension: 'm3u8', segmentExtension: undefined }, signer };
  const publicBase = 'http://proxy.test/hls';

  it('every http(s) URL in the output points at the proxy; decoding each token gives the resolved source URL, same verdict, valid signature', () => {
    fc.assert(
      fc.property(base, fc.array(fc.tuple(uri, uri), { minLength: 1, maxLength: 6 }), (baseUrl, pairs) => {
        const lines = ['#EXTM3U', '#EXT-X-TARGETDURATION:4'];
        const sources: string[] = [];
        for (const [key, seg] of pairs) {
          lines.push(`#EXT-X-KEY:METHOD=AES-128,URI="${key}"`, '#EXTINF:4,', seg);
          sources.push(key, seg);
        }
        const out = rewriteForBase({ version: '', body: `${lines.join('\n')}\n`, finalUrl: baseUrl, requestUrl: baseUrl, target: { url: baseUrl }, publicBase }, rewriteDeps);
        const expected = sources.map((s) => resolveReference(baseUrl, s)).filter((u) => isProxiableUrl(u));
        const emitted = [...out.matchAll(/https?:\/\/[^\s"]+/gi)].map((m) => m[0]);
        expect(emitted.length).to.equal(expected.length);
        emitted.forEach((url, i) => {
          expect(url.startsWith(`${publicBase}/`), url).to.equal(true);
          const decoded = decodeTarget(url.slice(publicBase.length + 1), { maxTokenLength: 1 << 16 });
          expect(decoded.url).to.equal(expected[i]);
          expect(p.judgeUrl(decoded.url)).to.deep.equal(p.judgeUrl(expected[i]!));
          expect(signer.verify({ url: decoded.url }, decoded.signature!)).to.equal(true);
        });
      }),
      { numRuns: 300 },
    );
  });
});
