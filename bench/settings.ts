/**
 * Knobs for `npm run bench`, read once from the environment (the bench is a tool, not part of src/, so it
 * may read process.env). BENCH_QUICK=1 validates the harness in about five minutes; the defaults are the
 * full run the issue asks for (at least 3 runs per subject, medians reported).
 */
import os from 'node:os';

export type SubjectName = 'direct' | 'sidecar-mem' | 'sidecar-redis' | 'hlsd' | 'nginx-proxy' | 'node-pipe';
export const ALL_SUBJECTS: readonly SubjectName[] = ['direct', 'sidecar-mem', 'sidecar-redis', 'hlsd'];

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
  /** Measure nginx as a plain reverse proxy and a bare Node.js streaming proxy next to direct
   * (BENCH_REFERENCE=0 skips them): the yardsticks for what any proxy, and any proxy in Node, reaches here. */
  reference: boolean;
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
    viewerSeconds: int('BENCH_VIEWER_SECONDS', quick ? 10 : 30),
    viewerRuns: int('BENCH_VIEWER_RUNS', 1),
    leakSeconds: int('BENCH_LEAK_SECONDS', quick ? 15 : 60),
    liveTargetSeconds: int('BENCH_LIVE_TARGET', 2),
    subjects: subjects as SubjectName[],
    runner,
    sidecarArgs: (process.env.BENCH_SIDECAR_ARGS ?? '').split(/\s+/).filter(Boolean),
    frontCache: frontCacheFromEnv(),
    nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
    reference: !/^(0|false|no)$/i.test(process.env.BENCH_REFERENCE ?? ''),
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
