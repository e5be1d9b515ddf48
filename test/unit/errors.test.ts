import { expect } from 'chai';
import { ProxyError, toHttp, classify } from '../../src/errors.js';

describe('errors: the one error → HTTP map', () => {
  const table: Array<[string, unknown, number]> = [
    ['malformed token', new ProxyError('BAD_TOKEN'), 400],
    ['egress denied', new ProxyError('EGRESS_DENIED'), 403],
    ['connect timeout (undici)', Object.assign(new Error('x'), { code: 'UND_ERR_CONNECT_TIMEOUT' }), 504],
    ['headers timeout (undici)', Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), 504],
    ['body timeout (undici)', Object.assign(new Error('x'), { code: 'UND_ERR_BODY_TIMEOUT' }), 504],
    ['refused, nested in cause', new Error('fetch failed', { cause: Object.assign(new Error('c'), { code: 'ECONNREFUSED' }) }), 502],
    ['upstream 404 passed through', new ProxyError('UPSTREAM_STATUS', { status: 404 }), 404],
    ['playlist too large', new ProxyError('PLAYLIST_TOO_LARGE'), 502],
    ['self-signed upstream certificate', new Error('fetch failed', { cause: Object.assign(new Error('c'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }) }), 502],
    ['certificate name mismatch', Object.assign(new Error('x'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }), 502],
    ['anything else', new TypeError('boom'), 500],
  ];
  for (const [name, err, status] of table) {
    it(`${name} → ${status}`, () => {
      expect(toHttp(err).status).to.equal(status);
    });
  }

  it('never echoes the error detail or cause in the body', () => {
    const err = new ProxyError('BAD_TOKEN', { detail: '<script>alert(1)</script>' });
    expect(toHttp(err).body).to.equal('malformed proxy token\n');
    expect(classify(err)).to.equal(err);
  });

  it('classifies upstream protocol violations as 502, with or without an HPE_ code (issue #15)', async () => {
    const { errors } = await import('undici');
    // The runtime constructor takes (message, code, data); undici's typings declare only the message.
    const HTTPParserError = errors.HTTPParserError as unknown as new (message: string, code?: string) => Error;
    const withCode = new HTTPParserError('Invalid header value char', 'INVALID_HEADER_TOKEN');
    const withoutCode = new HTTPParserError('Response does not match the HTTP/1.1 protocol (Expected HTTP/, RTSP/ or ICE/)');
    for (const e of [withCode, withoutCode, new Error('wrapped', { cause: withoutCode })]) {
      expect(classify(e).code).to.equal('UPSTREAM_BAD_RESPONSE');
      expect(toHttp(classify(e)).status).to.equal(502);
    }
    expect(classify(new Error('something else')).code).to.equal('INTERNAL');
  });
});
