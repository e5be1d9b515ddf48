/**
 * `npm run bench:ab` — a paired comparison for one scenario, for checking a single change quickly (the full
 * `npm run bench` takes about 12 minutes). Subjects alternate run by run (order reversed every round) against one
 * origin nginx; medians of the measured rounds are printed with CPU µs per request from /proc. Each run is
 * one measured-load.ts run (wrk in its own process when installed; BENCH_LOADER=autocannon forces the old one).
 *
 *   AB_SUBJECTS=base,cur     comma list of:
 *                              cur      hls-sidecar built in this checkout (dist/; `npm run build` first)
 *                              base     hls-sidecar built in AB_BASE_DIR, e.g. a `git worktree` of the
 *                                       commit before the change, with dist/ built and node_modules present
 *                              redis    2 replicas of this checkout with Redis, behind the shipped nginx templates
 *                              base-redis  the same from AB_BASE_DIR (its templates too)
 *                              hlsd, direct, nginx-proxy, node-pipe   as in the full bench
 *                            a name may repeat with a digit suffix (cur2) for a second process of the same kind
 *   AB_MODE=segment          segment (1.5 MB, MB/s) | master | small | m900 (cached playlists, rps) |
 *                            miss (the 10-segment playlist under a new query each request: every one a miss)
 *   AB_ROUNDS=4  AB_SECONDS=4  AB_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"   (for sidecars)
 *   AB_SIDECAR_ARGS="--segment-cache-max-bytes 0"   hls-sidecar flags (this one: stream every segment)
 *   AB_FORWARDED=1           send the X-Forwarded-* headers nginx would (playlist modes)
 *   BENCH_FRONT_CACHE=off    redis subjects without the templates' front caches (playlists, segments) in nginx
 *
 * Example: git worktree add ../base HEAD~1 && (cd ../base && npm ci && npm run build) &&
 *          npm run build && AB_BASE_DIR=../base AB_MODE=small npm run bench:ab
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { masterPlaylist, mediaPlaylist } from './content.js';
import { chooseLoader, measuredLoad, probeOf, type LoaderConfig } from './measured-load.js';
import { startOriginNginx } from './nginx-servers.js';
import { median } from './stats.js';
import { startSubject, type Subject, type SubjectContext } from './subjects.js';
import { frontCacheFromEnv, type SubjectName } from './settings.js';
import { writeWrkScripts } from './wrk.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const env = process.env;
const mode = env.AB_MODE ?? 'segment';
if (!['segment', 'master', 'small', 'm900', 'miss'].includes(mode)) throw new Error(`AB_MODE: unknown mode ${mode}`);
const rounds = Number(env.AB_ROUNDS ?? 4);
const seconds = Number(env.AB_SECONDS ?? 4);
const names = (env.AB_SUBJECTS ?? 'cur').split(',').map((s) => s.trim()).filter(Boolean);
const KINDS: Record<string, SubjectName> = {
  cur: 'sidecar-mem', base: 'sidecar-mem', redis: 'sidecar-redis', 'base-redis': 'sidecar-redis', hlsd: 'hlsd', direct: 'direct', 'nginx-proxy': 'nginx-proxy', 'node-pipe': 'node-pipe',
};
const FORWARDED = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'media.example.com', 'x-forwarded-prefix': '/hls-proxy', 'x-forwarded-for': '10.1.2.3' };

const content = fs.mkdtempSync(path.join(os.tmpdir(), 'hls-sidecar-ab-'));
fs.writeFileSync(path.join(content, 'seg.ts'), crypto.randomBytes(1_500_000));
fs.writeFileSync(path.join(content, 'small.m3u8'), mediaPlaylist(10));
fs.writeFileSync(path.join(content, 'm900.m3u8'), mediaPlaylist(900));
fs.writeFileSync(path.join(content, 'master.m3u8'), masterPlaylist());
const file = mode === 'segment' ? 'seg.ts' : mode === 'miss' ? 'small.m3u8' : `${mode}.m3u8`;
const loader: LoaderConfig = { ...chooseLoader(env.BENCH_LOADER), scripts: writeWrkScripts(content) };

const origin = await startOriginNginx(content);
const subjects = new Map<string, Subject>();
try {
  for (const name of names) {
    const kind = KINDS[name.replace(/\d+$/, '')];
    if (!kind) throw new Error(`AB_SUBJECTS: unknown subject ${name}`);
    const isBase = name.startsWith('base');
    if (isBase && !(env.AB_BASE_DIR && fs.existsSync(path.join(env.AB_BASE_DIR, 'dist/src/cli.js')))) {
      throw new Error('base: set AB_BASE_DIR to another checkout with dist/ built');
    }
    const rootDir = isBase ? path.resolve(env.AB_BASE_DIR!) : ROOT;
    const ctx: SubjectContext = {
      rootDir, originUrl: origin.url, originPid: origin.nginx.process.pid, runner: 'dist', frontCache: frontCacheFromEnv(),
      nodeArgs: env.AB_NODE_ARGS?.split(' ').filter(Boolean) ?? [], sidecarArgs: env.AB_SIDECAR_ARGS?.split(' ').filter(Boolean) ?? [],
    };
    subjects.set(name, await startSubject(kind, ctx));
  }
  const measure = async (name: string, secs: number): Promise<{ value: number; cpuUs: number; p50: number }> => {
    const s = subjects.get(name)!;
    const r = await measuredLoad(probeOf(s), {
      url: s.url(file), seconds: secs, connections: mode === 'segment' ? 10 : 50, big: mode === 'segment', unique: mode === 'miss',
      ...(env.AB_FORWARDED && mode !== 'segment' ? { headers: FORWARDED } : {}),
    }, loader);
    if (r.errors || r.non2xx) throw new Error(`${name}: ${r.errors} errors, ${r.non2xx} non-2xx`);
    return { value: mode === 'segment' ? r.bytesPerSec / 1e6 : r.rps, cpuUs: r.cpuUsPerReq ?? NaN, p50: r.p50 };
  };
  for (const name of names) await measure(name, 1); // warm-up, not recorded
  const runs = new Map<string, Array<{ value: number; cpuUs: number; p50: number }>>(names.map((n) => [n, []]));
  for (let i = 0; i < rounds; i++) {
    for (const name of i % 2 ? [...names].reverse() : names) {
      const r = await measure(name, seconds);
      runs.get(name)!.push(r);
      console.log(`${name.padEnd(12)} ${mode} round ${i + 1}: ${r.value.toFixed(0)} ${mode === 'segment' ? 'MB/s' : 'rps'}, ${r.cpuUs.toFixed(1)} µs CPU/req, p50 ${r.p50.toFixed(2)} ms`);
    }
  }
  for (const name of names) {
    const list = runs.get(name)!;
    console.log(`median ${name.padEnd(12)} ${median(list.map((r) => r.value)).toFixed(0)} ${mode === 'segment' ? 'MB/s' : 'rps'}, ${median(list.map((r) => r.cpuUs)).toFixed(1)} µs CPU/req`);
  }
} finally {
  for (const s of subjects.values()) await s.close().catch(() => undefined);
  await origin.close();
  fs.rmSync(content, { recursive: true, force: true });
}
