import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inlineIncludes } from '../../bench/nginx-servers.js';
import { num } from '../../bench/report.js';
import { maxPerGroup, pairedRatio } from '../../bench/results-model.js';
import { cpuTicksOf, statFieldsOf } from '../../bench/stats.js';
import { parseWrkLine } from '../../bench/wrk.js';
import type { LoadResult } from '../../bench/load.js';

// The bench's own arithmetic (issue #16 §4): what it reads from wrk and /proc, and how it pairs runs.
describe('bench: wrk result line', () => {
  const out = 'Running 5s test @ http://127.0.0.1:1/\n  1 threads and 10 connections\n' +
    'WRKJSON {"requests":1000,"bytes":1500000000,"durationUs":2000000,"socketErrors":1,"timeouts":2,"non2xx":10,"p50Us":1500,"p99Us":9000,"maxUs":12000}\n';
  it('rps counts responses below 400 over wrk\'s own duration; bytes per second include every response', () => {
    const r = parseWrkLine(out)!;
    expect(r.ok).to.equal(990);
    expect(r.rps).to.equal(495);
    expect(r.bytesPerSec).to.equal(750_000_000);
    expect(r.bytes).to.equal(1_500_000_000);
    expect([r.p50, r.p99, r.max]).to.deep.equal([1.5, 9, 12]);
    expect([r.errors, r.timeouts, r.non2xx, r.requests]).to.deep.equal([1, 2, 10, 1000]);
  });
  it('no result line: undefined (the caller reports wrk\'s output)', () => {
    expect(parseWrkLine('unable to connect to 127.0.0.1:1 Connection refused\n')).to.equal(undefined);
  });
});

describe('bench: /proc/<pid>/stat CPU ticks', () => {
  // proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime ...
  const line = (comm: string): string => `4242 (${comm}) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 1 0 99 0 0\n`;
  it('utime + stime after the command name', () => expect(cpuTicksOf(line('node'))).to.equal(1801));
  it('a name with spaces and parentheses does not shift the fields', () => {
    expect(cpuTicksOf(line('nginx: worker (x) process'))).to.equal(1801);
    expect(statFieldsOf(line('a ) b'))[1]).to.equal('1');
  });
});

describe('bench: paired ratios and peaks', () => {
  const run = (bytesPerSec: number): LoadResult => ({ rps: 0, bytesPerSec, p50: 0, p99: 0, max: 0, ok: 1, requests: 1, errors: 0, timeouts: 0, non2xx: 0, statuses: {} });
  it('the median of round-by-round ratios, not the ratio of medians', () => {
    const a = [run(100), run(50), run(300)];
    const b = [run(100), run(100), run(100)];
    expect(pairedRatio(a, b, (r) => r.bytesPerSec)).to.equal(1);
  });
  it('a missing side: NaN (the target is then "n/a", never met)', () => {
    expect(pairedRatio(undefined, [run(1)], (r) => r.bytesPerSec)).to.be.NaN;
    expect(pairedRatio([run(1)], [], (r) => r.bytesPerSec)).to.be.NaN;
  });
  it('peak per process group over runs, ignoring a vanished process', () => {
    expect(maxPerGroup([[80, 90], [85, NaN], undefined])).to.deep.equal([85, 90]);
    expect(maxPerGroup([])).to.deep.equal([]);
    expect(maxPerGroup([[NaN]])).to.deep.equal([NaN]);
  });
});

describe('bench: table numbers', () => {
  const rows: Array<[number | undefined, number, string]> = [
    [52619.4, 0, '52 619'], [1234567, 0, '1 234 567'], [22.46, 1, '22.5'], [133.7, 1, '134'], [NaN, 0, '—'], [undefined, 0, '—'], [999, 0, '999'],
  ];
  for (const [n, d, want] of rows) it(`${n} → ${want}`, () => expect(num(n, d)).to.equal(want));
});

describe('bench: the templates\' includes inlined', () => {
  it('include hls-sidecar/<file>; becomes that file, nested ones too; other includes stay', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-inline-'));
    writeFileSync(path.join(dir, 'a.conf'), 'location /a/ { }\ninclude hls-sidecar/b.conf;\n');
    writeFileSync(path.join(dir, 'b.conf'), 'location /b/ { }');
    const text = 'location / { }\n    include hls-sidecar/a.conf;\ninclude mime.types;\n';
    try {
      expect(await inlineIncludes(text, dir)).to.equal('location / { }\nlocation /a/ { }\nlocation /b/ { }\n\ninclude mime.types;\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
