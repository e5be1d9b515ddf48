/**
 * The response side of the plain-http upstream client (src/upstream/h1-parse.ts): heads, framing and
 * chunked decoding, including everything it must refuse (a reading an intermediary could disagree with).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ChunkedDecoder, H1ParseError, framingOf, headEnd, keepAliveOf, parseHead } from '../../src/upstream/h1-parse.js';

const head = (status: number, headers: Record<string, string | string[]> = {}, minor: 0 | 1 = 1) => ({ status, minor, headers });

describe('h1-parse: response heads', () => {
  it('status, lower-cased names, trimmed values, repeated fields in order', () => {
    const h = parseHead('HTTP/1.1 206 Partial Content\r\nContent-Type:  video/mp2t \r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Empty:\r\nX-Obs: caf\xe9');
    expect(h.status).to.equal(206);
    expect(h.minor).to.equal(1);
    expect(h.headers).to.deep.equal({ 'content-type': 'video/mp2t', 'set-cookie': ['a=1', 'b=2'], 'x-empty': '', 'x-obs': 'caf\xe9' });
  });

  it('HTTP/1.0 and a status line without a reason phrase', () => {
    expect(parseHead('HTTP/1.0 200').minor).to.equal(0);
    expect(parseHead('HTTP/1.1 404 ').status).to.equal(404);
  });

  const refused: Array<[string, string]> = [
    ['HTTP/2 status line', 'HTTP/2 200 OK'],
    ['lower-case protocol', 'http/1.1 200 OK'],
    ['two-digit status', 'HTTP/1.1 20 OK'],
    ['status 099', 'HTTP/1.1 099 OK'],
    ['no space before the status', 'HTTP/1.1  200 OK'],
    ['a control character in the reason', 'HTTP/1.1 200 O\x01K'],
    ['obs-fold (a continuation line)', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded'],
    ['a space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 5'],
    ['a line without a colon', 'HTTP/1.1 200 OK\r\nnonsense'],
    ['an empty name', 'HTTP/1.1 200 OK\r\n: x'],
    ['a bare LF inside the head', 'HTTP/1.1 200 OK\r\nX-A: 1\nX-B: 2'],
    ['a bare CR in a value', 'HTTP/1.1 200 OK\r\nX-A: 1\r2'],
    ['a NUL in a value', 'HTTP/1.1 200 OK\r\nX-A: 1\x002'],
    ['a non-token name', 'HTTP/1.1 200 OK\r\nX(A): 1'],
  ];
  for (const [name, text] of refused) {
    it(`refuses ${name}`, () => expect(() => parseHead(text)).to.throw(H1ParseError));
  }

  it('finds the end of a head at any offset, and not before the blank line', () => {
    const bytes = Buffer.from('HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody');
    expect(headEnd(bytes, 0, bytes.length)).to.equal(bytes.indexOf('body'));
    for (let cut = 0; cut < bytes.indexOf('body'); cut++) expect(headEnd(bytes, 0, cut)).to.equal(-1);
    expect(headEnd(bytes, bytes.indexOf('body') - 4, bytes.length)).to.equal(bytes.indexOf('body'));
    expect(headEnd(Buffer.from('HTTP/1.1 200 OK\n\n'), 0, 17)).to.equal(-1);
  });
});

describe('h1-parse: framing (RFC 9112 §6.3) and keep-alive', () => {
  it('no body for HEAD, 204 and 304, whatever the fields say', () => {
    expect(framingOf(head(200, { 'content-length': '10' }), 'HEAD')).to.deep.equal({ kind: 'none' });
    expect(framingOf(head(204), 'GET')).to.deep.equal({ kind: 'none' });
    expect(framingOf(head(304, { 'content-length': '10' }), 'GET')).to.deep.equal({ kind: 'none' });
  });

  it('Content-Length, chunked, or until close', () => {
    expect(framingOf(head(200, { 'content-length': '1500000' }), 'GET')).to.deep.equal({ kind: 'length', length: 1_500_000 });
    expect(framingOf(head(200, { 'content-length': ['7', '7'] }), 'GET')).to.deep.equal({ kind: 'length', length: 7 });
    expect(framingOf(head(200, { 'transfer-encoding': 'gzip, Chunked' }), 'GET')).to.deep.equal({ kind: 'chunked' });
    expect(framingOf(head(200, { 'transfer-encoding': 'gzip' }), 'GET')).to.deep.equal({ kind: 'close' });
    expect(framingOf(head(200), 'GET')).to.deep.equal({ kind: 'close' });
  });

  const refused: Array<[string, Record<string, string | string[]>]> = [
    ['Content-Length with Transfer-Encoding (request smuggling)', { 'content-length': '5', 'transfer-encoding': 'chunked' }],
    ['Content-Lengths that differ', { 'content-length': ['5', '6'] }],
    ['a list in Content-Length', { 'content-length': '5, 5' }],
    ['a signed Content-Length', { 'content-length': '+5' }],
    ['a Content-Length beyond 2^53', { 'content-length': '9999999999999999' }],
    ['chunked before another coding', { 'transfer-encoding': 'chunked, gzip' }],
  ];
  for (const [name, headers] of refused) {
    it(`refuses ${name}`, () => expect(() => framingOf(head(200, headers), 'GET')).to.throw(H1ParseError));
  }

  it('keep-alive: HTTP/1.1 unless close; HTTP/1.0 only when asked; the upstream\'s timeout', () => {
    expect(keepAliveOf(head(200))).to.deep.equal({ reusable: true, timeoutMs: undefined });
    expect(keepAliveOf(head(200, { connection: 'Keep-Alive, Close' })).reusable).to.equal(false);
    expect(keepAliveOf(head(200, {}, 0)).reusable).to.equal(false);
    expect(keepAliveOf(head(200, { connection: 'keep-alive', 'keep-alive': 'timeout=5, max=100' }, 0))).to.deep.equal({ reusable: true, timeoutMs: 5000 });
  });
});

/** Decodes `wire` fed in the given pieces; returns the body and where the message ended in the last piece. */
function decodePieces(pieces: Buffer[]): { body: Buffer; endAt: number; piece: number } {
  const out: Buffer[] = [];
  const d = new ChunkedDecoder((buf, s, e) => out.push(Buffer.from(buf.subarray(s, e))));
  for (let i = 0; i < pieces.length; i++) {
    const at = d.feed(pieces[i]!, 0, pieces[i]!.length);
    if (at !== -1) return { body: Buffer.concat(out), endAt: at, piece: i };
  }
  return { body: Buffer.concat(out), endAt: -1, piece: -1 };
}

const encodeChunked = (chunks: Buffer[], ext = '', trailers = ''): Buffer =>
  Buffer.concat([...chunks.map((c) => Buffer.concat([Buffer.from(`${c.length.toString(16)}${ext}\r\n`), c, Buffer.from('\r\n')])), Buffer.from(`0${ext}\r\n${trailers}\r\n`)]);

describe('h1-parse: chunked decoding', () => {
  it('decodes, with extensions and trailers, and says where the message ended', () => {
    const wire = Buffer.concat([encodeChunked([Buffer.from('hello '), Buffer.from('world')], ';name="v"', 'X-Trailer: 1\r\n'), Buffer.from('NEXT')]);
    const r = decodePieces([wire]);
    expect(r.body.toString()).to.equal('hello world');
    expect(wire.subarray(r.endAt).toString()).to.equal('NEXT');
  });

  it('gives the same bytes however the wire is split (every split point, random bodies)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        (chunks, cuts, withTrailer) => {
          const bufs = chunks.map((c) => Buffer.from(c));
          const wire = encodeChunked(bufs, '', withTrailer ? 'A: b\r\n' : '');
          const pieces: Buffer[] = [];
          let at = 0;
          for (let i = 0; at < wire.length; i++) {
            const n = cuts[i % cuts.length]!;
            pieces.push(wire.subarray(at, at + n));
            at += n;
          }
          const r = decodePieces(pieces);
          expect(r.body.equals(Buffer.concat(bufs))).to.equal(true);
          expect(r.piece).to.equal(pieces.length - 1);
          expect(r.endAt).to.equal(pieces[pieces.length - 1]!.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a message not yet ended says so', () => {
    expect(decodePieces([Buffer.from('5\r\nhel')]).endAt).to.equal(-1);
    expect(decodePieces([Buffer.from('0\r\n')]).endAt).to.equal(-1);
  });

  const refused: Array<[string, string]> = [
    ['a size that is not hex', 'g\r\n'],
    ['an empty size', '\r\n'],
    ['a negative size', '-1\r\n'],
    ['a size beyond 2^52', '10000000000000\r\n'],
    ['a bare LF after the size', '5\nhello\r\n0\r\n\r\n'],
    ['data longer than its size', '5\r\nhello!\r\n0\r\n\r\n'],
    ['data not followed by CRLF', '5\r\nhelloXY'],
    ['a control character in an extension', '5;a=\x01\r\n'],
    ['a bare LF ending a trailer', '0\r\nA: b\n\r\n'],
  ];
  for (const [name, wire] of refused) {
    it(`refuses ${name}`, () => expect(() => decodePieces([Buffer.from(wire)])).to.throw(H1ParseError));
  }
});
