/**
 * The V8 setting the CLI applies (src/v8-tuning.ts): the heap growing factor pinned at V8's own maximum,
 * unless the operator's Node.js command line sets it.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { HEAP_GROWING_PERCENT, v8Tuning } from '../../src/v8-tuning.js';

describe('V8 tuning applied by the CLI', () => {
  const table: Array<[string[], string[]]> = [
    [[], [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`]],
    [['--enable-source-maps', '--import', 'tsx'], [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`]],
    [['--heap-growing-percent=0'], []],
    [['--heap_growing_percent=150'], []],
    [['--heap-growing-percent', '150'], []],
    [['--heap-growing-percentage=1'], [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`]],
  ];
  for (const [execArgv, expected] of table) {
    it(`${JSON.stringify(execArgv)} → ${JSON.stringify(expected)}`, () => expect(v8Tuning(execArgv)).to.deep.equal(expected));
  }

  it('is a flag this Node.js knows (an unknown one would be ignored with a warning, silently undoing the tuning)', () => {
    const r = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
    const name = v8Tuning([])[0]!.replace(/=.*$/, '');
    expect(r.stdout).to.include(`  ${name} (`);
  });
});
