/**
 * wrk (the Debian package; scripts/bench.sh installs it) as the bench's load generator, in a process of its
 * own: the bench's measurements of a subject (CPU from /proc, RSS) never include the generator, and its rps
 * is not the bench process's event loop (autocannon in-process shares the two cores with every subject).
 *
 * Two Lua scripts, both ending with `done` printing one JSON line the bench parses (parseWrkLine): wrk's
 * static request (no Lua per request), or every request with its own query `n=<tag>-<counter>`, so no
 * cache answers it (the path of a segment's first viewer).
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LoadResult } from './load.js';

/** wrk on PATH? (`wrk --version` prints its banner and exits 1; only a missing binary is ENOENT.) */
export function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** Prints one JSON line at the end (the bench parses it with parseWrkLine). */
const DONE_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"bytes":%d,"durationUs":%d,"socketErrors":%d,"timeouts":%d,"non2xx":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\\n',
    summary.requests, summary.bytes, summary.duration, e.connect + e.read + e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;

/** Every request its own query: `<path>?n=<tag>-<counter>` (or `&n=` when the path has a query). */
const UNIQUE_LUA = `
local counter = 0
local path, tag, sep
init = function(args)
  path = args[1]; tag = args[2]
  sep = string.find(path, "?", 1, true) and "&" or "?"
end
request = function()
  counter = counter + 1
  return wrk.format("GET", path .. sep .. "n=" .. tag .. "-" .. counter)
end
`;

export interface WrkScripts {
  /** wrk's static request (no Lua per request), the result line at the end. */
  same: string;
  /** Every request its own query. */
  unique: string;
}

/** Writes the two scripts into `dir` (once per bench). */
export function writeWrkScripts(dir: string): WrkScripts {
  const same = path.join(dir, 'wrk-same.lua');
  const unique = path.join(dir, 'wrk-unique.lua');
  writeFileSync(same, DONE_LUA);
  writeFileSync(unique, UNIQUE_LUA + DONE_LUA);
  return { same, unique };
}

export interface WrkOptions {
  url: string;
  seconds: number;
  connections: number;
  scripts: WrkScripts;
  /** Every request its own query (`n=<tag>-<counter>`); absent: the same request every time. */
  uniqueTag?: string;
  threads?: number;
  headers?: Record<string, string>;
  /** taskset -c list for wrk (unpinned when absent). */
  cpus?: string;
}

/** The JSON line of the script's `done`, as a LoadResult (rps and MB/s over wrk's own duration). */
export function parseWrkLine(stdout: string): LoadResult | undefined {
  const line = /^WRKJSON (\{.*\})$/m.exec(stdout)?.[1];
  if (!line) return undefined;
  const r = JSON.parse(line) as { requests: number; bytes: number; durationUs: number; socketErrors: number; timeouts: number; non2xx: number; p50Us: number; p99Us: number; maxUs: number };
  const seconds = r.durationUs / 1e6;
  // wrk's status errors are responses above 399; they are in `requests` too.
  const ok = r.requests - r.non2xx;
  return {
    rps: ok / seconds,
    bytesPerSec: r.bytes / seconds,
    bytes: r.bytes,
    p50: r.p50Us / 1000,
    p99: r.p99Us / 1000,
    max: r.maxUs / 1000,
    ok,
    requests: r.requests,
    errors: r.socketErrors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    statuses: {},
  };
}

export function runWrk(opts: WrkOptions): Promise<LoadResult> {
  const u = new URL(opts.url);
  const target = opts.uniqueTag ? `${u.origin}/` : opts.url;
  const args = [`-t${opts.threads ?? 1}`, `-c${opts.connections}`, `-d${opts.seconds}s`, '--timeout', '10s', '--latency',
    ...Object.entries(opts.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
    '-s', opts.uniqueTag ? opts.scripts.unique : opts.scripts.same, target, '--', `${u.pathname}${u.search}`, opts.uniqueTag ?? ''];
  const [cmd, argv] = opts.cpus ? ['taskset', ['-c', opts.cpus, 'wrk', ...args]] : ['wrk', args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv as string[], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const r = parseWrkLine(out);
      if (code !== 0 || !r) reject(new Error(`wrk exited ${code}: ${err || out}`));
      else resolve(r);
    });
  });
}
