/**
 * The load rows of the bench: cached playlists (10 and 900 segments), a 1.5 MB segment asked for again and
 * again (the copies a proxy or its nginx keeps answer), and the same segment with every request its own
 * query (its first viewer: no cache can answer). Subjects alternate inside every run (the order rotates per
 * run) so that background load on a shared machine spreads over all of them instead of hitting one; a run
 * of every subject is a round, and ratios between subjects are taken round by round (pairedRatio).
 */
import { request } from 'undici';
import type { LoadResult } from './load.js';
import { measuredLoad, probeOf, type LoaderConfig } from './measured-load.js';
import type { BenchSettings } from './settings.js';
import type { Subject } from './subjects.js';

export interface LoadScenario {
  id: string;
  title: string;
  /** Origin path. */
  path: string;
  connections: number;
  /** Every request its own query: no cache answers it. */
  unique?: boolean;
  /** Big binary bodies (a segment). */
  big?: boolean;
}

/** scenario id → subject name → one result per round. */
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

const mb = (xs: number[] | undefined): string => (xs ?? []).map((m) => m.toFixed(0)).join('+');

export async function runLoadScenarios(
  scenarios: readonly LoadScenario[],
  subjects: readonly Subject[],
  settings: BenchSettings,
  loader: LoaderConfig,
  log: (line: string) => void,
): Promise<ScenarioRuns> {
  const out: ScenarioRuns = {};
  for (const sc of scenarios) {
    out[sc.id] = {};
    const once = (s: Subject, seconds: number): Promise<LoadResult> =>
      measuredLoad(probeOf(s), { url: s.url(sc.path), seconds, connections: sc.connections, unique: sc.unique, big: sc.big }, loader);
    for (const s of subjects) {
      out[sc.id]![s.name] = [];
      await primeUrl(s.url(sc.path, sc.unique ? 'prime=1' : undefined), `${sc.id}/${s.name}`);
      if (settings.warmupSeconds > 0) await once(s, settings.warmupSeconds);
    }
    for (let run = 0; run < settings.runs; run++) {
      for (const s of rotation(subjects, run)) {
        const r = await once(s, settings.loadSeconds);
        out[sc.id]![s.name]!.push(r);
        const bad = r.errors + r.timeouts + r.non2xx;
        log(`  ${sc.id.padEnd(12)} run ${run + 1}/${settings.runs} ${s.name.padEnd(13)} ${r.rps.toFixed(0).padStart(7)} rps  ` +
          `${(r.bytesPerSec / 1e6).toFixed(1)} MB/s  p50 ${r.p50.toFixed(2)} ms  cpu ${r.cpuUsPerReq?.toFixed(1)} µs/req ` +
          `${r.cpuUsPerMB?.toFixed(0)} µs/MB (${r.cpuCores?.toFixed(2)} cores)  RSS peak ${mb(r.rssPeakMB)} MB` +
          (bad ? `  errors=${r.errors} timeouts=${r.timeouts} non2xx=${r.non2xx}` : ''));
      }
    }
  }
  return out;
}
