/**
 * `node --import tsx bench/viewers-rss.ts` — the RSS half of issue #16's targets on its own: N simulated live
 * viewers (bench/viewers.ts: one keep-alive connection each, reloading the live playlist once per target
 * duration) against a FRESH hls-sidecar process per run, as the full bench's viewer phase does, and the peak
 * RSS sampled every 250 ms, and the CPU the process used per request (/proc utime+stime, both of its threads:
 * the render worker is part of it). For comparing V8 heap settings (or builds) without the 16-minute
 * `npm run bench` (src/v8-tuning.ts has what it measured).
 *
 *   VR_SUBJECTS=cur,cur2   names as in segment-first-view.ts (cur, base, with a digit suffix for variants)
 *   VR_NODE_ARGS_<name>="--heap-growing-percent=0"   Node.js flags for one subject (VR_NODE_ARGS for all)
 *   VR_CUR_DIR / VR_BASE_DIR   checkouts with dist/ built (default: this one for cur)
 *   VR_VIEWERS=1000  VR_SECONDS=30  VR_ROUNDS=2 (subjects alternate, order reversed every round)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLiveStream } from '../test/support/live-stream.js';
import { startOriginNginx } from './nginx-servers.js';
import { cpuSeconds, median } from './stats.js';
import { sidecarMemSubject } from './subjects.js';
import { runViewers } from './viewers.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const env = process.env;
const names = (env.VR_SUBJECTS ?? 'cur').split(',').map((s) => s.trim()).filter(Boolean);
const viewers = Number(env.VR_VIEWERS ?? 1000);
const seconds = Number(env.VR_SECONDS ?? 30);
const rounds = Number(env.VR_ROUNDS ?? 2);
const split = (s: string | undefined): string[] => (s ?? '').split(/\s+/).filter(Boolean);

const content = fs.mkdtempSync(path.join(os.tmpdir(), 'hls-sidecar-vr-'));
const origin = await startOriginNginx(content);
const live = await startLiveStream({ dir: content, segmentSeconds: 2, listSize: 6, minSegments: 3 });
const peaks = new Map<string, number[]>(names.map((n) => [n, []]));
const cpus = new Map<string, number[]>(names.map((n) => [n, []]));
try {
  console.log(`${viewers} live viewers, ${seconds} s per run, ${rounds} rounds; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (let i = 0; i < rounds; i++) {
    for (const name of i % 2 ? [...names].reverse() : names) {
      const kind = name.replace(/\d+$/, '');
      if (kind !== 'cur' && kind !== 'base') throw new Error(`VR_SUBJECTS: unknown subject ${name}`);
      const dir = kind === 'base' ? env.VR_BASE_DIR : env.VR_CUR_DIR;
      if (kind === 'base' && !dir) throw new Error('base: set VR_BASE_DIR');
      const subject = await sidecarMemSubject({
        rootDir: dir ? path.resolve(dir) : ROOT, originUrl: origin.url, originPid: origin.nginx.process.pid, runner: 'dist',
        nodeArgs: split(env[`VR_NODE_ARGS_${name}`] ?? env.VR_NODE_ARGS),
      });
      try {
        const cpu0 = cpuSeconds(subject.cpuPids());
        const v = await runViewers(subject, { viewers, seconds, targetSeconds: live.targetDuration, livePath: live.playlistPath, liveLog: origin.liveLog });
        const cpuUs = ((cpuSeconds(subject.cpuPids()) - cpu0) * 1e6) / v.requests;
        peaks.get(name)!.push(v.rssPeakMB[0]!);
        cpus.get(name)!.push(cpuUs);
        console.log(`  round ${i + 1} ${name.padEnd(8)} ${v.requests} requests, ${v.errors} errors, p99 ${v.p99.toFixed(1)} ms, ` +
          `RSS peak ${v.rssPeakMB[0]!.toFixed(0)} MB, end ${v.rssEndMB[0]!.toFixed(0)} MB, CPU ${cpuUs.toFixed(0)} µs/request`);
      } finally {
        await subject.close();
      }
    }
  }
  console.log('\n| subject | node flags | RSS peak MB (median) | runs | CPU µs/request (median) | runs |\n|---|---|---:|---|---:|---|');
  for (const name of names) {
    const list = peaks.get(name)!;
    const cpu = cpus.get(name)!;
    console.log(`| ${name} | ${split(env[`VR_NODE_ARGS_${name}`] ?? env.VR_NODE_ARGS).join(' ') || '(defaults)'} | ${median(list).toFixed(0)} | ${list.map((x) => x.toFixed(0)).join(', ')} | ${median(cpu).toFixed(0)} | ${cpu.map((x) => x.toFixed(0)).join(', ')} |`);
  }
} finally {
  await live.stop();
  await origin.close();
  fs.rmSync(content, { recursive: true, force: true });
}
