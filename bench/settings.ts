/**
 * Knobs for `npm run bench`, read once from the environment (the bench is a tool, not part of src/, so it
 * may read process.env). BENCH_QUICK=1 validates the harness in a few minutes; the defaults are the full
 * run (3 runs per subject and row, medians reported; about 12 minutes).
 */
import os from 'node:os';

export type SubjectName = 'direct' | 'sidecar-mem' | 'sidecar-redis' | 'hlsd' | 'nginx-proxy' | 'node-pipe';
export const ALL_SUBJECTS: readonly SubjectName[] = ['direct', 'sidecar-mem', 'sidecar-redis', 'hlsd', 'node-pipe', 'nginx-proxy'];
/** The subjects whose live-viewer rows are measured (the yardsticks pass every request through). */
export const VIEWER_SUBJECTS: readonly SubjectName[] = ['direct', 'sidecar-mem', 'sidecar-redis', 'hlsd'];

export interface BenchSettings {
  quick: boolean;
  /** Measured runs per subject and scenario (alternating subjects). */
  runs: number;
  /** Seconds of load per measured run. */
  loadSeconds: number;
  /** Seconds of (unrecorded) warm-up per subject and scenario, before run 1. */
  warmupSeconds: number;
  connections: number;
  segmentConnections: number;
  viewerCounts: number[];
  viewerSeconds: number;
  viewerRuns: number;
  /** Viewers of one new live segment, and the time over which they ask for it (the fan-out row). */
  fanoutViewers: number;
  fanoutSpreadMs: number;
  fanoutRounds: number;
  /** Seconds of the leak check (BENCH_LEAK_SECONDS; 0, the default, skips it). */
  leakSeconds: number;
  /** Live stream segment length (EXT-X-TARGETDURATION), seconds. */
  liveTargetSeconds: number;
  subjects: SubjectName[];
  /** 'dist': node dist/src/cli.js (after npm run build); 'tsx': node --import tsx src/cli.ts. */
  runner: 'dist' | 'tsx';
  /** Extra hls-sidecar flags (BENCH_SIDECAR_ARGS, split on spaces), e.g. `--log-level info`. */
  sidecarArgs: string[];
  /** BENCH_FRONT_CACHE=off: the Redis subject's nginx without the templates' front caches (playlists, segments). */
  frontCache: boolean;
  nodeArgs: string[];
  /** BENCH_LOADER=wrk|autocannon forces a load generator (default: wrk when installed). */
  loader: string | undefined;
  /** wrk threads (BENCH_WRK_THREADS, default 1) and an optional taskset -c list for it (BENCH_WRK_CPUS). */
  wrkThreads: number;
  wrkCpus: string | undefined;
  resultsDir: string;
}

function int(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}: expected an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

function list(name: string, fallback: string): string[] {
  return (process.env[name] ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);
}

/** BENCH_FRONT_CACHE: on unless 0/off/false/no (read by the full bench and by bench:ab). */
export const frontCacheFromEnv = (): boolean => !/^(0|off|false|no)$/i.test(process.env.BENCH_FRONT_CACHE ?? '');

export function readSettings(rootDir: string): BenchSettings {
  const quick = /^(1|true|yes)$/i.test(process.env.BENCH_QUICK ?? '');
  const subjects = list('BENCH_SUBJECTS', ALL_SUBJECTS.join(','));
  for (const s of subjects) {
    if (!(ALL_SUBJECTS as readonly string[]).includes(s)) throw new Error(`BENCH_SUBJECTS: unknown subject ${s} (known: ${ALL_SUBJECTS.join(', ')})`);
  }
  const viewerCounts = list('BENCH_VIEWERS', '200,1000').map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_VIEWERS: bad count ${v}`);
    return n;
  });
  const runner = process.env.BENCH_RUNNER === 'tsx' ? 'tsx' : 'dist';
  return {
    quick,
    runs: int('BENCH_RUNS', quick ? 1 : 3),
    loadSeconds: int('BENCH_SECONDS', quick ? 3 : 5),
    warmupSeconds: int('BENCH_WARMUP_SECONDS', 1, 0),
    connections: int('BENCH_CONNECTIONS', 50),
    segmentConnections: int('BENCH_SEGMENT_CONNECTIONS', 10),
    viewerCounts,
    viewerSeconds: int('BENCH_VIEWER_SECONDS', quick ? 10 : 20),
    viewerRuns: int('BENCH_VIEWER_RUNS', 1),
    fanoutViewers: int('BENCH_FANOUT_VIEWERS', 200),
    fanoutSpreadMs: int('BENCH_FANOUT_SPREAD_MS', 2000),
    fanoutRounds: int('BENCH_FANOUT_ROUNDS', quick ? 1 : 2),
    leakSeconds: int('BENCH_LEAK_SECONDS', 0, 0),
    liveTargetSeconds: int('BENCH_LIVE_TARGET', 2),
    subjects: subjects as SubjectName[],
    runner,
    sidecarArgs: (process.env.BENCH_SIDECAR_ARGS ?? '').split(/\s+/).filter(Boolean),
    frontCache: frontCacheFromEnv(),
    nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
    loader: process.env.BENCH_LOADER || undefined,
    wrkThreads: int('BENCH_WRK_THREADS', 1),
    wrkCpus: process.env.BENCH_WRK_CPUS || undefined,
    resultsDir: process.env.BENCH_RESULTS_DIR ?? `${rootDir}/bench/results`,
  };
}

/** Machine facts recorded next to the numbers: a bench result means little without them. */
export function machineInfo(): Record<string, unknown> {
  return {
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryMB: Math.round(os.totalmem() / 2 ** 20),
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    platform: `${os.platform()} ${os.release()}`,
  };
}
