import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { withTable } from '../../scripts/options-doc.js';

describe('README: the option table matches src/config-options.ts', () => {
  it('is up to date (regenerate with `npx tsx scripts/options-doc.ts --write`)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(withTable(readme)).to.equal(readme);
  });

  it('quick start has the two commands, and .ci/run calls the test one', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
    expect(readme).to.include('npm install && npm start');
    expect(readme).to.include('npm test');
    expect(ci).to.match(/^npm test$/m);
  });
});

describe('README: the signed-link example', () => {
  it('mints links the proxy verifies (the snippet is run as written)', async () => {
    const { createSigner } = await import('../../src/signing.js');
    const { decodeTarget } = await import('../../src/url-codec.js');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const block = /<!-- sign-example:begin -->\n```js\n([\s\S]*?)```/.exec(readme)![1]!;
    const { createRequire } = await import('node:module');
    const signedLink = new Function('require', `${block}\nreturn signedLink;`)(createRequire(import.meta.url)) as (
      base: string, key: string, url: string, ttl?: number) => string;
    const key = 'a-key-of-at-least-16-chars';
    const upstream = 'http://cam.internal/live/index.m3u8?token=a~b%2F=';
    const link = signedLink('https://dash.example/hls-proxy', key, upstream);
    const target = decodeTarget(link.slice('https://dash.example/hls-proxy/'.length), { maxTokenLength: 4096 });
    expect(target.url).to.equal(upstream);
    expect(target.ext).to.equal('m3u8');
    const signer = createSigner([key], 3600, Date.now);
    expect(signer.verify(target, target.signature!)).to.equal(true);
    expect(createSigner(['another-key-of-16-chars'], 3600, Date.now).verify(target, target.signature!)).to.equal(false);
  });
});
