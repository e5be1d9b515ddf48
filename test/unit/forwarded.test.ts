import { expect } from 'chai';
import type { IncomingHttpHeaders } from 'node:http';
import { parsePublicHost, type Config } from '../../src/config.js';
import { parseForwarded, resolvePublicBase, validHost, validPrefix, type PublicBase } from '../../src/forwarded.js';
import { createIpSet } from '../../src/net/ip-set.js';

type Cfg = Pick<Config, 'publicHost' | 'prefix' | 'trustProxy'>;
const TRUST: Cfg = { publicHost: undefined, prefix: undefined, trustProxy: createIpSet(['10.0.0.0/8', '::1']) };
const NO_TRUST: Cfg = { ...TRUST, trustProxy: createIpSet([]) };
const PROXY = '10.0.0.5';
const CLIENT = '203.0.113.9';

interface Case {
  name: string;
  peer?: string;
  headers: IncomingHttpHeaders;
  encrypted?: boolean;
  echoedPrefix?: string;
  config?: Cfg;
  expected: Partial<PublicBase>;
}

const xf = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example', 'x-forwarded-prefix': '/hls-proxy' };

const cases: Case[] = [
  // Direct: Host header, TLS flag, echoed prefix.
  { name: 'direct request', peer: CLIENT, headers: { host: 'side.test:8080' }, echoedPrefix: '/hls-proxy', expected: { proto: 'http', host: 'side.test:8080', prefix: '/hls-proxy', clientIp: CLIENT } },
  { name: 'direct TLS request', peer: CLIENT, headers: { host: 'side.test' }, encrypted: true, expected: { proto: 'https' } },
  { name: 'missing Host → localhost', peer: CLIENT, headers: {}, expected: { host: 'localhost' } },
  { name: 'invalid Host is not echoed', peer: CLIENT, headers: { host: 'evil.test/"><script>' }, expected: { host: 'localhost' } },

  // A spoofed header from an untrusted peer has no effect.
  { name: 'untrusted peer: X-Forwarded-* ignored', peer: CLIENT, headers: { host: 'side.test', ...xf, 'x-forwarded-for': '1.2.3.4' }, expected: { proto: 'http', host: 'side.test', prefix: '', clientIp: CLIENT } },
  { name: 'untrusted peer: Forwarded ignored', peer: CLIENT, headers: { host: 'side.test', forwarded: 'for=1.2.3.4;proto=https;host=evil.test' }, expected: { proto: 'http', host: 'side.test', clientIp: CLIENT } },
  { name: 'no --trust-proxy at all: even loopback is untrusted', peer: '127.0.0.1', config: NO_TRUST, headers: { host: 'side.test', ...xf }, expected: { host: 'side.test' } },

  // Trusted peers.
  { name: 'trusted: X-Forwarded-*', peer: PROXY, headers: { host: 'side.test', ...xf, 'x-forwarded-for': CLIENT }, expected: { proto: 'https', host: 'public.example', prefix: '/hls-proxy', clientIp: CLIENT } },
  { name: 'trusted IPv4-mapped peer', peer: `::ffff:${PROXY}`, headers: { host: 'side.test', ...xf, 'x-forwarded-for': CLIENT }, expected: { host: 'public.example', clientIp: CLIENT } },
  { name: 'untrusted IPv4-mapped peer is unwrapped', peer: `::ffff:${CLIENT}`, headers: { host: 'side.test', ...xf }, expected: { host: 'side.test', clientIp: CLIENT } },
  { name: 'trusted IPv6 peer', peer: '::1', headers: { host: 'side.test', ...xf }, expected: { host: 'public.example' } },
  { name: 'first comma-separated value', peer: PROXY, headers: { host: 'side.test', 'x-forwarded-proto': 'https, http', 'x-forwarded-host': 'a.example, b.example' }, expected: { proto: 'https', host: 'a.example' } },
  { name: 'X-Forwarded-Port added', peer: PROXY, headers: { host: 'side.test', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example', 'x-forwarded-port': '8443' }, expected: { host: 'public.example:8443' } },
  { name: 'X-Forwarded-Port replaces the Host port', peer: PROXY, headers: { host: 'side.test:3000', 'x-forwarded-port': '8080' }, expected: { proto: 'http', host: 'side.test:8080' } },
  { name: 'X-Forwarded-Port default port dropped', peer: PROXY, headers: { host: 'side.test:3000', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443' }, expected: { proto: 'https', host: 'side.test' } },
  { name: 'X-Forwarded-Port with IPv6 host', peer: PROXY, headers: { host: '[2001:db8::1]:3000', 'x-forwarded-port': '81' }, expected: { host: '[2001:db8::1]:81' } },
  { name: 'bad X-Forwarded-Port ignored', peer: PROXY, headers: { host: 'side.test:3000', 'x-forwarded-port': '99999' }, expected: { host: 'side.test:3000' } },
  { name: 'trusted: Forwarded (RFC 7239)', peer: PROXY, headers: { host: 'side.test', forwarded: `for=${CLIENT};proto=https;host=public.example:8443;by=${PROXY}` }, expected: { proto: 'https', host: 'public.example:8443', clientIp: CLIENT } },
  { name: 'Forwarded unquoted host:port and [v6] (lenient: common nginx config)', peer: PROXY, headers: { host: 'side.test', forwarded: 'for=[2001:db8::8]:1;host=public.example:8443' }, expected: { host: 'public.example:8443', clientIp: '2001:db8::8' } },
  { name: 'Forwarded quoted values', peer: PROXY, headers: { host: 'side.test', forwarded: 'for="[2001:db8::7]:4711";proto="https";host="public.example"' }, expected: { proto: 'https', host: 'public.example', clientIp: '2001:db8::7' } },
  { name: 'Forwarded: the first element is the client-facing hop', peer: PROXY, headers: { host: 'side.test', forwarded: 'proto=https;host=edge.example, proto=http;host=inner.example' }, expected: { proto: 'https', host: 'edge.example' } },
  { name: 'Forwarded wins over X-Forwarded-*', peer: PROXY, headers: { host: 'side.test', ...xf, forwarded: 'proto=http;host=fwd.example' }, expected: { proto: 'http', host: 'fwd.example', prefix: '/hls-proxy' } },
  { name: 'Forwarded without proto/host falls back to X-Forwarded-*', peer: PROXY, headers: { host: 'side.test', ...xf, forwarded: `for=${CLIENT}` }, expected: { proto: 'https', host: 'public.example', clientIp: CLIENT } },
  { name: 'malformed Forwarded ignored as a whole', peer: PROXY, headers: { host: 'side.test', forwarded: 'proto=https;host="unterminated' }, expected: { proto: 'http', host: 'side.test' } },
  { name: 'Forwarded repeated parameter ignored as a whole', peer: PROXY, headers: { host: 'side.test', forwarded: 'host=a.example;host=b.example' }, expected: { host: 'side.test' } },

  // Bad values are ignored (fall back), never echoed.
  { name: 'bad proto ignored', peer: PROXY, headers: { host: 'side.test', 'x-forwarded-proto': 'javascript' }, encrypted: true, expected: { proto: 'https' } },
  { name: 'proto is case-insensitive', peer: PROXY, headers: { host: 'side.test', 'x-forwarded-proto': 'HTTPS' }, expected: { proto: 'https' } },
  { name: 'bad X-Forwarded-Host ignored', peer: PROXY, headers: { host: 'side.test', 'x-forwarded-host': 'evil.test/path' }, expected: { host: 'side.test' } },
  { name: 'X-Forwarded-Host with userinfo ignored', peer: PROXY, headers: { host: 'side.test', 'x-forwarded-host': 'user@evil.test' }, expected: { host: 'side.test' } },
  { name: 'bad Forwarded host ignored', peer: PROXY, headers: { host: 'side.test', forwarded: 'host="a b"' }, expected: { host: 'side.test' } },
  { name: 'prefix with .. ignored', peer: PROXY, headers: { host: 'side.test', 'x-forwarded-prefix': '/a/../b' }, echoedPrefix: '/echo', expected: { prefix: '/echo' } },
  { name: 'prefix with %2e%2e ignored', peer: PROXY, headers: { host: 'side.test', 'x-forwarded-prefix': '/a/%2E%2e' }, expected: { prefix: '' } },
  { name: 'prefix with a quote ignored', peer: PROXY, headers: { host: 'side.test', 'x-forwarded-prefix': '/a"b' }, expected: { prefix: '' } },
  { name: 'prefix normalised', peer: PROXY, headers: { host: 'side.test', 'x-forwarded-prefix': 'hls-proxy/' }, expected: { prefix: '/hls-proxy' } },
  { name: 'prefix "/" means none', peer: PROXY, headers: { host: 'side.test', 'x-forwarded-prefix': '/' }, echoedPrefix: '/echo', expected: { prefix: '' } },
  { name: 'bad echoed prefix → none', peer: CLIENT, headers: { host: 'side.test' }, echoedPrefix: '/a//b', expected: { prefix: '' } },

  // Explicit configuration wins.
  { name: '--host :443 → https', peer: PROXY, config: { ...TRUST, publicHost: parsePublicHost('cdn.example:443') }, headers: { host: 'side.test', ...xf }, expected: { proto: 'https', host: 'cdn.example', prefix: '/hls-proxy' } },
  { name: '--host wins for an untrusted peer too', peer: CLIENT, config: { ...NO_TRUST, publicHost: parsePublicHost('cdn.example:8080') }, headers: { host: 'side.test' }, encrypted: true, expected: { proto: 'http', host: 'cdn.example:8080' } },
  { name: '--prefix wins over X-Forwarded-Prefix and the echo', peer: PROXY, config: { ...TRUST, prefix: '/conf' }, headers: { host: 'side.test', ...xf }, echoedPrefix: '/echo', expected: { prefix: '/conf', host: 'public.example' } },
  { name: '--prefix "" wins too', peer: PROXY, config: { ...TRUST, prefix: '' }, headers: { host: 'side.test', ...xf }, echoedPrefix: '/echo', expected: { prefix: '' } },

  // X-Forwarded-For walking from the right.
  { name: 'XFF: rightmost untrusted is the client', peer: PROXY, headers: { host: 'h', 'x-forwarded-for': `6.6.6.6, ${CLIENT}, 10.1.1.1` }, expected: { clientIp: CLIENT } },
  { name: 'XFF: all trusted → leftmost', peer: PROXY, headers: { host: 'h', 'x-forwarded-for': '10.3.3.3, 10.2.2.2' }, expected: { clientIp: '10.3.3.3' } },
  { name: 'XFF: IIS ARR ip:port entries', peer: PROXY, headers: { host: 'h', 'x-forwarded-for': `${CLIENT}:51234` }, expected: { clientIp: CLIENT } },
  { name: 'XFF: IPv6 and mapped entries', peer: PROXY, headers: { host: 'h', 'x-forwarded-for': `2001:db8::9, ::ffff:10.9.9.9` }, expected: { clientIp: '2001:db8::9' } },
  { name: 'XFF: garbage stops the walk at the last known hop', peer: PROXY, headers: { host: 'h', 'x-forwarded-for': `${CLIENT}, <script>, 10.1.1.1` }, expected: { clientIp: '10.1.1.1' } },
  { name: 'XFF: absent → peer', peer: PROXY, headers: { host: 'h' }, expected: { clientIp: PROXY } },
  { name: 'Forwarded for= chain walked like XFF', peer: PROXY, headers: { host: 'h', forwarded: `for=6.6.6.6, for=${CLIENT}, for=10.1.1.1`, 'x-forwarded-for': '7.7.7.7' }, expected: { clientIp: CLIENT } },
  { name: 'Forwarded for=unknown stops the walk', peer: PROXY, headers: { host: 'h', forwarded: `for=${CLIENT}, for=unknown` }, expected: { clientIp: PROXY } },
];

describe('forwarded: resolvePublicBase (issue #2 §6)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const got = resolvePublicBase({
        peer: c.peer ?? PROXY,
        headers: c.headers,
        encrypted: c.encrypted ?? false,
        echoedPrefix: c.echoedPrefix ?? '',
        config: c.config ?? TRUST,
      });
      for (const [k, v] of Object.entries(c.expected)) expect(got[k as keyof PublicBase], k).to.equal(v);
    });
  }
});

describe('forwarded: value validation', () => {
  const hosts: Array<[string, string | undefined]> = [
    ['Example.COM', 'example.com'],
    ['example.com:8443', 'example.com:8443'],
    ['[2001:db8::1]:443', '[2001:db8::1]:443'],
    ['192.0.2.1', '192.0.2.1'],
    ['[not-ip]', undefined],
    ['example.com:0', undefined],
    ['example.com:', undefined],
    ['ex ample.com', undefined],
    ['a,b', undefined],
    ['', undefined],
  ];
  for (const [input, out] of hosts) it(`host ${JSON.stringify(input)}`, () => expect(validHost(input)).to.equal(out));

  const prefixes: Array<[string, string | undefined]> = [
    ['/hls-proxy', '/hls-proxy'],
    ['/a/b/', '/a/b'],
    ['', ''],
    ['/a/./b', undefined],
    ['/a%2Fb', undefined],
    ['/a%zz', undefined],
    ['/a\r\nb', undefined],
  ];
  for (const [input, out] of prefixes) it(`prefix ${JSON.stringify(input)}`, () => expect(validPrefix(input)).to.equal(out));

  it('parseForwarded: RFC 7239 §4 example', () => {
    // "Forwarded: for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com"
    const got = parseForwarded('for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com');
    expect(got?.map((e) => ({ ...e }))).to.deep.equal([
      { for: '192.0.2.43' },
      { for: '198.51.100.17', by: '203.0.113.60', proto: 'http', host: 'example.com' },
    ]);
  });
  it('parseForwarded: quoted-pair and comma inside quotes', () => {
    expect(parseForwarded('host="a\\"b,c";proto=https')?.map((e) => ({ ...e }))).to.deep.equal([{ host: 'a"b,c', proto: 'https' }]);
  });
  it('parseForwarded: garbage → undefined', () => {
    for (const bad of ['for', 'for=', '=x', 'for=a b', 'for="x', 'for=1;for=2']) expect(parseForwarded(bad), bad).to.equal(undefined);
  });
});
