/**
 * Re-renders bench/results/latest.md (and the derived parts of latest.json: medians, ranges, targets) from
 * the raw runs already in latest.json, after a change to the report or the target rules — without another
 * 16-minute run. The measurements themselves are never touched.
 *
 * Usage: node --import tsx bench/render.ts [results-dir]   (default bench/results)
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderMarkdown, writeResults } from './report.js';
import { loadMedians, type BenchResults } from './results-model.js';
import { evaluateTargets } from './targets.js';

const dir = process.argv[2] ?? fileURLToPath(new URL('results/', import.meta.url));
const results = JSON.parse(await readFile(path.join(dir, 'latest.json'), 'utf8')) as BenchResults;
results.loadMedian = loadMedians(results.load);
results.targets = evaluateTargets(results);
await writeResults(dir, results, renderMarkdown(results));
console.log(`bench/render: rewrote ${path.join(dir, 'latest.md')} from ${results.meta.gitRev} (${results.meta.startedAt})`);
