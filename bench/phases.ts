/**
 * Parts 2–5 of the bench, each over every subject with the subject order rotating per run. Part 1 (and
 * the segment half of part 3) is in throughput.ts.
 */
import { startLiveStream } from '../test/support/live-stream.js';
import { bigPlaylistRun } from './big-playlist.js';
import { CONTENT, type Content } from './content.js';
import { leakCheck } from './leak.js';
import type { BenchOrigin } from './nginx-servers.js';
import { rangeCheck } from './range-check.js';
import type { BenchResults } from './results-model.js';
import type { BenchSettings } from './settings.js';
import type { Subject } from './subjects.js';
import { primeUrl, rotation } from './throughput.js';
import { runViewers } from './viewers.js';

type Log = (line: string) => void;
const mb = (xs: number[]): string => xs.map((m) => m.toFixed(0)).join('+');

export async function bigPlaylistPhase(subjects: readonly Subject[], settings: BenchSettings, log: Log): Promise<BenchResults['bigPlaylist']> {
  const out: BenchResults['bigPlaylist'] = {};
  for (const s of subjects) await primeUrl(s.url(CONTENT.vod100k), `100k/${s.name}`);
  for (let run = 0; run < settings.runs; run++) {
    for (const s of rotation(subjects, run)) {
      const b = await bigPlaylistRun(s, { big: CONTENT.vod100k, small: CONTENT.small }, { seconds: settings.loadSeconds, connections: 10, minWarm: 3 });
      (out[s.name] ??= []).push(b);
      log(`  100k run ${run + 1} ${s.name.padEnd(13)} cold ${b.coldMs.toFixed(1)} ms, cached ${b.warmMedianMs.toFixed(1)} ms ×${b.warmMs.length}, ` +
        `${(b.bodyBytes / 1e6).toFixed(1)} MB; small p99 ${b.small.p99.toFixed(2)} ms`);
    }
  }
  return out;
}

export async function rangePhase(subjects: readonly Subject[], content: Content, origin: BenchOrigin, log: Log): Promise<BenchResults['range']> {
  const out: BenchResults['range'] = {};
  for (const s of subjects) {
    const r = await rangeCheck(s, content.fixtures.paths.bigFile, content.fixtures.bigFileSize, origin.rangeLog);
    out[s.name] = r;
    log(`  range ${s.name.padEnd(13)} ${r.status} ${r.contentRange ?? '(no Content-Range)'}, ${r.bodyBytes} B to client ` +
      `(${r.bodyMatches ? 'correct' : 'WRONG'}), ${r.originBytes} B from origin`);
  }
  return out;
}

export async function viewerPhase(
  subjects: readonly Subject[],
  content: Content,
  origin: BenchOrigin,
  settings: BenchSettings,
  log: Log,
): Promise<BenchResults['viewers']> {
  const live = await startLiveStream({ dir: content.root, segmentSeconds: settings.liveTargetSeconds, listSize: 6, minSegments: 3 });
  const out: BenchResults['viewers'] = {};
  try {
    for (const count of settings.viewerCounts) {
      const byCount: NonNullable<BenchResults['viewers'][string]> = {};
      out[count] = byCount;
      for (let run = 0; run < settings.viewerRuns; run++) {
        for (const s of rotation(subjects, run)) {
          const v = await runViewers(s, {
            viewers: count, seconds: settings.viewerSeconds, targetSeconds: live.targetDuration, livePath: live.playlistPath, liveLog: origin.liveLog,
          });
          (byCount[s.name] ??= []).push(v);
          log(`  ${count} viewers ${s.name.padEnd(13)} ${v.requests} req, ${v.errors} errors, p99 ${v.p99.toFixed(2)} ms, ` +
            `origin fetches ${v.originFetches} (allowed ${v.allowedFetches})${v.rssPeakMB.length ? `, RSS peak ${mb(v.rssPeakMB)} MB` : ''}`);
        }
      }
    }
  } finally {
    await live.stop();
  }
  return out;
}

export async function leakPhase(subjects: readonly Subject[], settings: BenchSettings, log: Log): Promise<BenchResults['leak']> {
  const out: BenchResults['leak'] = {};
  for (const s of subjects.filter((x) => x.name === 'sidecar-mem' || x.name === 'sidecar-redis')) {
    const l = await leakCheck(s, CONTENT.media900, { seconds: settings.leakSeconds, connections: settings.connections, fillKeys: 2500 });
    out[s.name] = l;
    log(`  leak ${s.name.padEnd(13)} after GC: heap ${mb(l.beforeGc.map((m) => m.heapUsedMB))} → ${mb(l.afterGc.map((m) => m.heapUsedMB))} MB, ` +
      `RSS ${mb(l.beforeGc.map((m) => m.rssMB))} → ${mb(l.afterGc.map((m) => m.rssMB))} MB; peak ${mb(l.peakMB)} MB; ${l.load.rps.toFixed(0)} rps, ` +
      `warm-up ${l.warmupSeconds} s, ${l.distinctKeys} keys`);
  }
  return out;
}
