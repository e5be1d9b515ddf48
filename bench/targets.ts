/**
 * The targets the table is judged by (issue #16, with issue #4's viewer and Range checks), each evaluated
 * from the measurements of this run: a line with the measured value and met / missed. A target whose inputs
 * were not measured (subject skipped, viewer count not run) is 'n/a', never met.
 * Throughput ratios are paired (pairedRatio: each round's value over the same round's reference); CPU and
 * RSS compare medians and peaks, which the load generator does not distort.
 */
import { pairedRatio, ratio, viewerMedian, type BenchResults, type TargetRow } from './results-model.js';
import type { SubjectName } from './settings.js';

const SIDECARS: ReadonlyArray<[SubjectName, string]> = [['sidecar-mem', 'hls-sidecar'], ['sidecar-redis', 'hls-sidecar ×2 behind the templates']];

function fmt(n: number | undefined, digits = 2): string {
  return n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : '—';
}

function row(target: string, measured: string, value: number, ok: (v: number) => boolean): TargetRow {
  return { target, measured, verdict: Number.isFinite(value) ? (ok(value) ? 'met' : 'missed') : 'n/a' };
}

/** A yes/no target; undefined when it was not measured. */
function flag(target: string, measured: string, ok: boolean | undefined): TargetRow {
  return { target, measured, verdict: ok === undefined ? 'n/a' : ok ? 'met' : 'missed' };
}

const peakOf = (xs: readonly number[] | undefined): number => (xs?.length ? Math.max(...xs) : NaN);

function cachedPlaylists(r: BenchResults): TargetRow[] {
  const rows: TargetRow[] = [];
  for (const [id, title] of [['small', '10-segment'], ['media900', '900-segment']] as const) {
    const by = r.loadMedian[id] ?? {};
    const p = by['sidecar-mem']?.cpuUsPerReq;
    const d = by.direct?.cpuUsPerReq;
    const h = by.hlsd?.cpuUsPerReq;
    const vsD = ratio(p, d);
    const vsH = ratio(p, h);
    rows.push(row(`cached ${title} playlist: proxy CPU per request ≤ 2.5× origin nginx's`, `${fmt(p, 1)} vs ${fmt(d, 1)} µs: ${fmt(vsD)}×`, vsD, (v) => v <= 2.5));
    rows.push(row(`cached ${title} playlist: proxy CPU per request ≤ 1/6 of hlsd's`, `${fmt(p, 1)} vs ${fmt(h, 1)} µs: 1/${fmt(1 / vsH, 1)}`, vsH, (v) => v <= 1 / 6));
  }
  return rows;
}

function firstView(r: BenchResults): TargetRow[] {
  const runs = r.load['first-view'] ?? {};
  const by = r.loadMedian['first-view'] ?? {};
  const mbps = (x: { bytesPerSec: number }): number => x.bytesPerSec;
  const alone = runs['sidecar-mem'];
  const vsHlsd = pairedRatio(alone, runs.hlsd, mbps);
  const vsNginx = pairedRatio(alone, runs['nginx-proxy'], mbps);
  const mb = (n: SubjectName): string => `${fmt(by[n]?.mbps, 0)} MB/s`;
  const cpu = by['sidecar-mem']?.cpuUsPerReq;
  const nginxCpu = by['nginx-proxy']?.cpuUsPerReq;
  const rss = peakOf(by['sidecar-mem']?.rssPeakMB);
  const front = pairedRatio(runs['sidecar-redis'], runs['nginx-proxy'], mbps);
  const frontProxyCpu = by['sidecar-redis']?.proxyCpuUsPerReq ?? NaN;
  return [
    row('first-view segment, proxy alone (segment cache off): ≥ 1.0× hlsd MB/s', `${fmt(vsHlsd)}× (${mb('sidecar-mem')} vs ${mb('hlsd')})`, vsHlsd, (v) => v >= 1.0),
    row('first-view segment, proxy alone: ≥ 0.8× nginx proxy_pass MB/s', `${fmt(vsNginx)}× (${mb('sidecar-mem')} vs ${mb('nginx-proxy')})`, vsNginx, (v) => v >= 0.8),
    row('first-view segment, proxy alone: CPU per segment ≤ nginx proxy_pass\'s', `${fmt(cpu, 0)} vs ${fmt(nginxCpu, 0)} µs`, ratio(cpu, nginxCpu), (v) => v <= 1),
    row('first-view segment, proxy alone: peak RSS ≤ 150 MB under that load', `${fmt(rss, 0)} MB`, rss, (v) => v <= 150),
    row('first-view segment through the shipped templates: ≥ 0.8× nginx proxy_pass MB/s (§1)', `${fmt(front)}× (${mb('sidecar-redis')})`, front, (v) => v >= 0.8),
    row('first-view segment through the shipped templates: proxy CPU per segment ≤ 0.1 ms (§1)', `${fmt(frontProxyCpu, 0)} µs (the replicas; nginx and Redis not counted)`, frontProxyCpu, (v) => v <= 100),
  ];
}

function viewers(r: BenchResults): TargetRow[] {
  const rows: TargetRow[] = [];
  const thousand = peakOf(r.viewers['1000']?.['sidecar-mem']?.flatMap((v) => v.rssPeakMB));
  rows.push(row('1000 live viewers: proxy RSS ≤ 120 MB', `${fmt(thousand, 0)} MB peak`, thousand, (v) => v <= 120));
  for (const [count, bySubject] of Object.entries(r.viewers)) {
    for (const [name, label] of SIDECARS) {
      const runs = bySubject[name];
      const fetches = viewerMedian(runs, (v) => v.originFetches);
      const allowed = viewerMedian(runs, (v) => v.allowedFetches);
      const errors = runs ? runs.reduce((a, v) => a + v.errors, 0) : NaN;
      rows.push(flag(`${count} live viewers, ${label}: ≤ 1 origin fetch per half target duration, no errors`,
        `${fmt(fetches, 0)} fetches (allowed ${fmt(allowed, 0)}), ${fmt(errors, 0)} errors`, runs?.length ? fetches <= allowed && errors === 0 : undefined));
    }
  }
  return rows;
}

function rangeAndLeak(r: BenchResults): TargetRow[] {
  const rows: TargetRow[] = [];
  for (const [name, label] of SIDECARS) {
    const g = r.range[name];
    rows.push(flag(`Range 1 MB of 20 MB, ${label}: 206, only the range fetched upstream`,
      g ? `${g.status}, ${g.bodyBytes} B to the client, ${g.originBytes} B from the origin` : '—', g?.ok));
    const l = r.leak[name];
    if (l) {
      rows.push(flag(`leak check, ${label}: heap and RSS after a full GC flat`,
        `heap ${l.beforeGc.map((m) => fmt(m.heapUsedMB, 0)).join('+')} → ${l.afterGc.map((m) => fmt(m.heapUsedMB, 0)).join('+')} MB, ` +
        `RSS ${l.beforeGc.map((m) => fmt(m.rssMB, 0)).join('+')} → ${l.afterGc.map((m) => fmt(m.rssMB, 0)).join('+')} MB`, l.flat));
    }
  }
  return rows;
}

export function evaluateTargets(r: BenchResults): TargetRow[] {
  return [...cachedPlaylists(r), ...firstView(r), ...viewers(r), ...rangeAndLeak(r)];
}
