import { expect } from 'chai';
import fc from 'fast-check';
import { ProxyError } from '../../src/errors.js';
import { formatIp, parseIp, toEgressRequest } from '../../src/security/egress-address.js';
import { createEgressPolicy, type EgressDecision, type EgressPolicy } from '../../src/security/egress-policy.js';
import { embeddedIpv4 } from '../../src/security/embedded-ipv4.js';
import { createEgressGuard, createPinnedLookup, type HostResolver } from '../../src/security/pinned-lookup.js';
import { parseTargetUrl } from '../../src/upstream/target-url.js';

/**
 * IPv6 addresses that carry an IPv4 address for a translator or tunnel are judged as that IPv4 address too
 * (embedded-ipv4.ts, egress-policy.ts). Pure: no sockets, no DNS (the resolver is a table).
 */

const policy = (allow: string[] = [], deny: string[] = []): EgressPolicy => createEgressPolicy({ allowUpstream: allow, denyUpstream: deny });
const url = (address: string): string => `http://[${address}]/x.m3u8`;
/** The verdict on an IP literal in a URL, and on the same address as a DNS answer for a name: always equal. */
function verdicts(p: EgressPolicy, address: string): { literal: EgressDecision; resolved: EgressDecision } {
  return { literal: p.judgeUrl(url(address)).decision, resolved: p.judge(toEgressRequest('http://cdn.test')!, address).decision };
}

describe('embedded IPv4: where each scheme puts the IPv4 address', () => {
  const rows: Array<[rfc: string, address: string, expected: string[]]> = [
    // RFC 6052 §2.1: 'This document reserves a "Well-Known Prefix" for use in an algorithmic mapping. The value
    // of this IPv6 prefix is: 64:ff9b::/96'.
    ['RFC 6052 §2.1', '64:ff9b::169.254.169.254', ['169.254.169.254']],
    ['RFC 6052 §2.1', '64:ff9b::a9fe:a9fe', ['169.254.169.254']],
    ['RFC 6052 §2.1', '64:ff9b::7f00:1', ['127.0.0.1']],
    ['RFC 6052 §2.4 table, /96 row', '64:ff9b::192.0.2.33', ['192.0.2.33']],
    // RFC 8215: "This document reserves the IPv6 prefix 64:ff9b:1::/48 for local use within domains that
    // enable IPv4/IPv6 translation mechanisms." RFC 6052 §2.4 table, /48 row: 2001:db8:122::/48 and
    // 192.0.2.33 give 2001:db8:122:c000:2:2100:: — the same layout under 64:ff9b:1::/48.
    ['RFC 8215 + RFC 6052 §2.4 /48 row', '64:ff9b:1:c000:2:2100::', ['192.0.2.33']],
    ['RFC 8215 + RFC 6052 §2.2 /48', '64:ff9b:1:a9fe:a9:fe00::', ['169.254.169.254']],
    ['RFC 8215 + RFC 6052 §2.2 /48', '64:ff9b:1:7f00:0:100::', ['127.0.0.1']],
    // RFC 6052 §2.2: "Bits 64 to 71 of the address are reserved for compatibility with the host identifier
    // format defined in the IPv6 addressing architecture [RFC4291]. These bits MUST be set to zero." A
    // non-zero u octet does not hide the address.
    ['RFC 6052 §2.2 u octet', '64:ff9b:1:7f00:ff00:1ff:ffff:ffff', ['127.0.0.1']],
    // RFC 3056 §2: "It can be abbreviated as 2002:V4ADDR::/48."
    ['RFC 3056 §2', '2002:a9fe:a9fe::1', ['169.254.169.254']],
    ['RFC 3056 §2', '2002:7f00:1::', ['127.0.0.1']],
    // RFC 4380 §4: "Server IPv4: the IPv4 address of a Teredo server." ... "Each bit in the address and port
    // number is reversed; this can be done by an exclusive OR of the 16-bit port number with the hexadecimal
    // value 0xFFFF, and an exclusive OR of the 32-bit address with the hexadecimal value 0xFFFFFFFF."
    ['RFC 4380 §4', '2001:0:4136:e378:8000:63bf:3fff:fdd2', ['65.54.227.120', '192.0.2.45']],
    ['RFC 4380 §4 server', '2001:0:7f00:1:8000:63bf:f7f7:f7f7', ['127.0.0.1', '8.8.8.8']],
    ['RFC 4380 §4 client', '2001:0:4136:e378:8000:63bf:5601:5601', ['65.54.227.120', '169.254.169.254']],
    // Not translation prefixes: nothing inside.
    ['global unicast', '2606:4700::1111', []],
    ['documentation (2001:db8::/32 is not Teredo)', '2001:db8::7f00:1', []],
    ['next to the NAT64 prefixes', '64:ff9b:2::7f00:1', []],
    ['next to 6to4', '2003:7f00:1::', []],
  ];
  for (const [rfc, address, expected] of rows) {
    it(`${rfc}: ${address} carries ${expected.length ? expected.join(' and ') : 'nothing'}`, () => {
      expect(embeddedIpv4(parseIp(address)!).map((e) => formatIp(e.ip))).to.deep.equal(expected);
    });
  }

  it('IPv4 and IPv4-mapped values carry nothing more (parseIp already unwrapped the mapped form)', () => {
    expect(embeddedIpv4(parseIp('127.0.0.1')!)).to.deep.equal([]);
    expect(embeddedIpv4(parseIp('::ffff:169.254.169.254')!)).to.deep.equal([]);
  });
});

describe('embedded IPv4: verdicts without rules (URL literal and DNS answer alike)', () => {
  const rows: Array<[address: string, expected: EgressDecision]> = [
    ['64:ff9b::169.254.169.254', 'deny'], // cloud metadata, both RFC 4291 §2.2 text forms
    ['64:ff9b::a9fe:a9fe', 'deny'],
    ['64:ff9b::127.0.0.1', 'deny'], // loopback
    ['64:ff9b::7f00:1', 'deny'],
    ['64:ff9b::100.100.100.200', 'deny'], // the other metadata address
    ['64:ff9b::', 'deny'], // 0.0.0.0
    ['64:ff9b::e000:1', 'deny'], // multicast 224.0.0.1
    ['64:ff9b::10.0.0.1', 'allow'], // private: allowed as 10.0.0.1 is without rules
    ['64:ff9b::a00:1', 'allow'],
    ['64:ff9b::8.8.8.8', 'allow'], // public
    ['64:ff9b::808:808', 'allow'],
    ['64:ff9b:1:a9fe:a9:fe00::', 'deny'],
    ['64:ff9b:1:7f00:0:100::', 'deny'],
    ['64:ff9b:1:c000:2:2100::', 'allow'],
    ['2002:a9fe:a9fe::1', 'deny'],
    ['2002:7f00:1::', 'deny'],
    ['2002:808:808::1', 'allow'],
    ['2001:0:7f00:1:8000:63bf:f7f7:f7f7', 'deny'], // Teredo server 127.0.0.1
    ['2001:0:4136:e378:8000:63bf:5601:5601', 'deny'], // Teredo client 169.254.169.254, obfuscated
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'allow'],
    ['2606:4700::1111', 'allow'], // ordinary global IPv6
    ['2606:4700:4700::1111', 'allow'],
  ];
  const p = policy();
  for (const [address, expected] of rows) {
    it(`${address} → ${expected}`, () => {
      expect(verdicts(p, address)).to.deep.equal({ literal: expected, resolved: expected });
    });
  }

  it('the refusal names the scheme and the IPv4 address (for logs)', () => {
    expect(p.judgeUrl(url('64:ff9b::a9fe:a9fe')).reason).to.equal('NAT64 64:ff9b::/96 carries 169.254.169.254: cloud metadata address, not explicitly allowed');
  });
});

describe('embedded IPv4: rules — both the IPv6 address and the IPv4 address inside must pass', () => {
  const rows: Array<[allow: string[], deny: string[], address: string, expected: EgressDecision]> = [
    // An allow rule for the IPv6 prefix admits the IPv6 form only: it opens neither metadata nor loopback...
    [['64:ff9b::/96'], [], '64:ff9b::a9fe:a9fe', 'deny'],
    [['64:ff9b::/96'], [], '64:ff9b::7f00:1', 'deny'],
    [['[64:ff9b::a9fe:a9fe]'], [], '64:ff9b::a9fe:a9fe', 'deny'], // not even named as a single address
    [['2002::/16'], [], '2002:a9fe:a9fe::1', 'deny'],
    // ...nor any other IPv4 address the allow rules do not admit.
    [['64:ff9b::/96'], [], '64:ff9b::808:808', 'deny'],
    [['64:ff9b::/96', '203.0.113.0/24'], [], '64:ff9b::203.0.113.5', 'allow'],
    [['64:ff9b::/96', '203.0.113.0/24'], [], '64:ff9b::cb00:7105', 'allow'],
    [['64:ff9b::/96', '203.0.113.0/24'], [], '64:ff9b::808:808', 'deny'],
    [['64:ff9b::/96', '203.0.113.0/24'], [], '2002:cb00:7105::1', 'deny'], // the IPv6 form is not admitted
    [['203.0.113.0/24'], [], '64:ff9b::cb00:7105', 'deny'],
    [['64:ff9b::/96', 'all'], [], '64:ff9b::808:808', 'allow'],
    [['64:ff9b::/96', 'all'], [], '64:ff9b::a9fe:a9fe', 'deny'], // `all` does not open metadata, inside or out
    [['64:ff9b::/96', 'all', 'linklocal'], [], '64:ff9b::a9fe:a9fe', 'deny'],
    // A reserved IPv4 address opens only to a rule naming it as IPv4, as when it is the target itself.
    [['64:ff9b::/96', 'metadata'], [], '64:ff9b::a9fe:a9fe', 'allow'],
    [['64:ff9b::/96', 'metadata'], [], '64:ff9b::7f00:1', 'deny'],
    [['all', '127.0.0.1'], [], '64:ff9b::7f00:1', 'allow'],
    [['all', '127.0.0.1'], [], '64:ff9b::7f00:2', 'deny'],
    // A deny rule on the IPv4 address refuses every IPv6 form that carries it.
    [[], ['10.0.0.0/8'], '64:ff9b::a00:1', 'deny'],
    [[], ['10.0.0.0/8'], '64:ff9b::10.1.2.3', 'deny'],
    [[], ['10.0.0.0/8'], '64:ff9b:1:a00:0:100::', 'deny'],
    [[], ['10.0.0.0/8'], '2002:a00:1::1', 'deny'],
    [[], ['10.0.0.0/8'], '2001:0:4136:e378:8000:63bf:f5ff:fffe', 'deny'], // Teredo client 10.0.0.1
    [[], ['10.0.0.0/8'], '64:ff9b::b00:1', 'allow'],
    [[], ['private'], '64:ff9b::c0a8:101', 'deny'],
    [[], ['private'], '2002:ac10:1::1', 'deny'],
    [[], ['private'], '64:ff9b::808:808', 'allow'],
    [[], ['64:ff9b::/96'], '64:ff9b::808:808', 'deny'], // and a deny rule on the IPv6 form still refuses
    [['all'], ['10.0.0.0/8'], '2606:4700::1111', 'allow'],
  ];
  for (const [allow, deny, address, expected] of rows) {
    it(`allow ${JSON.stringify(allow)} deny ${JSON.stringify(deny)}: ${address} → ${expected}`, () => {
      expect(verdicts(policy(allow, deny), address)).to.deep.equal({ literal: expected, resolved: expected });
    });
  }

  it('a name rule admits what DNS64 synthesises for that name, except reserved IPv4 inside', () => {
    const p = policy(['*.cdn.test']);
    const req = toEgressRequest('http://a.cdn.test')!;
    expect(p.judge(req, '64:ff9b::cb00:7105').decision).to.equal('allow');
    expect(p.judge(req, '64:ff9b::a9fe:a9fe').decision).to.equal('deny');
    expect(p.judge(req, '2002:7f00:1::').decision).to.equal('deny');
  });

  it('explicitlyAllows (unsigned entry URLs) follows the same rule', () => {
    expect(policy(['64:ff9b::/96']).explicitlyAllows(url('64:ff9b::a9fe:a9fe'))).to.equal(false);
    expect(policy(['64:ff9b::/96', 'all']).explicitlyAllows(url('64:ff9b::808:808'))).to.equal(true);
  });
});

describe('embedded IPv4: judged exactly as the IPv4 address itself would be', () => {
  const hex = (n: number): string => (n & 0xffff).toString(16);
  // Built here from the RFC layouts, independently of embedded-ipv4.ts.
  const forms: Array<[name: string, embed: (o: number[]) => string]> = [
    ['NAT64 /96, dotted', (o) => `64:ff9b::${o.join('.')}`],
    ['NAT64 /96, hex', (o) => `64:ff9b::${hex((o[0]! << 8) | o[1]!)}:${hex((o[2]! << 8) | o[3]!)}`],
    ['NAT64 local-use /48', (o) => `64:ff9b:1:${hex((o[0]! << 8) | o[1]!)}:${hex(o[2]!)}:${hex(o[3]! << 8)}::`],
    ['6to4', (o) => `2002:${hex((o[0]! << 8) | o[1]!)}:${hex((o[2]! << 8) | o[3]!)}::1`],
    ['Teredo server', (o) => `2001:0:${hex((o[0]! << 8) | o[1]!)}:${hex((o[2]! << 8) | o[3]!)}:8000:63bf:3fff:fdd2`],
    ['Teredo client', (o) => `2001:0:4136:e378:8000:63bf:${hex(~((o[0]! << 8) | o[1]!))}:${hex(~((o[2]! << 8) | o[3]!))}`],
  ];
  const v4s = [
    '127.0.0.1', '127.9.9.9', '169.254.169.254', '169.254.1.1', '100.100.100.200', '0.0.0.0', '0.1.2.3', '10.0.0.1',
    '172.16.5.4', '192.168.1.1', '100.64.0.1', '224.0.0.1', '240.0.0.1', '255.255.255.255', '8.8.8.8', '203.0.113.7',
  ];
  // Policies under which the IPv6 form alone always passes, so the IPv4 address inside decides.
  const policies: Array<[string[], string[]]> = [
    [[], []],
    [[], ['private']],
    [[], ['10.0.0.0/8', '203.0.113.0/24']],
    [['all', 'loopback'], []],
    [['all', 'metadata', 'linklocal'], ['192.168.0.0/16']],
  ];
  for (const [allow, deny] of policies) {
    it(`allow ${JSON.stringify(allow)} deny ${JSON.stringify(deny)}: every form, every address`, () => {
      const p = policy(allow, deny);
      for (const v4 of v4s) {
        const expected = p.judgeUrl(`http://${v4}/`).decision;
        for (const [name, embed] of forms) {
          const address = embed(v4.split('.').map(Number));
          expect(verdicts(p, address), `${name} ${address} (${v4})`).to.deep.equal({ literal: expected, resolved: expected });
        }
      }
    });
  }
  it('property: for any IPv4 address, every form and every policy above gives the IPv4 address\'s own verdict', () => {
    const built = policies.map(([allow, deny]) => policy(allow, deny));
    fc.assert(
      fc.property(fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)), fc.nat(built.length - 1), fc.nat(forms.length - 1), (o, pi, fi) => {
        const p = built[pi]!;
        const expected = p.judgeUrl(`http://${o.join('.')}/`).decision;
        const address = forms[fi]![1](o);
        expect(verdicts(p, address), `${forms[fi]![0]} ${address}`).to.deep.equal({ literal: expected, resolved: expected });
      }),
      { numRuns: 2000 },
    );
  });
});

describe('embedded IPv4: both judging points (URL guard, pinned DNS lookup)', () => {
  const answers: Record<string, Array<{ address: string; family: 4 | 6 }>> = {
    'metadata.test': [{ address: '64:ff9b::a9fe:a9fe', family: 6 }],
    'loopback.test': [{ address: '2002:7f00:1::', family: 6 }],
    'mixed.test': [{ address: '203.0.113.5', family: 4 }, { address: '64:ff9b::7f00:1', family: 6 }],
    'nat64.test': [{ address: '64:ff9b::cb00:7105', family: 6 }],
    'v6.test': [{ address: '2606:4700::1111', family: 6 }],
  };
  const resolve: HostResolver = async (h) => answers[h] ?? [];
  const lookup = (p: EgressPolicy, host: string): Promise<{ code: string | undefined; result: unknown }> =>
    new Promise((done) => {
      createPinnedLookup(p, `http://${host}`, resolve)(host, { all: true }, (err, address) => done({ code: err?.code, result: address }));
    });

  it('a DNS answer of 64:ff9b::a9fe:a9fe (AAAA) is refused at connect time', async () => {
    expect((await lookup(policy(), 'metadata.test')).code).to.equal('EGRESS_DENIED');
    expect((await lookup(policy(['*.test']), 'metadata.test')).code).to.equal('EGRESS_DENIED');
    expect((await lookup(policy(), 'loopback.test')).code).to.equal('EGRESS_DENIED');
    expect((await lookup(policy(), 'mixed.test')).code).to.equal('EGRESS_DENIED');
  });

  it('a DNS answer carrying a public IPv4 address, and ordinary IPv6, are handed over unchanged', async () => {
    expect(await lookup(policy(), 'nat64.test')).to.deep.equal({ code: undefined, result: answers['nat64.test'] });
    expect(await lookup(policy(['*.test']), 'v6.test')).to.deep.equal({ code: undefined, result: answers['v6.test'] });
  });

  it('the URL guard refuses the literal before any request', async () => {
    const guard = createEgressGuard(policy());
    const check = async (u: string): Promise<string> => {
      try {
        await guard.check(parseTargetUrl(u));
        return 'pass';
      } catch (err) {
        return err instanceof ProxyError ? err.code : String(err);
      }
    };
    expect(await check('http://[64:ff9b::a9fe:a9fe]/latest/meta-data/')).to.equal('EGRESS_DENIED');
    expect(await check('http://[64:ff9b::169.254.169.254]/latest/meta-data/')).to.equal('EGRESS_DENIED');
    expect(await check('http://[2606:4700::1111]/x.m3u8')).to.equal('pass');
  });
});
