/**
 * bench/results/latest.md (and the same text on stdout) from the results: absolute figures per subject,
 * ratios sidecar ÷ direct and sidecar ÷ hlsd, and the issue's targets with PASS/MISS.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ratio, viewerMedian, type BenchResults, type LoadMedian } from './results-model.js';
import type { SubjectName } from './settings.js';
import { median } from './stats.js';

const ORDER: readonly SubjectName[] = ['direct', 'sidecar-mem', 'sidecar-redis', 'hlsd'];

function f(n: number | undefined, digits = 2): string {
  return n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : '—';
}

function x(n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(2)}×` : '—';
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function loadTable(r: BenchResults, present: SubjectName[]): string {
  const rows: string[][] = [];
  const metrics: Array<[string, (m: LoadMedian) => number, number, boolean]> = [
    ['rps', (m) => m.rps, 0, true], ['MB/s', (m) => m.mbps, 1, true], ['p50 ms', (m) => m.p50, 2, false], ['p99 ms', (m) => m.p99, 2, false],
    ['CPU µs/req', (m) => m.cpuUsPerReq, 0, true], ['CPU cores used', (m) => m.cpuCores, 2, false],
  ];
  for (const sc of r.scenarios) {
    const by = r.loadMedian[sc.id] ?? {};
    const first = rows.length;
    for (const [label, pick, digits, ratios] of metrics) {
      if (label === 'MB/s' && sc.id !== 'segment') continue;
      if (label === 'rps' && sc.id === 'segment') continue;
      const v = (s: SubjectName): number => (by[s] ? pick(by[s]!) : NaN);
      const cells = [`${sc.title} (${sc.connections} conns)`, label, ...present.map((s) => f(v(s), digits))];
      const rr = (a: SubjectName, b: SubjectName): string => (ratios ? x(ratio(v(a), v(b))) : '');
      cells.push(rr('sidecar-mem', 'direct'), rr('sidecar-mem', 'hlsd'), rr('sidecar-redis', 'direct'), rr('sidecar-redis', 'hlsd'));
      rows.push(cells);
    }
    // The spread of the runs behind the first median: ratios between subjects mean little where ranges overlap.
    const spread = (m: LoadMedian | undefined): string => {
      const [lo, hi] = sc.id === 'segment' ? m?.mbpsRange ?? [NaN, NaN] : m?.rpsRange ?? [NaN, NaN];
      const d = sc.id === 'segment' ? 1 : 0;
      return Number.isFinite(lo) ? `${f(lo, d)}–${f(hi, d)}` : '—';
    };
    rows.splice(first + 1, 0,
      [`${sc.title} (${sc.connections} conns)`, `${sc.id === 'segment' ? 'MB/s' : 'rps'} lowest–highest run`, ...present.map((s) => spread(by[s])), '', '', '', '']);
    const failures = present.map((s) => by[s]?.failures ?? 0);
    if (failures.some((n) => n > 0)) rows.push([sc.title, 'failed requests', ...failures.map(String), '', '', '', '']);
  }
  return table(['scenario', 'metric', ...present, 'mem÷direct', 'mem÷hlsd', 'redis÷direct', 'redis÷hlsd'], rows) +
    '\n\nCPU µs/req: user+system time of the subject\'s own processes per response (direct: the origin nginx worker; ' +
    'sidecar-redis: both replicas, the front nginx and redis-server; the origin\'s work for the proxies is not included). ' +
    'For CPU a ratio above 1 means the sidecar spends more.';
}

/** direct vs the reference proxies (alternating among themselves), with the sidecar's figure from the main table. */
function referenceTable(r: BenchResults): string {
  const ref = r.reference ?? {};
  const refs = (['nginx-proxy', 'node-pipe'] as const).filter((n) => r.scenarios.some((sc) => ref[sc.id]?.[n]));
  const rows: string[][] = [];
  for (const sc of r.scenarios) {
    const by = ref[sc.id];
    if (!by?.direct || !refs.some((n) => by[n])) continue;
    const mem = r.loadMedian[sc.id]?.['sidecar-mem'];
    const metrics: Array<[string, (m: LoadMedian) => number, number]> = [
      sc.id === 'segment' ? ['MB/s', (m) => m.mbps, 1] : ['rps', (m) => m.rps, 0],
      ['CPU µs/req', (m) => m.cpuUsPerReq, 0],
    ];
    for (const [label, pick, digits] of metrics) {
      const d = pick(by.direct);
      const s = mem ? pick(mem) : NaN;
      const cells = refs.flatMap((n) => {
        const p = by[n] ? pick(by[n]) : NaN;
        return [f(p, digits), x(ratio(p, d))];
      });
      rows.push([`${sc.title} (${sc.connections} conns)`, label, f(d, digits), ...cells, f(s, digits), x(ratio(s, d))]);
    }
  }
  if (!rows.length) return '';
  return [
    '## Reference: how close to direct a proxy gets here',
    '',
    'nginx-proxy: nginx (1 worker, like the origin) proxying to the origin with keep-alive upstream connections and its default ' +
      'buffering; no rewriting, no cache. node-pipe: a bare Node.js proxy (undici to the origin, the body piped to the client; ' +
      'bench/node-pipe-proxy.ts) with none of the sidecar\'s routing, checks, rewriting or cache. Both pay what every proxy pays ' +
      '(a second connection, the bytes copied through user space): their ratios to direct are about as close as a proxy, and a ' +
      'proxy in Node, gets on this machine. sidecar-mem is the figure from the table above.',
    '',
    table(['scenario', 'metric', 'direct', ...refs.flatMap((n) => [n, `${n}÷direct`]), 'sidecar-mem', 'mem÷direct'], rows),
    '',
  ].join('\n');
}

function bigTable(r: BenchResults, present: SubjectName[]): string {
  const rows = present.map((s) => {
    const runs = r.bigPlaylist[s] ?? [];
    const m = (pick: (b: (typeof runs)[number]) => number): number => median(runs.map(pick));
    return [s, f(m((b) => b.coldMs), 1), f(m((b) => b.warmMedianMs), 1), f(m((b) => b.warmMs.length), 0),
      f(m((b) => b.bodyBytes / 1e6), 2), f(m((b) => b.small.p99), 2), f(m((b) => b.small.rps), 0)];
  });
  return table(['subject', 'cold ms (miss)', 'cached ms', 'cached requests', 'response MB', 'small p99 ms meanwhile', 'small rps meanwhile'], rows);
}

function rangeTable(r: BenchResults, present: SubjectName[]): string {
  const rows = present.map((s) => {
    const g = r.range[s];
    return g ? [s, String(g.status), g.contentRange ?? '—', String(g.bodyBytes), g.bodyMatches ? 'yes' : 'no', String(g.originBytes), g.ok ? 'yes' : 'no']
      : [s, '—', '—', '—', '—', '—', '—'];
  });
  return table(['subject', 'status', 'Content-Range', 'bytes to client', 'bytes correct', 'bytes from origin', 'ok'], rows);
}

function viewerTable(r: BenchResults, present: SubjectName[]): string {
  const rows: string[][] = [];
  for (const [count, by] of Object.entries(r.viewers)) {
    for (const s of present) {
      const runs = by[s];
      if (!runs?.length) continue;
      const m = (pick: Parameters<typeof viewerMedian>[1]): number => viewerMedian(runs, pick);
      const kinds = [...new Set(runs.flatMap((v) => Object.entries(v.errorKinds).map(([k, n]) => `${k}×${n}`)))].join(', ');
      rows.push([count, s, f(m((v) => v.requests), 0), `${f(m((v) => v.errors), 0)}${kinds ? ` (${kinds})` : ''}`,
        f(m((v) => v.p50), 2), f(m((v) => v.p99), 2), f(m((v) => v.originFetches), 0), f(m((v) => v.allowedFetches), 0),
        s === 'direct' ? '—' : runs.map((v) => v.rssPeakMB.map((p) => f(p, 0)).join('+')).join(' / ')]);
    }
  }
  return table(['viewers', 'subject', 'playlist requests', 'errors', 'p50 ms', 'p99 ms', 'origin fetches', 'allowed (sidecar)', 'RSS peak MB'], rows);
}

function leakTable(r: BenchResults): string {
  const j = (xs: number[]): string => xs.map((v) => f(v, 0)).join('+');
  const rows = Object.entries(r.leak).map(([s, l]) => [s, `${l.seconds} s (+${l.warmupSeconds} s warm-up, ${l.distinctKeys} keys)`, f(l.load.rps, 0),
    `${j(l.beforeGc.map((m) => m.heapUsedMB))} → ${j(l.afterGc.map((m) => m.heapUsedMB))}`,
    `${j(l.beforeGc.map((m) => m.rssMB))} → ${j(l.afterGc.map((m) => m.rssMB))}`,
    `${j(l.beforeMB)} → ${j(l.afterMB)}`, j(l.peakMB), `${j(l.firstThirdMB)} → ${j(l.lastThirdMB)}`, l.flat ? 'yes' : 'no']);
  return table(['subject', 'duration', 'rps', 'heap after GC MB', 'RSS after GC MB', 'RSS sampled before → after MB', 'RSS peak MB',
    'RSS median 1st → last third MB', 'flat'], rows) +
    '\n\n"after GC": a full GC forced through the inspector (activated by SIGUSR1 on a loopback port after the run) before reading ' +
    'process.memoryUsage(); flat = heap within max(5 MB, 10 %) and RSS within max(10 MB, 10 %) of the values before the run.';
}

function rssAfterLoad(r: BenchResults): string {
  const parts = Object.entries(r.rssAfterLoadMB).filter(([, v]) => v.length).map(([s, v]) => `${s} ${v.map((x) => f(x, 0)).join('+')} MB`);
  return parts.length ? `RSS after parts 1–3 (the processes were then restarted for the viewer and leak phases): ${parts.join(', ')}.` : '';
}

export function renderMarkdown(r: BenchResults): string {
  const present = ORDER.filter((s) => r.meta.subjects.some((m) => m.name === s));
  const st = r.meta.settings;
  const pass = r.targets.filter((t) => t.verdict === 'PASS').length;
  const miss = r.targets.filter((t) => t.verdict === 'MISS').length;
  return [
    `# hls-sidecar bench${r.meta.preliminary ? ' — PRELIMINARY (BENCH_QUICK=1)' : ''}`,
    '',
    `${r.meta.startedAt} · ${r.meta.durationSec.toFixed(0)} s · git ${r.meta.gitRev} · ${JSON.stringify(r.meta.machine)}`,
    '',
    `Runs per subject: ${st.runs} × ${st.loadSeconds} s (medians; subjects alternate, order rotates per run), ` +
      `${st.connections} connections (segments ${st.segmentConnections}), viewers ${st.viewerCounts.join('/')} for ${st.viewerSeconds} s ` +
      `(target duration ${st.liveTargetSeconds} s), leak check ${st.leakSeconds} s. Load generator: autocannon, in the bench process, on the same cores.`,
    '',
    ...r.meta.subjects.map((s) => `- **${s.name}**: ${s.label}`),
    '',
    '## Targets (issue #4)',
    '',
    `${pass} PASS, ${miss} MISS, ${r.targets.length - pass - miss} n/a`,
    '',
    table(['target', 'measured', 'result'], r.targets.map((t) => [t.target, t.measured, t.verdict === 'MISS' ? '**MISS**' : t.verdict])),
    '',
    '## Playlists and segments (medians)',
    '',
    loadTable(r, present),
    '',
    referenceTable(r),
    '## 100k-segment VOD playlist while 10-segment playlists are served',
    '',
    bigTable(r, present),
    '',
    '## Range request (1 MB from the middle of a 20 MB file)',
    '',
    rangeTable(r, present),
    '',
    rssAfterLoad(r),
    '',
    '## Live viewers (each reloads the live playlist once per target duration, own connection; fresh proxy processes)',
    '',
    viewerTable(r, present),
    '',
    '## Leak check (900-segment VOD, 1 in 5 requests a cache miss)',
    '',
    leakTable(r),
    '',
    ...(r.meta.notes.length ? ['## Notes', '', ...r.meta.notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
}

/** Writes latest.md and latest.json atomically (temp file + rename). */
export async function writeResults(dir: string, r: BenchResults, markdown: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, text] of [['latest.md', markdown], ['latest.json', `${JSON.stringify(r, null, 2)}\n`]] as const) {
    const file = path.join(dir, name);
    await writeFile(`${file}.tmp`, text);
    await rename(`${file}.tmp`, file);
  }
}
