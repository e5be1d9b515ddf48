/**
 * The shape of bench/results/latest.json, and the medians the table and the targets are computed from.
 */
import type { LeakRun } from './leak.js';
import type { LoadResult } from './load.js';
import type { RangeResult } from './range-check.js';
import type { BenchSettings, SubjectName } from './settings.js';
import { median } from './stats.js';
import type { LoadScenario, ScenarioRuns } from './throughput.js';
import type { ViewerRun } from './viewers.js';

export interface LoadMedian {
  rps: number;
  mbps: number;
  p50: number;
  p99: number;
  /** CPU of the subject's own processes per request and per MB of responses, µs; cores used on average. */
  cpuUsPerReq: number;
  cpuUsPerMB: number;
  cpuCores: number;
  /** The proxy processes' share per request (subjects behind nginx), µs. */
  proxyCpuUsPerReq: number;
  /** Highest peak over the runs, per process group. */
  rssPeakMB: number[];
  /** errors + timeouts + non-2xx over all runs. */
  failures: number;
  runs: number;
  /** Lowest and highest run, so a reader sees how much the runs behind a median disagree. */
  rpsRange: [number, number];
  mbpsRange: [number, number];
}

export interface TargetRow {
  target: string;
  measured: string;
  verdict: 'met' | 'missed' | 'n/a';
}

export interface FanoutResult {
  viewers: number;
  spreadMs: number;
  /** Origin downloads of each new segment (one per round). */
  downloads: number[];
  errors: number;
}

export interface BenchResults {
  meta: {
    startedAt: string;
    finishedAt: string;
    durationSec: number;
    preliminary: boolean;
    settings: BenchSettings;
    machine: Record<string, unknown>;
    gitRev: string;
    loader: string;
    subjects: Array<{ name: SubjectName; label: string }>;
    notes: string[];
  };
  scenarios: LoadScenario[];
  load: ScenarioRuns;
  loadMedian: Record<string, Partial<Record<SubjectName, LoadMedian>>>;
  fanout: Partial<Record<SubjectName, FanoutResult>>;
  range: Partial<Record<SubjectName, RangeResult>>;
  viewers: Record<string, Partial<Record<SubjectName, ViewerRun[]>>>;
  /** Only with BENCH_LEAK_SECONDS > 0. */
  leak: Partial<Record<SubjectName, LeakRun>>;
  targets: TargetRow[];
}

const range = (values: number[]): [number, number] => (values.length ? [Math.min(...values), Math.max(...values)] : [NaN, NaN]);

/** Per process group, the highest of the runs' peaks. */
export function maxPerGroup(peaks: ReadonlyArray<readonly number[] | undefined>): number[] {
  const width = Math.max(0, ...peaks.map((p) => p?.length ?? 0));
  return Array.from({ length: width }, (_, i) => {
    const values = peaks.map((p) => p?.[i] ?? NaN).filter(Number.isFinite);
    return values.length ? Math.max(...values) : NaN;
  });
}

export function medianOf(runs: readonly LoadResult[]): LoadMedian {
  const m = (pick: (r: LoadResult) => number | undefined): number => median(runs.map((r) => pick(r) ?? NaN));
  return {
    rps: m((r) => r.rps),
    mbps: m((r) => r.bytesPerSec / 1e6),
    p50: m((r) => r.p50),
    p99: m((r) => r.p99),
    cpuUsPerReq: m((r) => r.cpuUsPerReq),
    cpuUsPerMB: m((r) => r.cpuUsPerMB),
    cpuCores: m((r) => r.cpuCores),
    proxyCpuUsPerReq: m((r) => r.proxyCpuUsPerReq),
    rssPeakMB: maxPerGroup(runs.map((r) => r.rssPeakMB)),
    failures: runs.reduce((a, r) => a + r.errors + r.timeouts + r.non2xx, 0),
    runs: runs.length,
    rpsRange: range(runs.map((r) => r.rps)),
    mbpsRange: range(runs.map((r) => r.bytesPerSec / 1e6)),
  };
}

export function loadMedians(load: ScenarioRuns): BenchResults['loadMedian'] {
  const out: BenchResults['loadMedian'] = {};
  for (const [id, bySubject] of Object.entries(load)) {
    out[id] = {};
    for (const [name, runs] of Object.entries(bySubject)) out[id]![name as SubjectName] = medianOf(runs);
  }
  return out;
}

/**
 * Median over rounds of a/b taken within each round (the subjects' runs of one round ran one after the
 * other): steadier on a shared machine than the ratio of two medians. NaN when either side is missing.
 */
export function pairedRatio(a: readonly LoadResult[] | undefined, b: readonly LoadResult[] | undefined, pick: (r: LoadResult) => number): number {
  if (!a?.length || !b?.length) return NaN;
  const n = Math.min(a.length, b.length);
  return median(Array.from({ length: n }, (_, i) => ratio(pick(a[i]!), pick(b[i]!))));
}

/** Median over runs of one viewer-run field. */
export function viewerMedian(runs: readonly ViewerRun[] | undefined, pick: (r: ViewerRun) => number): number {
  return runs && runs.length ? median(runs.map(pick)) : NaN;
}

export function ratio(a: number | undefined, b: number | undefined): number {
  return a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN;
}
