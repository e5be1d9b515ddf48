/**
 * routes/offload-plan.ts (issue #16 §1): which stream requests the proxy answers with X-Accel-Redirect, and
 * the headers of that reply. One table of requests, each with the verdict it must get.
 */
import { expect } from 'chai';
import { configFromOptions } from '../../src/config.js';
import { MEDIA_EXTENSIONS, offloadHeaders, planOffload, type OffloadFacts } from '../../src/routes/offload-plan.js';

const LOCATION = '/_hls_sidecar_offload/';

function facts(over: Partial<OffloadFacts> & { clientExtra?: Record<string, string> } = {}): OffloadFacts {
  const { clientExtra, ...rest } = over;
  return {
    mode: 'auto',
    trustedPeer: true,
    method: 'GET',
    client: { 'x-hls-sidecar-offload': LOCATION, ...clientExtra },
    scope: 'public',
    upstreamHeaders: { 'user-agent': 'hls-sidecar' },
    upstream: { protocol: 'http:', extension: 'ts', userinfo: false, url: 'http://o.example/a.ts' },
    proxyOnly: { httpProxy: false, hooks: false, reqOptionHeaders: false, tlsOptions: false, insecure: false },
    ...rest,
  };
}

const base = facts();
const CASES: Array<[string, OffloadFacts, string]> = [
  ['a plain segment from a trusted front that announced it', base, 'offload'],
  ['--offload none', facts({ mode: 'none' }), 'off'],
  ['a peer not in --trust-proxy (a client cannot forge the announcement)', facts({ trustedPeer: false }), 'not-announced'],
  ['no announcement (IIS, a direct client)', facts({ client: {} }), 'not-announced'],
  ['an announced location that is not a plain path', facts({ client: { 'x-hls-sidecar-offload': 'http://evil/' } }), 'not-announced'],
  ['an announced location with a query', facts({ client: { 'x-hls-sidecar-offload': '/x?y' } }), 'not-announced'],
  ['sent back by the template after an upstream redirect', facts({ clientExtra: { 'x-hls-sidecar-stream': '1' } }), 'redirected'],
  ['the stream header from an untrusted peer is no reason either', facts({ trustedPeer: false, clientExtra: { 'x-hls-sidecar-stream': '1' } }), 'not-announced'],
  ['HEAD', facts({ method: 'HEAD' }), 'method'],
  ['a private reply (--acl-ip, a password): its Cache-Control is rewritten', facts({ scope: 'private' }), 'private'],
  ['an upstream path ending in .m3u8 under a segment token', facts({ upstream: { ...base.upstream, extension: 'm3u8' } }), 'may-be-playlist'],
  ['an upstream path without an extension (sniffed)', facts({ upstream: { ...base.upstream, extension: '' } }), 'may-be-playlist'],
  ['an fMP4 segment', facts({ upstream: { ...base.upstream, extension: 'm4s' } }), 'offload'],
  ['a key', facts({ upstream: { ...base.upstream, extension: 'key' } }), 'offload'],
  ['--http-proxy', facts({ proxyOnly: { ...base.proxyOnly, httpProxy: true } }), 'proxy-only'],
  ['--hooks (add_request_headers)', facts({ proxyOnly: { ...base.proxyOnly, hooks: true } }), 'proxy-only'],
  ['--req-options with headers', facts({ proxyOnly: { ...base.proxyOnly, reqOptionHeaders: true } }), 'proxy-only'],
  ['https with --req-insecure', facts({ upstream: { ...base.upstream, protocol: 'https:' }, proxyOnly: { ...base.proxyOnly, insecure: true } }), 'tls-options'],
  ['https with --req-options TLS material', facts({ upstream: { ...base.upstream, protocol: 'https:' }, proxyOnly: { ...base.proxyOnly, tlsOptions: true } }), 'tls-options'],
  ['plain http with --req-insecure (nothing to verify)', facts({ proxyOnly: { ...base.proxyOnly, insecure: true } }), 'offload'],
  ['https, verified', facts({ upstream: { ...base.upstream, protocol: 'https:' } }), 'offload'],
  ['userinfo in the URL (sent as Authorization)', facts({ upstream: { ...base.upstream, userinfo: true } }), 'headers'],
  ['a URL with bytes a header cannot carry', facts({ upstream: { ...base.upstream, url: 'http://o.example/\u00e9.ts' } }), 'headers'],
  ['--useragent, --referer, --origin', facts({ upstreamHeaders: { 'user-agent': 'ua', referer: 'https://r/', origin: 'https://r' } }), 'offload'],
  ['a fixed header with bytes a header cannot carry', facts({ upstreamHeaders: { 'user-agent': 'ü' } }), 'headers'],
  ['--header with another name', facts({ upstreamHeaders: { 'user-agent': 'ua', 'x-api-key': 'k' } }), 'headers'],
  ['a forwarded cookie', facts({ upstreamHeaders: { cookie: 'a=1' } }), 'headers'],
  ['forwarded Authorization', facts({ upstreamHeaders: { authorization: 'Bearer x' } }), 'headers'],
  ["the client's Range, as nginx passes it too", facts({ clientExtra: { range: 'bytes=0-9' }, upstreamHeaders: { range: 'bytes=0-9' } }), 'offload'],
  ['an Accept the command line replaced (--header accept: x)', facts({ clientExtra: { accept: '*/*' }, upstreamHeaders: { accept: 'x' } }), 'headers'],
];

describe('offload plan (issue #16 §1): what nginx may fetch instead of the proxy', () => {
  for (const [name, input, expected] of CASES) {
    it(`${name} → ${expected}`, () => {
      const v = planOffload(input);
      expect(v.offload ? 'offload' : v.reason).to.equal(expected);
      if (v.offload) expect(v.location).to.equal(LOCATION);
    });
  }

  it('--offload: auto by default, none to turn it off, anything else refused naming the option', () => {
    expect(configFromOptions().offload).to.equal('auto');
    expect(configFromOptions({ offload: 'none' }).offload).to.equal('none');
    expect(() => configFromOptions({ offload: 'always' })).to.throw(/offload/);
  });

  it('media extensions: none of them a playlist extension', () => {
    for (const ext of ['m3u8', 'm3u', '']) expect(MEDIA_EXTENSIONS.has(ext)).to.equal(false);
  });

  it('the reply: the judged address (IPv6 in brackets), path byte for byte, Host, name, the fixed headers and the own ones; no Cache-Control or Content-Type', () => {
    const h = offloadHeaders(
      LOCATION,
      { protocol: 'https:', hostname: 'cdn.example', port: 8443, path: '/a%2Fb/c.ts?x=1&y=%20', host: 'cdn.example:8443' },
      { address: '2001:db8::1', family: 6 },
      { 'user-agent': 'ua', referer: 'https://r/', range: 'bytes=0-9' },
      { 'x-request-id': 'id1', 'access-control-allow-origin': '*' },
    );
    expect(h).to.deep.equal({
      'x-request-id': 'id1',
      'access-control-allow-origin': '*',
      'x-accel-redirect': LOCATION,
      'x-hls-sidecar-scheme': 'https',
      'x-hls-sidecar-address': '[2001:db8::1]:8443',
      'x-hls-sidecar-path': '/a%2Fb/c.ts?x=1&y=%20',
      'x-hls-sidecar-host': 'cdn.example:8443',
      'x-hls-sidecar-name': 'cdn.example',
      'x-hls-sidecar-user-agent': 'ua',
      'x-hls-sidecar-referer': 'https://r/',
      'content-length': '0',
    });
    const v4 = offloadHeaders(LOCATION, { protocol: 'http:', hostname: 'o', port: 80, path: '/', host: 'o' }, { address: '10.0.0.1', family: 4 }, {}, {});
    expect(v4['x-hls-sidecar-address']).to.equal('10.0.0.1:80');
    expect(v4['x-hls-sidecar-scheme']).to.equal('http');
  });
});
