import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import { canonicalString, createSigner } from '../../src/signing.js';
import { decodeTarget, encodeTarget, type Target } from '../../src/url-codec.js';

const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-0123456789abcdef';
const NOW = 1_700_000_000;
const clock = (): number => NOW * 1000;
const T: Target = { url: 'https://o.test/v/index.m3u8?t=1', referer: 'https://site.test/', vars: { b: '2', a: '1' } };

describe('signing: HMAC-SHA256 signed URLs', () => {
  it('round trip without expiry: a bare 43-character base64url MAC', () => {
    const s = createSigner([KEY_A], 0, clock);
    const sig = s.sign(T);
    expect(sig).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(s.verify(T, sig)).to.equal(true);
  });

  it('round trip with expiry: `<exp>_<mac>`, exp = now + ttl', () => {
    const s = createSigner([KEY_A], 600, clock);
    const sig = s.sign(T);
    expect(sig).to.match(new RegExp(`^${NOW + 600}_[A-Za-z0-9_-]{43}$`));
    expect(s.verify(T, sig)).to.equal(true);
    expect(s.verify(T, sig, NOW + 600)).to.equal(true);
  });

  it('expired signature fails', () => {
    const s = createSigner([KEY_A], 600, clock);
    expect(s.verify(T, s.sign(T), NOW + 601)).to.equal(false);
  });

  it('a moved expiry fails (the expiry is inside the MAC)', () => {
    const s = createSigner([KEY_A], 600, clock);
    const [, mac] = s.sign(T).split(/_(.*)/s);
    expect(s.verify(T, `${NOW + 99_999}_${mac}`)).to.equal(false);
  });

  it('with a TTL configured, a signature without expiry fails', () => {
    const noTtl = createSigner([KEY_A], 0, clock).sign(T);
    expect(createSigner([KEY_A], 600, clock).verify(T, noTtl)).to.equal(false);
  });

  it('without a TTL, an expiring signature from a back end is still honoured, and still expires', () => {
    const minted = createSigner([KEY_A], 60, clock).sign(T);
    const s = createSigner([KEY_A], 0, clock);
    expect(s.verify(T, minted)).to.equal(true);
    expect(s.verify(T, minted, NOW + 61)).to.equal(false);
  });

  it('wrong key fails', () => {
    const sig = createSigner([KEY_B], 0, clock).sign(T);
    expect(createSigner([KEY_A], 0, clock).verify(T, sig)).to.equal(false);
  });

  it('rotation: the first key signs, every key verifies', () => {
    const old = createSigner([KEY_A], 0, clock).sign(T);
    const rotated = createSigner([KEY_B, KEY_A], 0, clock);
    expect(rotated.verify(T, old)).to.equal(true);
    expect(rotated.sign(T)).to.equal(createSigner([KEY_B], 0, clock).sign(T));
    expect(createSigner([KEY_A], 0, clock).verify(T, rotated.sign(T))).to.equal(false);
  });

  const tampered: Array<[string, Target]> = [
    ['url', { ...T, url: 'https://o.test/v/index.m3u8?t=2' }],
    ['referer', { ...T, referer: 'https://evil.test/' }],
    ['referer removed', { url: T.url, vars: T.vars! }],
    ['vars value', { ...T, vars: { a: '1', b: '3' } }],
    ['vars added', { ...T, vars: { a: '1', b: '2', c: '' } }],
    ['vars removed', { url: T.url, referer: T.referer! }],
    ['url|referer boundary moved', { url: `${T.url}|https://site.test/`, vars: T.vars! }],
  ];
  for (const [name, t] of tampered) {
    it(`tampered ${name} fails`, () => {
      const s = createSigner([KEY_A], 600, clock);
      expect(s.verify(t, s.sign(T))).to.equal(false);
    });
  }

  it('vars order does not matter (sorted in the canonical string)', () => {
    const s = createSigner([KEY_A], 0, clock);
    expect(s.verify({ ...T, vars: { a: '1', b: '2' } }, s.sign(T))).to.equal(true);
  });

  it('empty referer and empty vars are the same as none', () => {
    const s = createSigner([KEY_A], 0, clock);
    expect(s.verify({ url: T.url, referer: '', vars: {} }, s.sign({ url: T.url }))).to.equal(true);
  });

  const malformed = ['', 'x', '0_' + 'A'.repeat(43), '0001700000600_' + 'A'.repeat(43), 'A'.repeat(44), 'A'.repeat(42), `${NOW + 600}-${'A'.repeat(43)}`, '=' + 'A'.repeat(42)];
  for (const sig of malformed) {
    it(`malformed signature ${JSON.stringify(sig.slice(0, 20))}… fails without throwing`, () => {
      expect(createSigner([KEY_A], 0, clock).verify(T, sig)).to.equal(false);
    });
  }

  it('the documented algorithm, implemented independently, produces the same signature', () => {
    const exp = NOW + 3600;
    const vars = T.vars!;
    const canonical = JSON.stringify(['hls-sidecar/1', exp, T.url, T.referer, Object.keys(vars).sort().map((k) => [k, vars[k]])]);
    expect(canonicalString(T, exp)).to.equal(canonical);
    const mac = createHmac('sha256', KEY_A).update(canonical).digest('base64url');
    expect(createSigner([KEY_A], 3600, clock).sign(T)).to.equal(`${exp}_${mac}`);
  });

  it('the signature survives the token codec', () => {
    const s = createSigner([KEY_A], 600, clock);
    const got = decodeTarget(encodeTarget(T, 'm3u8', s.sign(T)), { maxTokenLength: 4096 });
    expect(s.verify(got, got.signature!)).to.equal(true);
  });

  it('expires tells callers whether signed output changes over time', () => {
    expect(createSigner([KEY_A], 0, clock).expires).to.equal(false);
    expect(createSigner([KEY_A], 1, clock).expires).to.equal(true);
  });

  it('refuses to be created without keys', () => {
    expect(() => createSigner([], 0, clock)).to.throw(RangeError);
  });
});
