import { expect } from 'chai';
import { ProxyError } from '../../src/errors.js';
import { createEgressPolicy } from '../../src/security/egress-policy.js';
import { createEgressGuard } from '../../src/security/pinned-lookup.js';
import { parseTargetUrl } from '../../src/upstream/target-url.js';

// The guard remembers the URL verdict per origin (pinned-lookup.ts). The memo must never change an answer:
// repeated, interleaved and past-the-bound checks give exactly what the policy gives each time.
describe('egress guard: remembered verdicts per origin', () => {
  const policy = createEgressPolicy({ allowUpstream: ['*.cdn.test', '127.0.0.1:8080'], denyUpstream: ['bad.cdn.test'] });
  const verdict = async (guard: ReturnType<typeof createEgressGuard>, url: string): Promise<string> => {
    try {
      await guard.check(parseTargetUrl(url));
      return 'pass';
    } catch (err) {
      return err instanceof ProxyError ? `${err.code}` : String(err);
    }
  };
  const expected = (url: string): string => (policy.judgeUrl(url).decision === 'deny' ? 'EGRESS_DENIED' : 'pass');

  it('gives the policy answer every time, for allowed and refused origins alike', async () => {
    const guard = createEgressGuard(policy);
    const urls = [
      'http://a.cdn.test/x.m3u8',
      'http://bad.cdn.test/x.m3u8',
      'http://127.0.0.1:8080/x.m3u8',
      'http://127.0.0.1:8081/x.m3u8',
      'http://169.254.169.254/latest',
      'https://a.cdn.test/x.m3u8',
      'http://evil.test/x.m3u8',
    ];
    for (let round = 0; round < 3; round++) {
      for (const url of urls) expect(await verdict(guard, url), `${url} round ${round}`).to.equal(expected(url));
    }
    expect(expected('http://bad.cdn.test/x.m3u8')).to.equal('EGRESS_DENIED');
    expect(expected('http://a.cdn.test/x.m3u8')).to.equal('pass');
  });

  it('stays right past its size bound (many distinct origins)', async () => {
    const guard = createEgressGuard(policy);
    for (let i = 0; i < 3000; i++) {
      const url = i % 3 === 0 ? `http://h${i}.cdn.test/p.m3u8` : i % 3 === 1 ? `http://h${i}.evil.test/p.m3u8` : `http://10.0.${i % 256}.1:${1000 + i}/p`;
      expect(await verdict(guard, url), url).to.equal(expected(url));
    }
    expect(await verdict(guard, 'http://bad.cdn.test/')).to.equal('EGRESS_DENIED');
  });
});
