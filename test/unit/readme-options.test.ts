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
