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

function statusMB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1]) / 1024;
  } catch {
    return NaN;
  }
}

/** Resident set size of a process in MiB (VmRSS), or NaN when it is gone. */
export const rssMB = (pid: number): number => statusMB(pid, 'VmRSS');

/** Peak resident set size since the process started, MiB (VmHWM), or NaN when it is gone. */
export const peakRssMB = (pid: number): number => statusMB(pid, 'VmHWM');

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

/**
 * RSS sampled per group of processes (an nginx master and its workers, one proxy process), each group's
 * processes summed per sample: the peak of each group's sum.
 */
export function sampleRssGroups(groups: readonly number[][], everyMs = 100): { stop(): { peakMB: number[]; lastMB: number[] } } {
  const sampler = sampleRss(groups.flat(), everyMs);
  return {
    stop() {
      const { series } = sampler.stop();
      // series rows hold groups.flat()'s processes in order: consecutive slices are the groups.
      const sums = series.map((tick) => {
        let at = 0;
        return groups.map((g) => tick.slice(at, (at += g.length)).reduce((a, b) => a + b, 0));
      });
      const peak = (gi: number): number => {
        const values = sums.map((row) => row[gi]!).filter(Number.isFinite);
        return values.length ? Math.max(...values) : NaN;
      };
      return {
        peakMB: groups.map((_, gi) => peak(gi)),
        lastMB: groups.map((_, gi) => sums[sums.length - 1]?.[gi] ?? NaN),
      };
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

/** The fields of a /proc/<pid>/stat line after the parenthesised command name (which may hold spaces and ')'). */
export function statFieldsOf(text: string): string[] {
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of a /proc/<pid>/stat line, clock ticks (fields 14 and 15 of proc(5)). */
export function cpuTicksOf(statText: string): number {
  const f = statFieldsOf(statText);
  // After the name: state is field 3 of proc(5), so field n is index n - 3 here.
  return Number(f[11]) + Number(f[12]);
}

function statText(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
}

function statFields(pid: number): string[] | undefined {
  const text = statText(pid);
  return text === undefined ? undefined : statFieldsOf(text);
}

/** CPU seconds (user + system) consumed so far by these processes; vanished ones count 0. */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const text = statText(pid);
    if (text !== undefined) ticks += cpuTicksOf(text);
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

/** A process and its direct children: an nginx master and its workers, all of one server's CPU. */
export const withChildren = (parent: number): number[] => [parent, ...childPids(parent)];

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
