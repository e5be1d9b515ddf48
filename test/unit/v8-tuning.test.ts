/**
 * The V8 settings the CLI applies (src/v8-tuning.ts): the heap growing factor pinned at V8's own maximum,
 * and the semi-spaces kept at SEMI_SPACE_CAP_MB, each unless the operator's Node.js command line sets it.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { HEAP_GROWING_PERCENT, SEMI_SPACE_CAP_MB, semiSpaceCap, v8Tuning } from '../../src/v8-tuning.js';

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
    expect(r.stdout, 'the flag capSemiSpaces sets').to.include('  --semi-space-growth-factor (');
  });

  const semiTable: Array<[string[], number | undefined]> = [
    [[], SEMI_SPACE_CAP_MB],
    [['--heap-growing-percent=0', '--import', 'tsx'], SEMI_SPACE_CAP_MB],
    [['--max-semi-space-size=4'], undefined],
    [['--max_semi_space_size', '2'], undefined],
    [['--min-semi-space-size=16'], undefined],
    [['--max-heap-size=256'], undefined],
    [['--max-old-space-size=320'], SEMI_SPACE_CAP_MB],
  ];
  for (const [execArgv, expected] of semiTable) {
    it(`semi-space cap for ${JSON.stringify(execArgv)}: ${expected ?? 'none (the command line decides)'}`, () => expect(semiSpaceCap(execArgv)).to.equal(expected));
  }

  it('the young generation stops growing at the cap while it is kept, and grows on once that stops', function () {
    this.timeout(60_000);
    // A child of its own, started with the smallest young generation: what grew it is then this code alone.
    const script = `
      import v8 from 'node:v8';
      import { Worker } from 'node:worker_threads';
      import { keepV8Tuning } from ${JSON.stringify(new URL('../../src/v8-tuning.ts', import.meta.url).href)};
      const semi = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 / 1048576;
      const churn = async () => {
        let keep = [];
        for (let round = 0; round < 40; round++) {
          for (let i = 0; i < 50000; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 30000) keep = []; }
          await new Promise((r) => setImmediate(r));
        }
      };
      const tuning = keepV8Tuning([], 2);
      // As the server starts its render worker after the CLI set its flags (that start resets them), and
      // the CLI applies them again once it has.
      await new Promise((resolve) => new Worker('0', { eval: true }).once('exit', resolve));
      tuning.apply();
      await churn();
      const capped = semi();
      tuning.stop();
      await churn();
      process.stdout.write(JSON.stringify({ capped, after: semi() }));
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const { capped, after } = JSON.parse(r.stdout) as { capped: number; after: number };
    expect(capped).to.be.at.most(2);
    expect(after).to.be.above(2);
  });
});
