/**
 * `npm run bench:cold-playlist` — the 100k-segment VOD playlist, cold every time: each request names the
 * upstream under a new query, so the proxy fetches ~3 MB from the origin, rewrites ~100k URIs and sends
 * ~9 MB. The first request goes out the moment the proxy accepts connections (the render worker's start-up
 * is part of it unless the proxy warmed it; hls-sidecar opens its port once it has, so the start-up column,
 * from spawning the process to its port accepting, shows what that wait costs). Meanwhile a poller asks for a small cached playlist at a fixed
 * rate, from a process of its own (bench/small-poller.ts); its p99 shows whether the big rewrite stalls
 * other viewers. The origin is nginx (sendfile), so the
 * `direct` row is the transfer alone: what no proxy can go below on this machine.
 *
 *   COLD_N=10                 cold requests per round, sequential
 *   COLD_SEGMENTS=100000      segments in the big playlist
 *   COLD_SUBJECTS=direct,sidecar-mem   comma list: sidecar-mem (dist/, `npm run build` first), base (see
 *                             COLD_BASE_DIR), hlsd, direct (the origin nginx itself)
 *   COLD_BASE_DIR=../base     another checkout with dist/ built and node_modules present (e.g. the commit
 *                             before a change), run as the subject "base"
 *   COLD_ROUNDS=1             rounds, each with fresh processes; the table shows the median of the rounds
 *   COLD_RUNNER=dist          dist | tsx (TypeScript sources; the worker then loads through tsx)
 *   COLD_SMALL_RPS=200        small-playlist requests per second meanwhile (open loop, each timed)
 *   COLD_DELAY_MS=0           wait this long after start-up before the first request
 *   COLD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"   Node.js flags for hls-sidecar
 *
 * Prints one table: start-up, the first request, p50 and max of the others, small p99 and max meanwhile (and the p99
 * of those sent after the first big response, start-up left out), and the machine's load average (the
 * bench machine is shared: read the numbers with it).
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { mediaPlaylist } from './content.js';
import { startOriginNginx } from './nginx-servers.js';
import { median, percentile } from './stats.js';
import { startSubject, type Subject } from './subjects.js';
import type { SubjectName } from './settings.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const env = process.env;
const n = Number(env.COLD_N ?? 10);
const segments = Number(env.COLD_SEGMENTS ?? 100_000);
const smallRps = Number(env.COLD_SMALL_RPS ?? 200);
const rounds = Number(env.COLD_ROUNDS ?? 1);
const delayMs = Number(env.COLD_DELAY_MS ?? 0);
const runner = env.COLD_RUNNER === 'tsx' ? 'tsx' : 'dist';
const names = (env.COLD_SUBJECTS ?? 'direct,sidecar-mem').split(',').map((s) => s.trim()).filter(Boolean);
const KINDS: Record<string, SubjectName> = { 'sidecar-mem': 'sidecar-mem', base: 'sidecar-mem', hlsd: 'hlsd', direct: 'direct' };
for (const name of names) if (!KINDS[name]) throw new Error(`COLD_SUBJECTS: unknown subject ${name}`);
const baseDir = env.COLD_BASE_DIR ? path.resolve(env.COLD_BASE_DIR) : undefined;
if (names.includes('base') && !(baseDir && fs.existsSync(path.join(baseDir, 'dist/src/cli.js')))) {
  throw new Error('base: set COLD_BASE_DIR to another checkout with dist/ built');
}
if (names.includes('sidecar-mem') && runner === 'dist' && !fs.existsSync(path.join(ROOT, 'dist/src/cli.js'))) {
  throw new Error('sidecar-mem: run `npm run build` first (or COLD_RUNNER=tsx)');
}

interface Timed {
  ms: number;
  bytes: number;
  status: number;
}

async function timedGet(url: string): Promise<Timed> {
  const start = performance.now();
  const res = await request(url, { headersTimeout: 120_000, bodyTimeout: 120_000 });
  let bytes = 0;
  for await (const chunk of res.body) bytes += (chunk as Buffer).length;
  return { ms: performance.now() - start, bytes, status: res.statusCode };
}

/**
 * bench/small-poller.ts in a process of its own, started before the proxy (a tsx process takes a while to
 * start, and the first big request must not wait for it); start(url) begins polling, stop() returns every
 * request as [sent at (ms since the epoch), latency (ms)].
 */
async function smallPoller(rps: number): Promise<{ start(url: string): void; stop(): Promise<Array<[number, number]>> }> {
  const child = fork(path.join(ROOT, 'bench/small-poller.ts'), [String(rps)], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`small-poller exited with ${code}`)));
  });
  return {
    start: (url) => child.send({ url }),
    stop: () =>
      new Promise<Array<[number, number]>>((resolve) => {
        child.once('message', (samples) => resolve(samples as Array<[number, number]>));
        child.send('stop');
      }),
  };
}

interface Row {
  startup: number;
  first: number;
  restP50: number;
  restMax: number;
  bytes: number;
  smallP99: number;
  smallMax: number;
  smallCount: number;
  /** Small requests sent after the first big response: start-up (JIT, lazy loading, the warm-up) left out. */
  laterP99: number;
  load: number;
}

let unique = 0;

async function round(name: string, originUrl: string, originPid: number): Promise<Row> {
  const poller = await smallPoller(smallRps);
  const spawned = performance.now();
  const subject: Subject = await startSubject(KINDS[name]!, {
    rootDir: name === 'base' ? baseDir! : ROOT, originUrl, originPid, runner,
    nodeArgs: env.COLD_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
  });
  const startup = performance.now() - spawned;
  try {
    // Right after the port accepts: no warm-up request of any kind before the first big one.
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    const load = os.loadavg()[0]!;
    poller.start(subject.url('small.m3u8'));
    const times: Timed[] = [];
    let firstDone = 0;
    for (let i = 0; i < n; i++) {
      const r = await timedGet(subject.url('vod-big.m3u8', `cold=${process.pid}-${++unique}`));
      if (r.status !== 200) throw new Error(`${name}: big playlist answered ${r.status}`);
      times.push(r);
      if (i === 0) firstDone = performance.timeOrigin + performance.now();
    }
    const samples = await poller.stop();
    const small = samples.map(([, ms]) => ms).sort((a, b) => a - b);
    const later = samples.filter(([at]) => at >= firstDone).map(([, ms]) => ms).sort((a, b) => a - b);
    const rest = times.slice(1).map((t) => t.ms);
    return {
      startup, first: times[0]!.ms, restP50: median(rest), restMax: Math.max(...rest), bytes: times[0]!.bytes,
      smallP99: percentile(small, 99), smallMax: small.at(-1) ?? NaN, smallCount: small.length, laterP99: percentile(later, 99), load,
    };
  } finally {
    await subject.close();
  }
}

const content = fs.mkdtempSync(path.join(os.tmpdir(), 'hls-sidecar-cold-'));
fs.writeFileSync(path.join(content, 'vod-big.m3u8'), mediaPlaylist(segments));
fs.writeFileSync(path.join(content, 'small.m3u8'), mediaPlaylist(10));
const origin = await startOriginNginx(content);
const runs = new Map<string, Row[]>(names.map((name) => [name, []]));
try {
  for (let r = 0; r < rounds; r++) {
    // Subjects alternate, the order reversed every round, so a busy spell on the machine hits them alike.
    for (const name of r % 2 ? [...names].reverse() : names) {
      const row = await round(name, origin.url, origin.nginx.process.pid);
      runs.get(name)!.push(row);
      if (rounds > 1) console.log(`${name} round ${r + 1}: start-up ${row.startup.toFixed(0)} ms, first ${row.first.toFixed(1)} ms, rest p50 ${row.restP50.toFixed(1)} ms, small p99 ${row.smallP99.toFixed(1)} ms (after the first ${row.laterP99.toFixed(1)} ms) (load ${row.load.toFixed(2)})`);
    }
  }
} finally {
  await origin.close();
  fs.rmSync(content, { recursive: true, force: true });
}

const f = (x: number): string => x.toFixed(1);
const med = (rows: Row[], k: keyof Row): number => median(rows.map((row) => row[k]));
console.log(`\ncold ${segments}-segment playlist, ${n} sequential requests (each a cache miss) from start-up, small playlist polled at ${smallRps}/s meanwhile (${runner}${rounds > 1 ? `; medians of ${rounds} rounds` : ''})\n`);
console.log('| subject | start-up ms | first ms | rest p50 ms | rest max ms | response MB | small p99 ms | small max ms | small p99 after the first ms | small requests | load avg |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const [name, rows] of runs) {
  console.log(`| ${name} | ${med(rows, 'startup').toFixed(0)} | ${f(med(rows, 'first'))} | ${f(med(rows, 'restP50'))} | ${f(med(rows, 'restMax'))} | ${(med(rows, 'bytes') / 1e6).toFixed(1)} | ${f(med(rows, 'smallP99'))} | ${f(med(rows, 'smallMax'))} | ${f(med(rows, 'laterP99'))} | ${med(rows, 'smallCount')} | ${med(rows, 'load').toFixed(2)} |`);
}
