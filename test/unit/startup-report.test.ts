import { expect } from 'chai';
import { configFromOptions } from '../../src/config.js';
import { startupReport, withoutCredentials } from '../../src/observability/startup-report.js';

/** The start-up banner (issue #7): facts and one warning per risky setting, never a secret. */

const facts = { listen: 'http://127.0.0.1:8080', cacheState: 'memory' as const, hooks: [], unsupportedHooks: [] };
const SAFE = { 'allow-upstream': ['cdn.example'], 'sign-key': ['k'.repeat(20)], 'require-signature': true };

describe('startup report', () => {
  it('a locked-down configuration gets no warning', () => {
    expect(startupReport(configFromOptions(SAFE), facts).warnings).to.deep.equal([]);
  });

  it('an allow list without client access control (the usual sidecar behind a front server) gets no warning', () => {
    expect(startupReport(configFromOptions({ 'allow-upstream': ['cdn.example'] }), facts).warnings).to.deep.equal([]);
  });

  const risky: Array<[string, Record<string, unknown>, string]> = [
    ['no allow rule', { 'allow-upstream': [] }, 'no --allow-upstream rule'],
    ['no allow rule and no access control', { 'allow-upstream': [], 'sign-key': [], 'require-signature': false }, 'anyone who reaches this port'],
    ['--req-insecure', { 'req-insecure': true }, '--req-insecure'],
    ['--trust-proxy all', { 'trust-proxy': ['all'] }, '--trust-proxy trusts every peer'],
    ['--forward-cookies', { 'forward-cookies': true }, "viewers' cookies are forwarded upstream"],
    ['signing without --require-signature', { 'require-signature': false }, 'unsigned entry URLs are still accepted'],
    ['--http-proxy with a password over http', { 'http-proxy': 'http://u:p@proxy.internal:3128' }, 'clear text'],
  ];
  for (const [name, options, warning] of risky) {
    it(`${name}: warns`, () => {
      const { warnings } = startupReport(configFromOptions({ ...SAFE, ...options }), facts);
      expect(warnings.some((w) => w.includes(warning)), warnings.join('\n')).to.equal(true);
    });
  }

  it('states the segment cache: its size, or off', () => {
    expect(startupReport(configFromOptions(SAFE), facts).fields.segmentCache).to.equal('64 MiB');
    expect(startupReport(configFromOptions({ ...SAFE, 'segment-cache-max-bytes': 0 }), facts).fields.segmentCache).to.equal('off');
  });

  it('unsupported hooks are named', () => {
    const { warnings } = startupReport(configFromOptions(SAFE), { ...facts, unsupportedHooks: ['request_intervals'] });
    expect(warnings).to.deep.equal(['--hooks: request_intervals is not supported and is ignored']);
  });

  it('secrets are left out: header values, key material, passwords, URL credentials', () => {
    const config = configFromOptions({
      ...SAFE,
      header: ['Authorization: Bearer top-secret-bearer'],
      'acl-pass': ['pass-word-1'],
      redis: 'redis://:redis-pass@redis.internal:6379/0',
      'http-proxy': 'https://user:proxy-pass@proxy.internal:3128',
    });
    const text = JSON.stringify(startupReport(config, { ...facts, cacheState: 'ok' }));
    for (const secret of ['top-secret-bearer', 'k'.repeat(20), 'pass-word-1', 'redis-pass', 'proxy-pass']) expect(text).to.not.include(secret);
    expect(text).to.include('redis://***@redis.internal:6379/0');
  });

  const urls: Array<[string, string]> = [
    ['http://user:pass@host:1/x', 'http://***@host:1/x'],
    ['redis://host:6379', 'redis://host:6379'],
    ['http://host/a@b', 'http://host/a@b'], // RFC 3986 §3.2: userinfo ends the authority, not the path
  ];
  for (const [input, expected] of urls) it(`withoutCredentials(${input})`, () => expect(withoutCredentials(input)).to.equal(expected));
});
