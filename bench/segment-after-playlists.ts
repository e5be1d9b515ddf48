/**
 * A lead, not a benchmark: why segments cost more in the full bench than in isolation (issue #4 notes).
 * One hls-sidecar (dist/) with --trace-gc first serves the full bench's playlist phases (16 s each: master,
 * 10-segment and 900-segment playlists cached, 10-segment unique-key misses, a 40 000-segment playlist),
 * then streams a 1.5 MB segment in 4 s rounds, printing MB/s, CPU µs per request and the old-space
 * mark-compacts of each round. Run: node --import tsx bench/segment-after-playlists.ts [--fresh]
 * (--fresh skips the playlist phases, for comparison). The GC trace is left in the temp directory printed.
 * GC_LEAD_NODE_ARGS="--max-semi-space-size=16" adds Node.js flags to the sidecar. GC_LEAD_IDLE_MS=10000
 * leaves the sidecar idle before each round, as the full bench does while it measures the other subjects.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from '../test/support/ports.js';
import { hlsdUrl } from '../test/support/proxy.js';
import { masterPlaylist, mediaPlaylist } from './content.js';
import { runLoad } from './load.js';
import { startOriginNginx } from './nginx-servers.js';
import { cpuSeconds } from './stats.js';
import { runStreamLoad } from './stream-load.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hls-sidecar-gc-lead-'));
const files: Record<string, string | Buffer> = {
  'seg.ts': crypto.randomBytes(1_500_000), 'master.m3u8': masterPlaylist(), 'small.m3u8': mediaPlaylist(10),
  'm900.m3u8': mediaPlaylist(900), 'm40k.m3u8': mediaPlaylist(40_000),
};
for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), body);
const origin = await startOriginNginx(dir);
const port = await freePort();
const traceFile = path.join(dir, 'gc.log');
const trace = fs.openSync(traceFile, 'w');
const nodeArgs = (process.env.GC_LEAD_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const proc = spawn(process.execPath, ['--trace-gc', ...nodeArgs, 'dist/src/cli.js', '--port', String(port), '--bind', '127.0.0.1', '--log-level', 'warn', '--allow-upstream', '127.0.0.1'],
  { cwd: ROOT, stdio: ['ignore', trace, 'inherit'] });
try {
  await waitForPort(port, 20_000);
  const url = (file: string): string => hlsdUrl(`http://127.0.0.1:${port}`, `${origin.url}/${file}`, file.endsWith('.ts') ? 'ts' : 'm3u8');
  if (!process.argv.includes('--fresh')) {
    for (const file of ['master.m3u8', 'small.m3u8', 'm900.m3u8']) console.log(`phase ${file}: ${(await runLoad({ url: url(file), seconds: 16, connections: 50 })).ok} requests`);
    let n = 0;
    console.log(`phase misses: ${(await runLoad({ url: url('small.m3u8'), seconds: 16, connections: 50, uniqueQuery: () => `u=${n++}` })).ok} requests`);
    console.log(`phase 40k playlist: ${(await runLoad({ url: url('m40k.m3u8'), seconds: 16, connections: 10 })).ok} requests`);
  }
  const markCompacts = (): number => (fs.readFileSync(traceFile, 'utf8').match(/Mark-Compact/g) ?? []).length;
  const idleMs = Number(process.env.GC_LEAD_IDLE_MS ?? 0);
  for (let round = 1; round <= 6; round++) {
    if (idleMs > 0) await new Promise((r) => setTimeout(r, idleMs));
    const [mc0, cpu0] = [markCompacts(), cpuSeconds([proc.pid!])];
    const r = await runStreamLoad({ url: url('seg.ts'), seconds: 4, connections: 10 });
    const cpuUs = ((cpuSeconds([proc.pid!]) - cpu0) / r.ok) * 1e6;
    console.log(`segment round ${round}: ${(r.bytesPerSec / 1e6).toFixed(0)} MB/s, ${cpuUs.toFixed(0)} µs CPU/req, ${markCompacts() - mc0} mark-compacts`);
  }
  console.log(`GC trace: ${traceFile}`);
} finally {
  proc.kill('SIGTERM');
  await origin.close();
}
