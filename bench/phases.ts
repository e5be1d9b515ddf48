/**
 * The bench's phases other than the load rows (throughput.ts): the live segment fan-out, the Range check,
 * the live viewers (each over every subject, order rotating per run) and the optional leak check.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Agent } from 'undici';
import { startLiveStream } from '../test/support/live-stream.js';
import { CONTENT, type Content } from './content.js';
import { fanoutRound } from './fanout-round.js';
import { leakCheck } from './leak.js';
import type { BenchOrigin } from './nginx-servers.js';
import { rangeCheck } from './range-check.js';
import type { BenchResults, FanoutResult } from './results-model.js';
import type { BenchSettings } from './settings.js';
import type { Subject } from './subjects.js';
import { rotation } from './throughput.js';
import { runViewers } from './viewers.js';

type Log = (line: string) => void;
const mb = (xs: number[]): string => xs.map((m) => m.toFixed(0)).join('+');

/** The fan-out row: origin downloads of one new live segment that `fanoutViewers` viewers ask for. */
export async function fanoutPhase(subjects: readonly Subject[], content: Content, origin: BenchOrigin, settings: BenchSettings, log: Log): Promise<BenchResults['fanout']> {
  const out: BenchResults['fanout'] = {};
  const segment = await readFile(path.join(content.root, content.fixtures.paths.bigSegment));
  const agent = new Agent({ connections: settings.fanoutViewers, keepAliveTimeout: 30_000 });
  try {
    for (const s of subjects) {
      const f: FanoutResult = { viewers: settings.fanoutViewers, spreadMs: settings.fanoutSpreadMs, downloads: [], errors: 0 };
      for (let round = 0; round < settings.fanoutRounds; round++) {
        const r = await fanoutRound({ contentRoot: content.root, liveLog: origin.liveLog, url: (p) => s.url(p), viewers: f.viewers, spreadMs: f.spreadMs, segment, agent });
        f.downloads.push(r.downloads);
        f.errors += r.errors;
      }
      out[s.name] = f;
      log(`  fan-out ${s.name.padEnd(13)} ${f.viewers} viewers within ${f.spreadMs} ms: origin downloads ${f.downloads.join(', ')}, errors ${f.errors}`);
    }
  } finally {
    await agent.close();
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
            `origin fetches ${v.originFetches} (allowed ${v.allowedFetches}), ${v.cpuUsPerReq.toFixed(0)} µs CPU/req, RSS peak ${mb(v.rssPeakMB)} MB`);
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
