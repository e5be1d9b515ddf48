/**
 * Live segment fan-out: how many origin downloads one new live segment costs when N viewers ask for it.
 * Viewers of a live channel find a new segment at their next playlist reload, so their requests for it are
 * spread over one target duration; here N viewers each ask once, at evenly spread instants over SPREAD_MS,
 * for a segment URL nobody asked for before (a new one per round). The origin's access log counts the
 * downloads. Subjects: FANOUT_SUBJECTS (default sidecar-redis,sidecar-mem,hlsd; the Redis subject sits
 * behind the shipped nginx templates and their segment cache).
 *
 * Run: node --import tsx bench/segment-fanout.ts   (FANOUT_VIEWERS=200 FANOUT_SPREAD_MS=2000 FANOUT_ROUNDS=3)
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { fanoutRound } from './fanout-round.js';
import { startOriginNginx } from './nginx-servers.js';
import type { SubjectName } from './settings.js';
import { startSubject } from './subjects.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const env = process.env;
const viewers = Number(env.FANOUT_VIEWERS ?? 200);
const spreadMs = Number(env.FANOUT_SPREAD_MS ?? 2000);
const rounds = Number(env.FANOUT_ROUNDS ?? 3);
const names = (env.FANOUT_SUBJECTS ?? 'sidecar-redis,sidecar-mem,hlsd').split(',') as SubjectName[];

const content = fs.mkdtempSync(path.join(os.tmpdir(), 'hls-sidecar-fanout-'));
fs.mkdirSync(path.join(content, 'live'));
const segment = crypto.randomBytes(1_500_000);
const origin = await startOriginNginx(content);
const agent = new Agent({ connections: viewers, keepAliveTimeout: 30_000 });
try {
  for (const name of names) {
    const subject = await startSubject(name, { rootDir: ROOT, originUrl: origin.url, originPid: origin.nginx.process.pid!, runner: 'dist', nodeArgs: [] });
    try {
      const downloads: number[] = [];
      let errors = 0;
      for (let round = 0; round < rounds; round++) {
        const r = await fanoutRound({ contentRoot: content, liveLog: origin.liveLog, url: (p) => subject.url(p), viewers, spreadMs, segment, agent });
        downloads.push(r.downloads);
        errors += r.errors;
      }
      console.log(`${name.padEnd(14)} ${viewers} viewers over ${spreadMs} ms: origin downloads per new segment ${downloads.join(', ')}; errors ${errors}`);
    } finally {
      await subject.close();
    }
  }
} finally {
  await agent.close();
  await origin.close();
  fs.rmSync(content, { recursive: true, force: true });
}
