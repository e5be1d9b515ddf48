/**
 * Part 1 and 3 of the bench: requests per second and latency for cached playlists, a cache miss, a large
 * corpus playlist and a 1.5 MB segment. Subjects alternate inside every run (the order rotates per run) so
 * that background load on a shared machine spreads over all of them instead of hitting one.
 */
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { runLoad, type LoadOptions, type LoadResult } from './load.js';
import type { BenchSettings } from './settings.js';
import { cpuSeconds } from './stats.js';
import { runStreamLoad } from './stream-load.js';
import type { Subject } from './subjects.js';

export interface LoadScenario {
  id: string;
  title: string;
  /** Origin path. */
  path: string;
  connections: number;
  /** Unique query per request: every request is a cache miss for a caching proxy. */
  unique?: boolean;
  /** 'stream' for large binary bodies (see stream-load.ts); default autocannon. */
  loader?: 'autocannon' | 'stream';
}

export type ScenarioRuns = Record<string, Record<string, LoadResult[]>>;

/** Rotates the subject order by one per run, so no subject is always first (or always after a heavy one). */
export function rotation<T>(items: readonly T[], run: number): T[] {
  const k = run % Math.max(1, items.length);
  return [...items.slice(k), ...items.slice(0, k)];
}

/** One GET that must answer 200 with a non-empty body, so a broken subject fails loudly before measuring. */
export async function primeUrl(url: string, what: string): Promise<string> {
  const res = await request(url, { headersTimeout: 60_000, bodyTimeout: 60_000 });
  const text = await res.body.text();
  if (res.statusCode !== 200 || text.length === 0) {
    throw new Error(`${what}: GET ${url} → ${res.statusCode} ${text.slice(0, 200)}`);
  }
  return text;
}

let uniqueCounter = 0;
const uniqueQuery = (): string => `x=${++uniqueCounter}`;

/** One load run, with the CPU the subject's processes spent on it (a figure the load generator's own
 * share of the two cores does not distort, unlike rps). */
async function loadOnce(sc: LoadScenario, s: Subject, seconds: number): Promise<LoadResult> {
  const opts: LoadOptions = { url: s.url(sc.path), seconds, connections: sc.connections, ...(sc.unique ? { uniqueQuery } : {}) };
  const pids = s.cpuPids();
  const cpu0 = cpuSeconds(pids);
  const t0 = performance.now();
  const r = await (sc.loader === 'stream' ? runStreamLoad(opts) : runLoad(opts));
  const cpu = cpuSeconds(pids) - cpu0;
  const wall = (performance.now() - t0) / 1000;
  return { ...r, cpuUsPerReq: r.ok > 0 ? (cpu * 1e6) / r.ok : NaN, cpuCores: cpu / wall };
}

export async function runLoadScenarios(
  scenarios: readonly LoadScenario[],
  subjects: readonly Subject[],
  settings: BenchSettings,
  log: (line: string) => void,
): Promise<ScenarioRuns> {
  const out: ScenarioRuns = {};
  for (const sc of scenarios) {
    out[sc.id] = {};
    for (const s of subjects) {
      out[sc.id]![s.name] = [];
      await primeUrl(s.url(sc.path), `${sc.id}/${s.name}`);
      if (settings.warmupSeconds > 0) await loadOnce(sc, s, settings.warmupSeconds);
    }
    for (let run = 0; run < settings.runs; run++) {
      for (const s of rotation(subjects, run)) {
        const r = await loadOnce(sc, s, settings.loadSeconds);
        out[sc.id]![s.name]!.push(r);
        const bad = r.errors + r.timeouts + r.non2xx;
        log(`  ${sc.id.padEnd(12)} run ${run + 1}/${settings.runs} ${s.name.padEnd(13)} ${r.rps.toFixed(0).padStart(7)} rps  ` +
          `p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  ${(r.bytesPerSec / 1e6).toFixed(1)} MB/s  ` +
          `cpu ${r.cpuUsPerReq?.toFixed(0)} µs/req (${r.cpuCores?.toFixed(2)} cores)` +
          (bad ? `  errors=${r.errors} timeouts=${r.timeouts} non2xx=${r.non2xx} ${JSON.stringify(r.statuses)}` : ''));
      }
    }
  }
  return out;
}
