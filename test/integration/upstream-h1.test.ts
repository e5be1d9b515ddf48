/**
 * The plain-http upstream client (src/upstream/h1-client.ts) against a scripted TCP origin: what goes on
 * the wire, keep-alive and its limits, the retry on a reused socket, timeouts, refused responses, every way
 * a body can be consumed, and the recycled read buffers: bodies must arrive byte-exact through pipeBody to
 * slow and fast clients at once, which they would not if a buffer went back to the pool while a write still
 * held it.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import { configFromOptions } from '../../src/config.js';
import { ProxyError } from '../../src/errors.js';
import { createUpstream, pipeBody, type Upstream } from '../../src/upstream/client.js';
import { RequestAbort } from '../../src/upstream/request-abort.js';
import { waitFor } from '../support/wait-for.js';

interface Seen {
  conn: number;
  /** nth request on its connection, from 1. */
  nth: number;
  raw: string;
  path: string;
}

type Script = (req: Seen, sock: net.Socket) => void;

/** A TCP origin answering each request with whatever the current script writes on the socket. */
async function scriptedOrigin(): Promise<{
  url: string;
  seen: Seen[];
  connections: () => number;
  open: () => number;
  script: (s: Script) => void;
  close: () => Promise<void>;
}> {
  let script: Script = (_r, sock) => sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  const seen: Seen[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((sock) => {
    const conn = ++connections;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = '';
    let nth = 0;
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        const raw = buf.slice(0, end + 4);
        buf = buf.slice(end + 4);
        const req = { conn, nth: ++nth, raw, path: raw.split(' ')[1]! };
        seen.push(req);
        script(req, sock);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    connections: () => connections,
    open: () => sockets.size,
    script: (s) => {
      script = s;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof ProxyError ? err.code : String((err as { code?: string }).code ?? err);
  }
};

const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

describe('upstream client: plain http (h1-client)', function () {
  this.timeout(30_000);
  let origin: Awaited<ReturnType<typeof scriptedOrigin>>;
  let upstream: Upstream;

  beforeEach(async () => {
    origin = await scriptedOrigin();
    upstream = createUpstream(configFromOptions({ 'headers-timeout': 400, 'body-timeout': 400 }));
  });
  afterEach(async () => {
    await upstream.close();
    await origin.close();
  });

  const text = async (path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> => {
    const res = await upstream.open(`${origin.url}${path}`, { headers });
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c as Buffer);
    return { status: res.status, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') };
  };

  it('on the wire: the path byte for byte, host from the origin, connection keep-alive, the headers as given', async () => {
    await text('/a%2Fb/~c?x=1&y=%7E+z', { range: 'bytes=0-1', 'user-agent': 'hls-sidecar', referer: 'https://r.example/' });
    const port = new URL(origin.url).port;
    expect(origin.seen[0]!.raw).to.equal(
      `GET /a%2Fb/~c?x=1&y=%7E+z HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nconnection: keep-alive\r\n` +
        'range: bytes=0-1\r\nuser-agent: hls-sidecar\r\nreferer: https://r.example/\r\n\r\n',
    );
  });

  it('keep-alive: one socket for requests in turn; 1xx skipped; HEAD, 204 and 304 leave it reusable', async () => {
    origin.script((req, sock) => {
      if (req.path === '/early') sock.write('HTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\nX-A: 2\r\n\r\nhello');
      else if (req.path === '/nc') sock.write('HTTP/1.1 304 Not Modified\r\netag: "e"\r\ncontent-length: 99\r\n\r\n');
      else if (req.path === '/empty') sock.write('HTTP/1.1 204 No Content\r\n\r\n');
      else if (req.raw.startsWith('HEAD')) sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n');
      else sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const early = await text('/early');
    expect([early.status, early.body, early.headers['x-a']]).to.deep.equal([200, 'hello', ['1', '2']]);
    expect((await text('/nc')).status).to.equal(304);
    expect((await text('/empty')).status).to.equal(204);
    const head = await upstream.open(`${origin.url}/h`, { method: 'HEAD', headers: {} });
    await head.body.dump();
    expect((await text('/ok')).body).to.equal('ok');
    expect(origin.connections()).to.equal(1);
    expect(origin.seen.map((s) => s.nth)).to.deep.equal([1, 2, 3, 4, 5]);
  });

  it('a reused socket the origin closed is retried once on a new one; a fresh one is not', async () => {
    origin.script((req, sock) => {
      if (req.nth === 2) sock.destroy();
      else sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    expect((await text('/1')).body).to.equal('ok');
    expect((await text('/2')).body).to.equal('ok');
    expect(origin.connections()).to.equal(2);
    origin.script((_req, sock) => sock.destroy());
    await upstream.close();
    upstream = createUpstream(configFromOptions({}));
    expect(await codeOf(text('/3'))).to.equal('UPSTREAM_UNREACHABLE');
  });

  it('bodies arrive byte-exact through pipeBody to slow and fast clients at once (Content-Length and chunked)', async () => {
    const bodies = [crypto.randomBytes(3_000_000), crypto.randomBytes(1_000_003)];
    origin.script((req, sock) => {
      const body = bodies[Number(req.path.slice(2, 3))]!;
      if (req.path.startsWith('/c')) {
        sock.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
        for (let at = 0; at < body.length; ) {
          const n = Math.min(body.length - at, 1 + Math.floor(Math.random() * 40_000));
          sock.write(`${n.toString(16)}\r\n`);
          sock.write(body.subarray(at, at + n));
          sock.write('\r\n');
          at += n;
        }
        sock.write('0\r\n\r\n');
      } else {
        sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`);
        sock.write(body);
      }
    });
    const front = http.createServer(async (req, res) => {
      try {
        const up = await upstream.open(`${origin.url}${req.url}`, { headers: {} });
        res.writeHead(up.status, { 'content-type': 'application/octet-stream' });
        await pipeBody(up.body, res);
      } catch {
        res.destroy();
      }
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
    try {
      const fetchOne = async (path: string, slow: boolean): Promise<string> => {
        const res = await request(`${base}${path}`);
        const chunks: Buffer[] = [];
        for await (const c of res.body) {
          chunks.push(c as Buffer);
          if (slow && chunks.length % 4 === 0) await delay(3);
        }
        return sha(Buffer.concat(chunks));
      };
      const runs = [];
      for (let i = 0; i < 12; i++) runs.push(fetchOne(`/${i % 2 ? 'c' : 'l'}${i % 4 < 2 ? 0 : 1}/${i}`, i % 3 === 0));
      const got = await Promise.all(runs);
      got.forEach((h, i) => expect(h, `request ${i}`).to.equal(sha(bodies[i % 4 < 2 ? 0 : 1]!)));
    } finally {
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    }
  });

  it('timeouts: no headers → UPSTREAM_HEADERS_TIMEOUT; a stalled body → UPSTREAM_BODY_TIMEOUT; a paused client is no stall', async () => {
    const big = crypto.randomBytes(4_000_000);
    origin.script((req, sock) => {
      if (req.path === '/hang') return;
      if (req.path === '/stall') return void sock.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf');
      sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${big.length}\r\n\r\n`);
      sock.write(big);
    });
    expect(await codeOf(upstream.open(`${origin.url}/hang`, { headers: {} }))).to.equal('UPSTREAM_HEADERS_TIMEOUT');
    expect(await codeOf(text('/stall'))).to.equal('UPSTREAM_BODY_TIMEOUT');
    // The reader stops for 3 body timeouts while the origin has everything sent: the read is held by the
    // reader, not stalled by the upstream.
    const res = await upstream.open(`${origin.url}/big`, { headers: {} });
    const chunks: Buffer[] = [];
    for await (const c of res.body) {
      chunks.push(c as Buffer);
      if (chunks.length === 2) await delay(1200);
    }
    expect(sha(Buffer.concat(chunks))).to.equal(sha(big));
  });

  for (const [name, wire] of [
    ['Content-Length with Transfer-Encoding', 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
    ['a bad status line', 'HTTP/1.1 2OO OK\r\n\r\n'],
    ['a bad chunk', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'],
    ['a head over the size limit', `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`],
    ['an upgrade nobody asked for', 'HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\n\r\n'],
  ] as const) {
    it(`refuses ${name}: UPSTREAM_BAD_RESPONSE, and the socket is closed`, async () => {
      origin.script((_r, sock) => sock.write(wire));
      expect(await codeOf(text('/x'))).to.equal('UPSTREAM_BAD_RESPONSE');
      await waitFor('the upstream socket closed', () => origin.open() === 0);
    });
  }

  it('bytes beyond Content-Length, or bytes nobody asked for: the body is right, the socket is not used again', async () => {
    origin.script((req, sock) => {
      if (req.path === '/extra') sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n');
      else if (req.path === '/then-junk') {
        sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        setTimeout(() => sock.write('junk'), 50);
      } else sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    expect((await text('/extra')).body).to.equal('ok');
    expect((await text('/next')).body).to.equal('ok');
    expect(origin.connections()).to.equal(2);
    expect((await text('/then-junk')).body).to.equal('ok');
    await delay(150);
    expect((await text('/after')).body).to.equal('ok');
    expect(origin.connections()).to.equal(3);
  });

  it('a body delimited by the close is read to the end, and that socket is not kept', async () => {
    origin.script((_r, sock) => {
      sock.write('HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n');
      sock.end('until the end');
    });
    expect((await text('/close')).body).to.equal('until the end');
    await waitFor('the upstream socket closed', () => origin.open() === 0);
  });

  it('Connection: close, HTTP/1.0 and a Keep-Alive timeout under a second: not reused', async () => {
    for (const head of ['HTTP/1.1 200 OK\r\nconnection: close', 'HTTP/1.0 200 OK', 'HTTP/1.1 200 OK\r\nkeep-alive: timeout=1']) {
      origin.script((_r, sock) => sock.write(`${head}\r\ncontent-length: 2\r\n\r\nok`));
      const before = origin.connections();
      await text('/a');
      await text('/b');
      expect(origin.connections() - before, head).to.equal(2);
    }
  });

  it('dump(): a short body keeps the socket, a long one closes it', async () => {
    const long = Buffer.alloc(1_000_000, 1);
    origin.script((req, sock) => {
      if (req.path === '/long') {
        sock.write(`HTTP/1.1 404 Not Found\r\ncontent-length: ${long.length}\r\n\r\n`);
        sock.write(long);
      } else sock.write('HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found');
    });
    await (await upstream.open(`${origin.url}/short`, { headers: {} })).body.dump();
    await (await upstream.open(`${origin.url}/short`, { headers: {} })).body.dump();
    expect(origin.connections()).to.equal(1);
    await (await upstream.open(`${origin.url}/long`, { headers: {} })).body.dump();
    await waitFor('the upstream socket closed', () => origin.open() === 0);
  });

  it('an abort before the headers rejects; one mid-body fails the body; both close the upstream socket', async () => {
    origin.script((req, sock) => {
      if (req.path === '/hang') return;
      sock.write('HTTP/1.1 200 OK\r\ncontent-length: 100000000\r\n\r\n');
      sock.write(Buffer.alloc(200_000));
    });
    const a1 = new RequestAbort();
    const p = codeOf(upstream.open(`${origin.url}/hang`, { headers: {}, signal: a1 }));
    setTimeout(() => a1.abort(), 50);
    expect(await p).to.equal('CLIENT_GONE');
    await waitFor('the upstream socket closed', () => origin.open() === 0);
    const a2 = new AbortController();
    const res = await upstream.open(`${origin.url}/big`, { headers: {}, signal: a2.signal });
    const read = (async () => {
      for await (const _c of res.body) a2.abort();
    })();
    expect(await codeOf(read)).to.equal('CLIENT_GONE');
    await waitFor('the upstream socket closed', () => origin.open() === 0);
  });

  it('the upstream closing mid-body: the pipe fails with UPSTREAM_UNREACHABLE; a client leaving closes the upstream', async () => {
    origin.script((req, sock) => {
      sock.write('HTTP/1.1 200 OK\r\ncontent-length: 10000000\r\n\r\n');
      sock.write(Buffer.alloc(100_000));
      if (req.path === '/cut') setTimeout(() => sock.destroy(), 50);
    });
    const outcomes: string[] = [];
    const front = http.createServer(async (req, res) => {
      const up = await upstream.open(`${origin.url}${req.url}`, { headers: {} });
      res.writeHead(200);
      outcomes.push(await codeOf(pipeBody(up.body, res)));
      res.destroy();
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
    try {
      const cut = await request(`${base}/cut`);
      expect(await codeOf(cut.body.arrayBuffer())).to.not.equal('resolved');
      const ac = new AbortController();
      const gone = await request(`${base}/gone`, { signal: ac.signal });
      for await (const _c of gone.body) break;
      ac.abort();
      await waitFor('both pipes settled', () => outcomes.length === 2);
      expect(outcomes).to.deep.equal(['UPSTREAM_UNREACHABLE', 'ERR_STREAM_PREMATURE_CLOSE']);
      await waitFor('the upstream sockets closed', () => origin.open() === 0);
    } finally {
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    }
  });

  it('a body peeked at (read, unshift) and then piped arrives whole', async () => {
    const body = crypto.randomBytes(500_000);
    origin.script((_r, sock) => {
      sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`);
      sock.write(body);
    });
    const front = http.createServer(async (req, res) => {
      const up = await upstream.open(`${origin.url}${req.url}`, { headers: {} });
      let first: Buffer | null = null;
      while (first === null) {
        first = up.body.read() as Buffer | null;
        if (first === null) await new Promise((r) => up.body.once('readable', r));
      }
      up.body.unshift(first);
      res.writeHead(200);
      await pipeBody(up.body, res);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    try {
      const res = await request(`http://127.0.0.1:${(front.address() as AddressInfo).port}/p`);
      expect(sha(Buffer.from(await res.body.arrayBuffer()))).to.equal(sha(body));
    } finally {
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    }
  });
});
