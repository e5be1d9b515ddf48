import { expect } from 'chai';
import { runCli } from '../support/proxy.js';
import { useStage } from '../support/stage.js';

/**
 * `hls-sidecar url <upstream> --base <public base> --sign-key K` (and `sign`) print entry URLs that a proxy
 * started with the same key and --require-signature accepts, and that one with another key refuses: the
 * CLI signs exactly what the proxy verifies (signing.ts canonical string over url, referer and vars).
 */
describe('cli: `url` and `sign` print URLs the proxy verifies', function () {
  this.timeout(60_000);
  const KEY = 'cli-signing-key-0123456789abcdef';
  const stage = useStage({ 'sign-key': [KEY], 'require-signature': true });

  async function cli(args: string[]): Promise<string> {
    const { code, stdout, stderr } = await runCli(args);
    expect(code, stderr).to.equal(0);
    return stdout.trim();
  }

  const cases: Array<[string, (base: string, upstream: string) => string[], number]> = [
    ['url --sign-key (same key)', (b, u) => ['url', u, '--base', b, '--sign-key', KEY], 200],
    ['sign --sign-key --sign-ttl 300 (expiring signature)', (b, u) => ['sign', u, '--base', b, '--sign-key', KEY, '--sign-ttl', '300'], 200],
    ['url --sign-key (another key)', (b, u) => ['url', u, '--base', b, '--sign-key', 'another-key-0123456789abcdef'], 403],
    ['url without a key (unsigned)', (b, u) => ['url', u, '--base', b], 403],
  ];
  for (const [name, args, status] of cases) {
    it(`${name}: ${status}`, async () => {
      const upstream = `${stage.origin.url}/${stage.fixtures.paths.vodVariants[0]}`;
      const base = `${stage.proxy.url}/hls-proxy`;
      const printed = await cli(args(base, upstream));
      expect(printed.startsWith(`${base}/`)).to.equal(true);
      expect(printed).to.match(/\.m3u8$/);
      const res = await fetch(printed);
      expect(res.status).to.equal(status);
      const body = await res.text();
      if (status !== 200) return;
      // The playlist the proxy writes is signed too, so its segments play under --require-signature.
      const seg = body.split('\n').find((l) => l.startsWith('http'))!;
      expect(seg.startsWith(`${base}/`)).to.equal(true);
      const media = await fetch(seg);
      expect(media.status).to.equal(200);
      await media.arrayBuffer();
    });
  }

  it('a signed segment URL (not a playlist) keeps its own extension and is accepted', async () => {
    const printed = await cli(['url', `${stage.origin.url}/${stage.fixtures.paths.vodFirstSegment}`, '--base', stage.proxy.url, '--sign-key', KEY]);
    expect(printed).to.match(/\.ts$/);
    const res = await fetch(printed);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('video/mp2t');
    await res.arrayBuffer();
  });

  it('`sign` without --sign-key exits 2', async () => {
    const { code, stderr } = await runCli(['sign', `${stage.origin.url}/x.m3u8`]);
    expect(code).to.equal(2);
    expect(stderr).to.include('--sign-key');
  });
});
