/**
 * Small numeric helpers and process memory probes (Linux /proc) for the bench.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function round(n: number, digits = 2): number {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Resident set size of a process in MiB (VmRSS), or NaN when it is gone. */
export function rssMB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
    return kb / 1024;
  } catch {
    return NaN;
  }
}

/** Samples the RSS of some processes every `everyMs` and keeps the peak per process. */
export interface RssSampler {
  /** Peak and last value per process, and every sample (one array of per-process values per tick). */
  stop(): { peakMB: number[]; lastMB: number[]; series: number[][] };
}

export function sampleRss(pids: readonly number[], everyMs = 250): RssSampler {
  const peak = pids.map(() => 0);
  const last = pids.map(() => NaN);
  const series: number[][] = [];
  const tick = (): void => {
    pids.forEach((pid, i) => {
      const v = rssMB(pid);
      last[i] = v;
      if (v > peak[i]!) peak[i] = v;
    });
    series.push([...last]);
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      return { peakMB: [...peak], lastMB: [...last], series };
    },
  };
}

/** Wall-clock milliseconds since `start` (from performance.now()). */
export function since(start: number): number {
  return performance.now() - start;
}

let clockTicks: number | undefined;

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat (almost always 100). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** /proc/<pid>/stat fields after the parenthesised command name (which may contain spaces). */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) consumed so far by these processes; vanished ones count 0. */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const f = statFields(pid);
    // After the name: state(0) ppid(1) ... utime is field 14 of the full line, i.e. index 11 here.
    if (f) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / ticksPerSecond();
}

/** Direct children of a process (e.g. nginx workers of a master). */
export function childPids(parent: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(Number(entry));
    if (f && Number(f[1]) === parent) out.push(Number(entry));
  }
  return out;
}

/** Processes whose command line contains every one of `needles` (e.g. redis-server and its port). */
export function findPids(needles: readonly string[]): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (needles.every((n) => cmd.includes(n))) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}
