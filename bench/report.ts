/**
 * bench/results/latest.md (and the same text on stdout): one table, the subjects side by side as columns,
 * a row per figure of every scenario; below it the targets, one line each with the measured value and
 * met / missed. README's bench section shows the same table.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BenchResults, LoadMedian } from './results-model.js';
import { maxPerGroup, viewerMedian } from './results-model.js';
import { ALL_SUBJECTS, type SubjectName } from './settings.js';
import type { ViewerRun } from './viewers.js';

export const COLUMN: Record<SubjectName, string> = {
  direct: 'origin nginx',
  'sidecar-mem': 'hls-sidecar',
  'sidecar-redis': 'hls-sidecar ×2 + templates',
  hlsd: 'hlsd 3.6.6',
  'node-pipe': 'bare Node pipe',
  'nginx-proxy': 'nginx proxy_pass',
};

/** A number as the table shows it: thousands grouped by a space, `digits` decimals below 100. */
export function num(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  const d = Math.abs(n) >= 100 ? 0 : digits;
  const [int, frac] = n.toFixed(d).split('.');
  return `${int!.replace(/\B(?=(\d{3})+(?!\d))/g, ' ')}${frac ? `.${frac}` : ''}`;
}

const rss = (xs: readonly number[] | undefined): string => (xs?.length ? xs.map((x) => num(x)).join('+') : '—');

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

type Cell = (m: LoadMedian) => string;

const LOAD_METRICS: ReadonlyArray<[string, Cell]> = [
  ['rps', (m) => num(m.rps)],
  ['MB/s', (m) => num(m.mbps, 1)],
  ['CPU µs per request', (m) => num(m.cpuUsPerReq, 1)],
  ['CPU µs per MB', (m) => num(m.cpuUsPerMB)],
  ['peak RSS MB', (m) => rss(m.rssPeakMB)],
];

function loadRows(r: BenchResults, present: SubjectName[]): string[][] {
  const rows: string[][] = [];
  for (const sc of r.scenarios) {
    const by = r.loadMedian[sc.id] ?? {};
    for (const [label, cell] of LOAD_METRICS) {
      rows.push([`${sc.title}, ${sc.connections} conns`, label, ...present.map((s) => {
        const m = by[s];
        if (!m) return '—';
        return `${cell(m)}${label === 'rps' && m.failures ? ` (${m.failures} failed)` : ''}`;
      })]);
    }
    if (sc.id === 'segment') {
      rows.push([`new live segment, ${r.meta.settings.fanoutViewers} viewers within ${r.meta.settings.fanoutSpreadMs / 1000} s`, 'origin downloads',
        ...present.map((s) => {
          const f = r.fanout[s];
          return f ? `${f.downloads.join(', ')}${f.errors ? ` (${f.errors} errors)` : ''}` : '—';
        })]);
    }
  }
  return rows;
}

function viewerRows(r: BenchResults, present: SubjectName[]): string[][] {
  const rows: string[][] = [];
  const metrics: ReadonlyArray<[string, (runs: ViewerRun[]) => string]> = [
    ['peak RSS MB', (runs) => rss(maxPerGroup(runs.map((v) => v.rssPeakMB)))],
    ['CPU µs per request', (runs) => num(viewerMedian(runs, (v) => v.cpuUsPerReq), 1)],
    ['playlist p99 ms', (runs) => num(viewerMedian(runs, (v) => v.p99), 2)],
    ['origin playlist fetches', (runs) => {
      const errors = runs.reduce((a, v) => a + v.errors, 0);
      return `${num(viewerMedian(runs, (v) => v.originFetches))}${errors ? ` (${errors} errors)` : ''}`;
    }],
  ];
  for (const [count, by] of Object.entries(r.viewers)) {
    for (const [label, cell] of metrics) {
      rows.push([`${count} live viewers, ${r.meta.settings.viewerSeconds} s`, label, ...present.map((s) => (by[s]?.length ? cell(by[s]!) : '—'))]);
    }
  }
  return rows;
}

/** The one table: subjects as columns, a row per figure. */
export function benchTable(r: BenchResults): string {
  const present = ALL_SUBJECTS.filter((s) => r.meta.subjects.some((m) => m.name === s));
  return table(['', '', ...present.map((s) => COLUMN[s])], [...loadRows(r, present), ...viewerRows(r, present)]);
}

export function renderMarkdown(r: BenchResults): string {
  const st = r.meta.settings;
  const met = r.targets.filter((t) => t.verdict === 'met').length;
  const missed = r.targets.filter((t) => t.verdict === 'missed').length;
  const machine = r.meta.machine as { loadAverageAtStart?: number[]; loadAverageAtEnd?: number[]; cpus?: number; cpuModel?: string; node?: string; memoryMB?: number };
  return [
    `# hls-sidecar bench${r.meta.preliminary ? ' — PRELIMINARY (BENCH_QUICK=1)' : ''}`,
    '',
    `${r.meta.startedAt} · ${r.meta.durationSec.toFixed(0)} s · git ${r.meta.gitRev} · Node.js ${machine.node ?? '?'} · ${machine.cpus ?? '?'} × ${machine.cpuModel ?? '?'}, ` +
      `${num((machine.memoryMB ?? NaN) / 1024)} GiB · load average ${(machine.loadAverageAtStart ?? []).join(' ')} at the start, ${(machine.loadAverageAtEnd ?? []).join(' ')} at the end ` +
      '(other work shares this machine: throughput is noisier than CPU per request)',
    '',
    `Load generator: ${r.meta.loader === 'wrk' ? `wrk (${st.wrkThreads} thread${st.wrkThreads > 1 ? 's' : ''}), in a process of its own` : 'autocannon / undici, inside the bench process'}. ` +
      `${st.runs} run${st.runs > 1 ? 's' : ''} × ${st.loadSeconds} s per subject and row (medians; subjects alternate, order rotating per run), ` +
      `${st.connections} connections for playlists, ${st.segmentConnections} for segments; live viewers reload once per target duration (${st.liveTargetSeconds} s), ` +
      'each on its own connection.',
    '',
    ...r.meta.subjects.map((s) => `- **${COLUMN[s.name]}** (${s.name}): ${s.label}`),
    '',
    benchTable(r),
    '',
    'CPU: user + system time from /proc of every process of the subject (an nginx\'s master and workers; hls-sidecar ×2 + templates: ' +
      'both replicas, the front nginx and redis-server; the origin\'s own work for the proxies not included), over the responses served. ' +
      'Peak RSS: sampled every 100 ms (250 ms for viewers) during the runs, per proxy process (an nginx: master and workers summed). ' +
      'First view: fresh processes, hls-sidecar alone with --segment-cache-max-bytes 0; live viewers: fresh processes, defaults. ' +
      'Live viewers ask for 100–500 playlists a second, so their CPU per request carries each process\'s background work (timers, ' +
      'GC, Redis) too. Throughput ratios in the targets: the median of round-by-round ratios.',
    '',
    `## Targets: ${met} met, ${missed} missed, ${r.targets.length - met - missed} not measured`,
    '',
    ...r.targets.map((t) => `- ${t.target}: ${t.measured} — **${t.verdict}**`),
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
