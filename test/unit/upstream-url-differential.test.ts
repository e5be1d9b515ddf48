import { expect } from 'chai';
import fc from 'fast-check';
import { ProxyError, toHttp } from '../../src/errors.js';
import { toEgressRequest } from '../../src/security/egress-address.js';
import { parseTargetUrl } from '../../src/upstream/target-url.js';

/**
 * Parser differentials: an upstream URL is accepted only when the RFC 3986 reading (what the proxy connects
 * to) and the WHATWG reading (`new URL()`: browsers, Node, undici, the egress policy) name the same scheme,
 * host, port and userinfo, and it holds no character the two treat differently. Each row: the URL, what
 * WHATWG reads, what RFC 3986 reads, the verdict. Both reading columns are checked against the parsers
 * (WHATWG: Node's `URL`; RFC 3986: the Appendix B regular expression and the §3.2 delimiters), so a row
 * cannot describe a reading that is not real. Readings: `[userinfo@]host:port`, port as written or the
 * scheme's default; `fails` when WHATWG refuses the URL, `none` when RFC 3986 finds no authority.
 */

/** RFC 3986 Appendix B: "^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?". */
const APPENDIX_B = /^(([^:/?#]+):)?(\/\/([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?/;

function rfcReads(url: string): string {
  const m = APPENDIX_B.exec(url)!;
  if (m[4] === undefined) return 'none';
  // §3.2: authority = [ userinfo "@" ] host [ ":" port ]; the host holds no "@" and (outside brackets) no ":".
  const a = /^(?:(.*)@)?(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(m[4])!;
  const port = a[3] ?? (m[2]!.toLowerCase() === 'https' ? '443' : '80');
  return `${a[1] === undefined ? '' : `${a[1]}@`}${a[2]}:${port}`;
}

function whatwgReads(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'fails';
  }
  const creds = u.username || u.password ? `${u.username}${u.password ? `:${u.password}` : ''}@` : '';
  return `${creds}${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
}

type Verdict = 'accepted' | 'refused';
type Row = [url: string, whatwg: string, rfc: string, verdict: Verdict];

const rows: Row[] = [
  // The reported case. WHATWG authority state: "url is special and c is U+005C (\)" ends the authority, so
  // the host is A and `\@127.0.0.1:B/x.m3u8` is path. RFC 3986 §2.2: `\` is neither reserved nor
  // unreserved, so the authority runs to the first "/" and the host after the last "@" is B.
  ['http://127.0.0.1:1935\\@127.0.0.1:8080/x.m3u8', '127.0.0.1:1935', '127.0.0.1:1935\\@127.0.0.1:8080', 'refused'],
  ['http://a.test\\@b.test/x.m3u8', 'a.test:80', 'a.test\\@b.test:80', 'refused'],
  ['http://a.test\\b.test/', 'a.test:80', 'a.test\\b.test:80', 'refused'],
  // WHATWG path state: a backslash in an http(s) path is a segment separator ("/x/y.m3u8"); RFC 3986 data.
  ['http://a.test/x\\y.m3u8', 'a.test:80', 'a.test:80', 'refused'],
  // Query state keeps `\` in both readings: a signed query may hold one.
  ['http://a.test/x.m3u8?sig=a\\b', 'a.test:80', 'a.test:80', 'accepted'],

  // WHATWG basic URL parser: "Remove all ASCII tab or newline from input", and leading/trailing "C0 control
  // or space". RFC 3986 §2: no production admits them (the Appendix B split still reads the raw text).
  ['http://a.te\tst/', 'a.test:80', 'a.te\tst:80', 'refused'],
  ['http://a.te\nst/', 'a.test:80', 'a.te\nst:80', 'refused'],
  ['http://a.test\r/', 'a.test:80', 'a.test\r:80', 'refused'],
  ['\x01http://a.test/', 'a.test:80', 'a.test:80', 'refused'],
  ['http://a.test/x y.m3u8', 'a.test:80', 'a.test:80', 'refused'], // WHATWG writes %20
  ['http://a.test/x\x7f.m3u8', 'a.test:80', 'a.test:80', 'refused'], // WHATWG writes %7F

  // RFC 3986 §3.2.1: "userinfo = *( unreserved / pct-encoded / sub-delims / ":" )": no "@". WHATWG keeps the
  // last "@" ("If atSignSeen is true, then prepend "%40" to buffer"); a first-"@" parser reads a.test@b.test.
  ['http://u@a.test@b.test/', 'u%40a.test@b.test:80', 'u@a.test@b.test:80', 'refused'],
  ['http://[::1]@a.test/', '%5B:%3A1%5D@a.test:80', '[::1]@a.test:80', 'refused'], // "[" "]" are gen-delims
  ['http://u%zz@a.test/', 'u%zz@a.test:80', 'u%zz@a.test:80', 'refused'], // §2.1 pct-encoded = "%" HEXDIG HEXDIG
  // No credentials to WHATWG, an empty Basic credential to the RFC 3986 split: refused.
  ['http://@a.test/', 'a.test:80', '@a.test:80', 'refused'],
  ['http://:@a.test/', 'a.test:80', ':@a.test:80', 'refused'],
  // Same userinfo to both (WHATWG percent-encodes `;` `=` in the username: same octets).
  ['http://user:pass@a.test/', 'user:pass@a.test:80', 'user:pass@a.test:80', 'accepted'],
  ['http://us%40er:p%3Ass@a.test/', 'us%40er:p%3Ass@a.test:80', 'us%40er:p%3Ass@a.test:80', 'accepted'],
  ['http://u;x=1:p!$@a.test/', 'u%3Bx%3D1:p!$@a.test:80', 'u;x=1:p!$@a.test:80', 'accepted'],
  // An allowed host as userinfo: both readings name b.test, so the policy judges b.test (security-egress).
  ['http://a.test:8080@b.test:8080/', 'a.test:8080@b.test:8080', 'a.test:8080@b.test:8080', 'accepted'],

  // RFC 3986 §3.2.3: "port = *DIGIT"; producers "should omit the port component and its ':' delimiter if port
  // is empty". WHATWG port state: an empty buffer is no port, leading zeros are a number (080 is 80).
  ['http://a.test:/', 'a.test:80', 'a.test:', 'refused'],
  ['http://a.test:080/', 'a.test:80', 'a.test:080', 'refused'],
  ['http://a.test:0/', 'a.test:0', 'a.test:0', 'refused'], // nothing listens on port 0
  ['http://a.test:65536/', 'fails', 'a.test:65536', 'refused'], // WHATWG: "port is greater than 2^16 − 1"
  ['http://a.test:8080:90/', 'fails', 'a.test:8080:90', 'refused'],
  ['http://a.test:\uff18\uff10/', 'fails', 'a.test:\uff18\uff10', 'refused'], // fullwidth digits
  ['http://a.test:80/', 'a.test:80', 'a.test:80', 'accepted'], // default port written out
  ['https://a.test:443/', 'a.test:443', 'a.test:443', 'accepted'],
  ['http://a.test:8080/', 'a.test:8080', 'a.test:8080', 'accepted'],

  // RFC 3986 §3.2.2: "The host subcomponent is case-insensitive"; WHATWG lower-cases (domain to ASCII).
  ['HTTP://A.Test/x', 'a.test:80', 'A.Test:80', 'accepted'],
  ['http://a.test./', 'a.test.:80', 'a.test.:80', 'accepted'], // both keep the trailing dot
  ['http://a_b.test/', 'a_b.test:80', 'a_b.test:80', 'accepted'],
  // §3.2.2 "IP-literal = "[" ( IPv6address / IPvFuture ) "]"": the same address in WHATWG's compressed form.
  ['http://[::1]:8080/', '[::1]:8080', '[::1]:8080', 'accepted'],
  ['http://[::ffff:127.0.0.1]/', '[::ffff:7f00:1]:80', '[::ffff:127.0.0.1]:80', 'accepted'],
  ['http://[v1.x]/', 'fails', '[v1.x]:80', 'refused'], // IPvFuture: WHATWG has none
  ['http://[fe80::1%25eth0]/', 'fails', '[fe80::1%25eth0]:80', 'refused'], // zone ids are RFC 6874, not WHATWG
  // §3.2.2 "reg-name = *( unreserved / pct-encoded / sub-delims )": ASCII only; WHATWG keeps `{` and maps
  // non-ASCII through UTS #46 ("domain to ASCII": U+3002 and fullwidth forms become ASCII, IDNs punycode).
  ['http://a{b.test/', 'a{b.test:80', 'a{b.test:80', 'refused'],
  ['http://127\u30020\u30020\u30021/', '127.0.0.1:80', '127\u30020\u30020\u30021:80', 'refused'],
  ['http://\uff11\uff12\uff17.0.0.1/', '127.0.0.1:80', '\uff11\uff12\uff17.0.0.1:80', 'refused'],
  ['http://b\u00fccher.test/', 'xn--bcher-kva.test:80', 'b\u00fccher.test:80', 'refused'],
  ['http://xn--bcher-kva.test/', 'xn--bcher-kva.test:80', 'xn--bcher-kva.test:80', 'accepted'], // punycode: one spelling
  // WHATWG host parser: "the percent-decoding of input", then domain to ASCII. RFC 3986 §2.3: percent-encoded
  // unreserved characters "are equivalent" (so %31%32%37 is 127, %2E is "."); §2.2: reserved ones are not.
  ['http://b%C3%BCcher.test/', 'xn--bcher-kva.test:80', 'b%C3%BCcher.test:80', 'refused'],
  ['http://a%40b.test/', 'fails', 'a%40b.test:80', 'refused'],
  ['http://a%2Etest/', 'a.test:80', 'a%2Etest:80', 'accepted'],
  // §3.2.2: "If host matches the rule for IPv4address, then it should be considered an IPv4 address literal
  // and not a reg-name"; `%31%32%37.0.0.1` does not match it (a reg-name to RFC 3986, an address to WHATWG).
  ['http://%31%32%37.0.0.1/', '127.0.0.1:80', '%31%32%37.0.0.1:80', 'refused'],
  // WHATWG "IPv4 number parser" (0x hex, 0 octal, fewer than four parts, a trailing dot) vs an RFC 3986
  // reg-name. §7.4 "Rare IP Address Formats": "these additional IP address formats are not allowed in the URI
  // syntax due to differences between platform implementations", e.g. a leading zero read as octal by some
  // and as decimal by others (issue #15 §4: refused, whatever value WHATWG reads).
  ['http://2130706433/', '127.0.0.1:80', '2130706433:80', 'refused'],
  ['http://0x7f.1/', '127.0.0.1:80', '0x7f.1:80', 'refused'],
  ['http://127.1/', '127.0.0.1:80', '127.1:80', 'refused'],
  ['http://0177.0.0.1/', '127.0.0.1:80', '0177.0.0.1:80', 'refused'],
  ['http://127.0.0.1./', '127.0.0.1:80', '127.0.0.1.:80', 'refused'],
  ['http://010.0.0.1/', '8.0.0.1:80', '010.0.0.1:80', 'refused'], // octal to WHATWG, 10.0.0.1 to a decimal reader
  ['http://10.0.0.1/', '10.0.0.1:80', '10.0.0.1:80', 'accepted'], // the one IPv4address spelling
  ['http://1.2.3.4.5/', 'fails', '1.2.3.4.5:80', 'refused'], // WHATWG: ends in a number, not IPv4
  ['http://09.1/', 'fails', '09.1:80', 'refused'], // WHATWG: 09 is not octal

  // WHATWG "special authority ignore slashes state": http:a, http:/a, http:///a all have host a; RFC 3986 §3:
  // the authority needs "//" and may be empty.
  ['http:/a.test/', 'a.test:80', 'none', 'refused'],
  ['http:a.test/', 'a.test:80', 'none', 'refused'],
  ['http:///a.test/', 'a.test:80', ':80', 'refused'],

  // §2.4: percent-encoded octets in path and query are data, kept as written (signed CDN queries).
  ['http://a.test/p%2Fq/x.m3u8?token=a~b=c%2F+d&e=%3D', 'a.test:80', 'a.test:80', 'accepted'],
  ['http://a.test?x=1', 'a.test:80', 'a.test:80', 'accepted'],
  ['http://a.test/x.m3u8#frag', 'a.test:80', 'a.test:80', 'accepted'],
];

describe('upstream URL: parser differentials (RFC 3986 vs WHATWG)', () => {
  for (const [url, whatwg, rfc, verdict] of rows) {
    it(`${JSON.stringify(url)}: WHATWG ${JSON.stringify(whatwg)}, RFC 3986 ${JSON.stringify(rfc)} → ${verdict}`, () => {
      expect(whatwgReads(url), 'WHATWG column').to.equal(whatwg);
      expect(rfcReads(url), 'RFC 3986 column').to.equal(rfc);
      let target: ReturnType<typeof parseTargetUrl> | undefined;
      let error: unknown;
      try {
        target = parseTargetUrl(url);
      } catch (err) {
        error = err;
      }
      if (verdict === 'refused') {
        expect(error, 'refused').to.be.instanceOf(ProxyError);
        expect((error as ProxyError).code).to.equal('BAD_TOKEN');
        expect(toHttp(error)).to.deep.include({ status: 400, body: 'malformed proxy token\n' });
        return;
      }
      expect(error, 'accepted').to.equal(undefined);
      // The host and port connected to are WHATWG's; path and query are the RFC 3986 text, byte for byte.
      const hostPort = whatwg.slice(whatwg.lastIndexOf('@') + 1);
      expect(`${target!.hostname.includes(':') ? `[${target!.hostname}]` : target!.hostname}:${target!.port}`).to.equal(hostPort);
      const m = APPENDIX_B.exec(url)!;
      expect(target!.path).to.equal(`${m[5] || '/'}${m[6] ?? ''}`);
    });
  }
});

describe('upstream URL: parser differentials (property)', () => {
  // `[userinfo@]host[:port]` built from the pieces that make parsers disagree, any of them anywhere.
  const odd = fc.constantFrom(...'@:\\/?#[].%0x9\t\n \x7f_~!$'.split(''));
  const hosts = fc.constantFrom('a.test', 'A.Test', '127.0.0.1', '2130706433', '0x7f.1', '0177.0.0.1', '127.1', '[::1]', '[::ffff:127.0.0.1]');
  const encoded = fc.constantFrom('%31%32%37', '%2e', '%41', '%C3%BC', '\u00fc', '\u3002', '\uff0e', 'xn--bcher-kva');
  const join = (arb: fc.Arbitrary<string>, max: number): fc.Arbitrary<string> =>
    fc.array(arb, { minLength: 1, maxLength: max }).map((parts) => parts.join(''));
  const sometimes = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
    fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
  const userinfo = sometimes(join(fc.oneof({ weight: 3, arbitrary: fc.constantFrom('user:pass', 'u;x=', 'a.test:8080') }, encoded, odd), 2));
  const port = sometimes(fc.constantFrom(':80', ':080', ':', ':8080', ':65536', ':0', ':443'));
  const authority = fc
    .tuple(userinfo, join(fc.oneof({ weight: 6, arbitrary: hosts }, encoded, odd), 3), port)
    .map(([u, h, p]) => `${u === undefined ? '' : `${u}@`}${h}${p ?? ''}`);
  const url = fc.tuple(fc.constantFrom('http', 'https', 'HTTP'), authority, fc.constantFrom('/x.m3u8', '/a\\b', '?q=%2F+~', ''))
    .map(([scheme, auth, rest]) => `${scheme}://${auth}${rest}`);

  it('whenever parseTargetUrl accepts, its host and port are new URL()\'s, and the policy judges that host', () => {
    let accepted = 0;
    fc.assert(
      fc.property(url, (u) => {
        let target: ReturnType<typeof parseTargetUrl>;
        try {
          target = parseTargetUrl(u);
        } catch (err) {
          expect(err, u).to.be.instanceOf(ProxyError);
          return;
        }
        const w = new URL(u);
        expect(target.hostname, u).to.equal(w.hostname.replace(/^\[(.*)\]$/, '$1'));
        expect(target.port, u).to.equal(w.port ? Number(w.port) : w.protocol === 'https:' ? 443 : 80);
        expect(toEgressRequest(target.origin), u).to.deep.equal(toEgressRequest(u));
        accepted++;
      }),
      { numRuns: 3000 },
    );
    expect(accepted, 'the property saw accepted URLs').to.be.greaterThan(300);
  });
});
