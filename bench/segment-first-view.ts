/**
 * `npm run bench:first-view` — the streaming path alone (issue #16): a 1.5 MB segment that no cache can
 * answer (every request carries its own query, `?n=<run>-<counter>`; hls-sidecar runs with
 * `--segment-cache-max-bytes 0`), 10 keep-alive connections, subjects alternating run by run (order reversed
 * every round) against one origin nginx. Prints, per subject, the medians of the rounds:
 *
 *   subject | MB/s | CPU ms per segment | peak RSS MB
 *
 * and the ratios of paired runs (each round's value over the same round's hlsd / nginx proxy_pass): on a
 * 2-core machine shared with other work, a ratio of two runs taken one after the other is steadier than
 * either figure. CPU is the subject's own processes (utime + stime from /proc; the nginx workers for the
 * nginx subjects, the origin's for direct) over the segments served; peak RSS is VmHWM (for nginx, its
 * workers' summed) since the process started, i.e. over warm-up and every round.
 *
 * The load generator is wrk (wrk.ts: one thread, a Lua script that gives every request its own query) when
 * it is on PATH, else the bench's own undici loader (stream-load.ts; autocannon is not used here because it
 * decodes every body byte into a JS string and caps near 90 MB/s on binary segments). Each run is one
 * measured-load.ts run, as in `npm run bench`, whose first-view row is this bench's figures.
 *
 *   FV_SUBJECTS=direct,nginx-proxy,hlsd,node-pipe,cur    comma list of:
 *                    direct       the origin nginx itself (sendfile; the ceiling)
 *                    nginx-proxy  nginx proxy_pass to the origin (keep-alive, 1 worker; the yardstick)
 *                    hlsd         @warren-bank/hls-proxy 3.6.6
 *                    node-pipe    bench/node-pipe-proxy.ts, undici + pipeline and nothing else
 *                    cur          hls-sidecar built in FV_CUR_DIR (default this checkout; `npm run build` first)
 *                    base         hls-sidecar built in FV_BASE_DIR (another checkout with dist/ and node_modules)
 *                    offload      hls-sidecar (this checkout) behind the shipped nginx templates, which answer
 *                                 with X-Accel-Redirect: nginx fetches and streams (issue #16 §1)
 *                    templates    the same with --offload none: the proxy streams, nginx passes it on
 *                   for these two, CPU is the proxy's and nginx's together, and the proxy's alone beside it
 *                   a name may repeat with a digit suffix (cur2) for a second process of the same kind
 *   FV_ROUNDS=3  FV_SECONDS=10  FV_CONNECTIONS=10  FV_WARMUP_SECONDS=2
 *   FV_WRK_CPUS=1            taskset -c list for wrk (default: not pinned)
 *   FV_LOADER=wrk|undici     force a load generator
 *   FV_SIDECAR_ARGS="..."    extra hls-sidecar flags (after --segment-cache-max-bytes 0)
 *   FV_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"   extra Node.js flags for the hls-sidecar subjects
 *   FV_NODE_ARGS_<name> / FV_SIDECAR_ARGS_<name>          the same for one subject only, e.g.
 *                            FV_SUBJECTS=cur,cur2 FV_NODE_ARGS_cur2=--heap-growing-percent=0 (V8's own heap growth)
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFrontNginx, startOriginNginx } from './nginx-servers.js';
import { chooseLoader, measuredLoad, probeOf, type LoaderConfig } from './measured-load.js';
import { median, peakRssMB, withChildren } from './stats.js';
import { startSubject, type Subject, type SubjectContext } from './subjects.js';
import type { SubjectName } from './settings.js';
import { writeWrkScripts } from './wrk.js';
import { hlsdUrl } from '../test/support/proxy.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const env = process.env;
const SEGMENT_BYTES = 1_500_000;
const rounds = Number(env.FV_ROUNDS ?? 3);
const seconds = Number(env.FV_SECONDS ?? 10);
const connections = Number(env.FV_CONNECTIONS ?? 10);
const warmupSeconds = Number(env.FV_WARMUP_SECONDS ?? 2);
const names = (env.FV_SUBJECTS ?? 'direct,nginx-proxy,hlsd,node-pipe,cur').split(',').map((s) => s.trim()).filter(Boolean);
const KINDS: Record<string, SubjectName> = { cur: 'sidecar-mem', base: 'sidecar-mem', hlsd: 'hlsd', direct: 'direct', 'nginx-proxy': 'nginx-proxy', 'node-pipe': 'node-pipe', offload: 'sidecar-mem', templates: 'sidecar-mem' };
const LABELS: Record<string, string> = {
  direct: 'origin nginx, direct', 'nginx-proxy': 'nginx proxy_pass', hlsd: 'hlsd 3.6.6', 'node-pipe': 'bare Node pipe', cur: 'hls-sidecar', base: 'hls-sidecar (base)',
  offload: 'hls-sidecar behind the templates, offload', templates: 'hls-sidecar behind the templates, --offload none',
};

/** One hls-sidecar behind nginx built from the shipped templates (bench/nginx-servers.ts#startFrontNginx). */
async function behindTemplates(inner: Subject): Promise<Subject> {
  const port = Number(new URL(inner.url('seg.ts')).port);
  const { nginx, prefix } = await startFrontNginx(ROOT, [port], true);
  return {
    ...inner,
    url: (p, query) => `${hlsdUrl(`${nginx.url}${prefix}`, `${origin.url}/${p}`, 'ts')}${query ? `?${query}` : ''}`,
    cpuPids: () => [...inner.cpuPids(), ...withChildren(nginx.process.pid)],
    close: async () => {
      await nginx.close();
      await inner.close();
    },
  };
}
const split = (s: string | undefined): string[] => (s ?? '').split(/\s+/).filter(Boolean);
const kindOf = (name: string): SubjectName | undefined => KINDS[name.replace(/\d+$/, '')];

const choice = env.FV_LOADER === 'undici' ? { loader: 'autocannon' as const } : chooseLoader(env.FV_LOADER);
const loaderName = choice.loader === 'wrk' ? 'wrk' : 'undici';

const content = fs.mkdtempSync(path.join(os.tmpdir(), 'hls-sidecar-fv-'));
fs.writeFileSync(path.join(content, 'seg.ts'), crypto.randomBytes(SEGMENT_BYTES));
const loader: LoaderConfig = { ...choice, scripts: writeWrkScripts(content), ...(env.FV_WRK_CPUS ? { wrkCpus: env.FV_WRK_CPUS } : {}) };

const origin = await startOriginNginx(content);
const subjects = new Map<string, Subject>();
try {
  for (const name of names) {
    const kindName = name.replace(/\d+$/, '');
    const kind = KINDS[kindName];
    if (!kind) throw new Error(`FV_SUBJECTS: unknown subject ${name}`);
    const isBase = kindName === 'base';
    const dir = kind !== 'sidecar-mem' ? undefined : isBase ? env.FV_BASE_DIR : env.FV_CUR_DIR;
    if (isBase && !dir) throw new Error('base: set FV_BASE_DIR to another checkout with dist/ built');
    const rootDir = dir ? path.resolve(dir) : ROOT;
    if (kind === 'sidecar-mem' && !fs.existsSync(path.join(rootDir, 'dist/src/cli.js'))) throw new Error(`${name}: ${rootDir}dist/src/cli.js missing (npm run build)`);
    const ctx: SubjectContext = {
      rootDir, originUrl: origin.url, originPid: origin.nginx.process.pid, runner: 'dist',
      nodeArgs: split(env[`FV_NODE_ARGS_${name}`] ?? env.FV_NODE_ARGS),
      sidecarArgs: ['--segment-cache-max-bytes', '0', ...(kindName === 'templates' ? ['--offload', 'none'] : []),
        ...split(env[`FV_SIDECAR_ARGS_${name}`] ?? env.FV_SIDECAR_ARGS)],
    };
    const subject = await startSubject(kind, ctx);
    subjects.set(name, kindName === 'offload' || kindName === 'templates' ? await behindTemplates(subject) : subject);
  }
  const measure = async (name: string, secs: number): Promise<{ mbps: number; cpuMs: number; proxyCpuMs: number; p50Ms: number }> => {
    const s = subjects.get(name)!;
    const r = await measuredLoad(probeOf(s), { url: s.url('seg.ts'), seconds: secs, connections, unique: true, big: true }, loader);
    if (r.errors + r.timeouts + r.non2xx) throw new Error(`${name}: ${r.errors + r.timeouts + r.non2xx} failed requests`);
    return { mbps: r.bytesPerSec / 1e6, cpuMs: (r.cpuUsPerReq ?? NaN) / 1e3, proxyCpuMs: (r.proxyCpuUsPerReq ?? NaN) / 1e3, p50Ms: r.p50 };
  };
  console.log(`first-view segments: ${SEGMENT_BYTES / 1e6} MB, ${connections} connections, ${rounds} × ${seconds} s, loader ${loaderName}` +
    `${env.FV_WRK_CPUS ? ` (taskset -c ${env.FV_WRK_CPUS})` : ''}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const name of names) if (warmupSeconds > 0) await measure(name, warmupSeconds); // not recorded
  const runs = new Map<string, Array<{ mbps: number; cpuMs: number; proxyCpuMs: number; p50Ms: number }>>(names.map((n) => [n, []]));
  for (let i = 0; i < rounds; i++) {
    for (const name of i % 2 ? [...names].reverse() : names) {
      const r = await measure(name, seconds);
      runs.get(name)!.push(r);
      console.log(`  round ${i + 1} ${name.padEnd(12)} ${r.mbps.toFixed(0).padStart(5)} MB/s  ${r.cpuMs.toFixed(2)} ms CPU/segment  ` +
        `(proxy ${Number.isNaN(r.proxyCpuMs) ? '-' : r.proxyCpuMs.toFixed(3)})  p50 ${r.p50Ms.toFixed(1)} ms`);
    }
  }
  const ratio = (name: string, ref: string): string => {
    const a = runs.get(name);
    const b = runs.get(ref);
    if (!a || !b || name === ref) return '';
    return `${median(a.map((r, i) => r.mbps / b[i]!.mbps)).toFixed(2)}×`;
  };
  console.log('');
  console.log('| subject | MB/s | CPU ms per segment | proxy CPU ms per segment | peak RSS MB | MB/s vs hlsd (paired) | MB/s vs nginx proxy_pass (paired) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const name of names) {
    const list = runs.get(name)!;
    const peak = probeOf(subjects.get(name)!).rssGroups.flat().map(peakRssMB).reduce((a, b) => a + b, 0);
    const label = LABELS[name.replace(/\d+$/, '')] ?? name;
    const extra = split(env[`FV_NODE_ARGS_${name}`] ?? env.FV_NODE_ARGS).join(' ');
    console.log(`| ${label}${/\d$/.test(name) ? ` (${name})` : ''}${kindOf(name) === 'sidecar-mem' && extra ? ` \`${extra}\`` : ''} | ${median(list.map((r) => r.mbps)).toFixed(0)} | ${median(list.map((r) => r.cpuMs)).toFixed(2)} | ${Number.isNaN(list[0]!.proxyCpuMs) ? '' : median(list.map((r) => r.proxyCpuMs)).toFixed(3)} | ` +
      `${peak.toFixed(0)} | ${ratio(name, 'hlsd')} | ${ratio(name, 'nginx-proxy')} |`);
  }
} finally {
  for (const s of subjects.values()) await s.close().catch(() => undefined);
  await origin.close();
  fs.rmSync(content, { recursive: true, force: true });
}
