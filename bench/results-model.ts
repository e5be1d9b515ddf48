/**
 * The shape of bench/results/latest.json, and the medians the report and the targets are computed from.
 */
import type { BigPlaylistRun } from './big-playlist.js';
import type { LeakRun } from './leak.js';
import type { LoadResult } from './load.js';
import type { RangeResult } from './range-check.js';
import type { BenchSettings, SubjectName } from './settings.js';
import { median } from './stats.js';
import type { LoadScenario, ScenarioRuns } from './throughput.js';
import type { ViewerRun } from './viewers.js';

export interface LoadMedian {
  rps: number;
  p50: number;
  p99: number;
  mbps: number;
  /** CPU of the subject's own processes per request, µs, and cores they used on average. */
  cpuUsPerReq: number;
  cpuCores: number;
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
  verdict: 'PASS' | 'MISS' | 'n/a';
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
    subjects: Array<{ name: SubjectName; label: string }>;
    notes: string[];
  };
  content: { sizes: Record<string, number | undefined>; corpus: Array<{ path: string; bytes: number; segments: number }> };
  scenarios: LoadScenario[];
  load: ScenarioRuns;
  loadMedian: Record<string, Partial<Record<SubjectName, LoadMedian>>>;
  /** direct vs the references (nginx-proxy, node-pipe), alternating, on the segment and uncached-playlist scenarios. */
  reference?: Record<string, Partial<Record<SubjectName, LoadMedian>>>;
  bigPlaylist: Partial<Record<SubjectName, BigPlaylistRun[]>>;
  range: Partial<Record<SubjectName, RangeResult>>;
  /** RSS of each proxy process after parts 1–3 (before the fresh processes of parts 4–5). */
  rssAfterLoadMB: Record<string, number[]>;
  viewers: Record<string, Partial<Record<SubjectName, ViewerRun[]>>>;
  leak: Partial<Record<SubjectName, LeakRun>>;
  targets: TargetRow[];
}

const range = (values: number[]): [number, number] => (values.length ? [Math.min(...values), Math.max(...values)] : [NaN, NaN]);

export function medianOf(runs: readonly LoadResult[]): LoadMedian {
  return {
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    mbps: median(runs.map((r) => r.bytesPerSec / 1e6)),
    cpuUsPerReq: median(runs.map((r) => r.cpuUsPerReq ?? NaN)),
    cpuCores: median(runs.map((r) => r.cpuCores ?? NaN)),
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

/** Median over runs of one viewer-run field. */
export function viewerMedian(runs: readonly ViewerRun[] | undefined, pick: (r: ViewerRun) => number): number {
  return runs && runs.length ? median(runs.map(pick)) : NaN;
}

export function ratio(a: number | undefined, b: number | undefined): number {
  return a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN;
}
