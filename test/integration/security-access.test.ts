import { expect } from 'chai';
import { request } from 'undici';
import { createSigner } from '../../src/signing.js';
import { encodeTarget } from '../../src/url-codec.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { startProxy, type RunningProxy } from '../support/proxy.js';
import { makeSecurityRoot, tokenPath } from '../support/security-kit.js';

/**
 * Signed URLs (issue #5 §2) and client ACLs (§3) through HTTP. Every refusal also checks that the upstream
 * was never contacted.
 */

const KEY = 'test-signing-key-0123456789';
const NOW_S = 1_800_000_000;

/** URI lines of a playlist body. */
const uriLines = (body: string): string[] => body.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

describe('security: signed URLs and client ACLs', function () {
  this.timeout(30_000);
  let origin: Origin;
  let secret: Origin;
  const proxies: RunningProxy[] = [];
  let nowMs = NOW_S * 1000;
  const clock = (): number => nowMs;
  const signer = createSigner([KEY], 0, clock);

  async function proxy(options: Record<string, unknown>): Promise<RunningProxy> {
    const p = await startProxy(options, { clock });
    proxies.push(p);
    return p;
  }
  async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
    const res = await request(url, { headers });
    return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
  }
  const signedPath = (url: string, ext: string, s = signer): string => `/${encodeTarget({ url }, ext, s.sign({ url }))}`;

  before(async () => {
    const root = makeSecurityRoot();
    origin = await startOrigin({ root });
    secret = await startOrigin({ root });
  });
  after(async () => {
    for (const p of proxies) await p.close();
    await origin?.close();
    await secret?.close();
  });
  beforeEach(() => {
    origin.clearLog();
    secret.clearLog();
    nowMs = NOW_S * 1000;
  });

  describe('--sign-key with an explicit --allow-upstream', () => {
    let p: RunningProxy;
    before(async () => {
      p = await proxy({ 'sign-key': [KEY], 'allow-upstream': [`127.0.0.1:${origin.port}`] });
    });

    it('an unsigned entry playlist on an allowed upstream is served; every URL written is signed and works', async () => {
      const entry = await get(`${p.url}${tokenPath(`${origin.url}/ok.m3u8`)}`);
      expect(entry.status).to.equal(200);
      const children = uriLines(entry.body);
      expect(children).to.have.length(2);
      for (const child of children) {
        expect(child).to.match(/\.s[A-Za-z0-9_-]{43}\.ts$/);
        const seg = await get(child);
        expect(seg.status, child).to.equal(200);
        expect(String(seg.headers['cache-control'] ?? ''), 'let through by its signature: not private').to.not.match(/private/);
      }
    });

    const refused: Array<[string, (o: Origin, s: Origin) => string]> = [
      ['an unsigned segment', (o) => tokenPath(`${o.url}/seg0.ts`, 'ts')],
      ['an unsigned entry playlist on an upstream no rule names', (_o, s) => tokenPath(`${s.url}/ok.m3u8`)],
      ['a tampered signature', (o) => signedPath(`${o.url}/seg0.ts`, 'ts').replace(/\.s(.)/, (_m, c: string) => `.s${c === 'A' ? 'B' : 'A'}`)],
      ['a signature moved onto another URL', (o, s) => `/${encodeTarget({ url: `${s.url}/seg0.ts` }, 'ts', signer.sign({ url: `${o.url}/seg0.ts` }))}`],
      ['a signature made with another key', (o) => signedPath(`${o.url}/seg0.ts`, 'ts', createSigner(['another-key-0123456789'], 0, clock))],
    ];
    for (const [label, path] of refused) {
      it(`${label} → 403 BAD_SIGNATURE, upstream never contacted`, async () => {
        const res = await get(`${p.url}${path(origin, secret)}`);
        expect(res.status).to.equal(403);
        expect(res.body).to.equal('missing or invalid signature\n');
        expect(origin.countRequests() + secret.countRequests()).to.equal(0);
      });
    }

    it('a segment URL signed with the key is served', async () => {
      expect((await get(`${p.url}${signedPath(`${origin.url}/seg0.ts`, 'ts')}`)).status).to.equal(200);
    });

    it('a valid signature does not bypass the egress policy', async () => {
      const res = await get(`${p.url}${signedPath(`${secret.url}/seg0.ts`, 'ts')}`);
      expect(res.status).to.equal(403);
      expect(res.body).to.equal('upstream not allowed by egress policy\n');
      expect(secret.countRequests()).to.equal(0);
    });
  });

  it('--require-signature: unsigned entry URLs are refused too; signed ones work', async () => {
    const p = await proxy({ 'sign-key': [KEY], 'require-signature': true, 'allow-upstream': [`127.0.0.1:${origin.port}`] });
    const unsigned = await get(`${p.url}${tokenPath(`${origin.url}/ok.m3u8`)}`);
    expect(unsigned.status).to.equal(403);
    expect(origin.countRequests()).to.equal(0);
    expect((await get(`${p.url}${signedPath(`${origin.url}/ok.m3u8`, 'm3u8')}`)).status).to.equal(200);
  });

  it('--sign-ttl: a signature stops working after its expiry', async () => {
    const p = await proxy({ 'sign-key': [KEY], 'sign-ttl': 60, 'allow-upstream': [`127.0.0.1:${origin.port}`] });
    const entry = await get(`${p.url}${tokenPath(`${origin.url}/ok.m3u8`)}`);
    const child = uriLines(entry.body)[0]!;
    expect(child).to.match(new RegExp(`\\.s${NOW_S + 60}_`));
    expect((await get(child)).status).to.equal(200);
    nowMs += 61_000;
    origin.clearLog();
    expect((await get(child)).status).to.equal(403);
    expect(origin.countRequests()).to.equal(0);
  });

  describe('--acl-ip (client address via --trust-proxy only)', () => {
    it('a client outside the list gets 403; a trusted proxy vouching for a listed client passes', async () => {
      const p = await proxy({ 'acl-ip': ['10.0.0.0/8'] }); // trust-proxy default: loopback
      const direct = await get(`${p.url}${tokenPath(`${origin.url}/ok.m3u8`)}`);
      expect(direct.status).to.equal(403);
      expect(direct.body).to.equal('forbidden\n');
      expect(origin.countRequests()).to.equal(0);
      const vouched = await get(`${p.url}${tokenPath(`${origin.url}/ok.m3u8`)}`, { 'x-forwarded-for': '10.1.2.3' });
      expect(vouched.status).to.equal(200);
      // RFC 9111 §5.2.2.7: decided by who asked, so no shared cache (nginx's micro-cache, a CDN) may keep it.
      expect(vouched.headers['cache-control']).to.match(/^private, max-age=\d+$/);
      expect(vouched.headers['x-accel-expires']).to.equal(undefined);
    });

    it('forwarded headers from an untrusted peer are ignored: spoofing a listed address gets 403', async () => {
      const p = await proxy({ 'acl-ip': ['10.0.0.0/8'], 'trust-proxy': ['none'] });
      const spoofs: Array<Record<string, string>> = [{ 'x-forwarded-for': '10.1.2.3' }, { forwarded: 'for=10.1.2.3' }, { 'x-real-ip': '10.1.2.3' }];
      for (const headers of spoofs) {
        expect((await get(`${p.url}${tokenPath(`${origin.url}/ok.m3u8`)}`, headers)).status, JSON.stringify(headers)).to.equal(403);
      }
      expect(origin.countRequests()).to.equal(0);
    });

    it('a listed direct client passes; its segments are private too, whatever the origin allowed', async () => {
      const p = await proxy({ 'acl-ip': ['127.0.0.1'], 'trust-proxy': ['none'] });
      expect((await get(`${p.url}${tokenPath(`${origin.url}/ok.m3u8`)}`)).status).to.equal(200);
      const undo = origin.override('/public-seg.ts', (_req, res) => {
        res.writeHead(200, { 'content-type': 'video/mp2t', 'cache-control': 'public, s-maxage=600, max-age=60' });
        res.end('segment');
      });
      try {
        const seg = await get(`${p.url}${tokenPath(`${origin.url}/public-seg.ts`, 'ts')}`);
        expect(seg.status).to.equal(200);
        expect(seg.headers['cache-control']).to.equal('private, max-age=60');
      } finally {
        undo();
      }
    });
  });

  describe('--acl-pass', () => {
    let p: RunningProxy;
    before(async () => {
      p = await proxy({ 'acl-pass': ['s3cret', 'other-pass'] });
    });

    it('no or a wrong password → 401 with a challenge, upstream never contacted', async () => {
      for (const [path, headers] of [
        [tokenPath(`${origin.url}/ok.m3u8`), {}],
        [`${tokenPath(`${origin.url}/ok.m3u8`)}?password=wrong`, {}],
        [tokenPath(`${origin.url}/seg0.ts`, 'ts'), { 'x-hls-sidecar-password': 's3cre' }],
      ] as Array<[string, Record<string, string>]>) {
        const res = await get(`${p.url}${path}`, headers);
        expect(res.status, path).to.equal(401);
        expect(res.headers['www-authenticate']).to.match(/^X-HLS-Sidecar-Password /);
      }
      expect(origin.countRequests()).to.equal(0);
    });

    it('the header passes; the password is never written into the playlist; child URLs work without it', async () => {
      const entry = await get(`${p.url}${tokenPath(`${origin.url}/ok.m3u8`)}`, { 'x-hls-sidecar-password': 'other-pass' });
      expect(entry.status).to.equal(200);
      expect(entry.headers['cache-control'], 'let through by the password: private').to.match(/^private, /);
      expect(entry.body).to.not.include('other-pass');
      expect(entry.body).to.not.include('password');
      for (const child of uriLines(entry.body)) {
        expect(child).to.match(/\.s[A-Za-z0-9_-]{43}\.ts$/);
        expect((await get(child)).status, child).to.equal(200);
      }
    });

    it('?password= passes and is not sent upstream; a tampered child signature is refused', async () => {
      const entry = await get(`${p.url}${tokenPath(`${origin.url}/ok2.m3u8`)}?password=s3cret&x=1`);
      expect(entry.status).to.equal(200);
      expect(origin.log[0]!.path).to.equal('/ok2.m3u8?x=1');
      const child = uriLines(entry.body)[0]!.replace(/\.s(.)/, (_m, c: string) => `.s${c === 'A' ? 'B' : 'A'}`);
      expect((await get(child)).status).to.equal(403);
    });

    it('with --sign-key too, a URL signed with that key passes without a password', async () => {
      const both = await proxy({ 'acl-pass': ['s3cret'], 'sign-key': [KEY] });
      expect((await get(`${both.url}${signedPath(`${origin.url}/seg0.ts`, 'ts')}`)).status).to.equal(200);
      expect((await get(`${both.url}${tokenPath(`${origin.url}/seg0.ts`, 'ts')}`)).status).to.equal(401);
    });
  });
});
