/**
 * `npm run bench` (scripts/bench.sh builds first): origin nginx and every subject side by side, one table,
 * results to bench/results/latest.{md,json} and stdout. Progress goes to stderr.
 * Not part of `npm test`: it takes minutes and its numbers depend on the machine.
 *
 * Order: the load rows with the subjects as started (cached playlists, a repeated segment), the fan-out of
 * a new live segment and the Range check; then fresh Node.js processes (hls-sidecar alone with its segment
 * cache off) for the first-view segment, whose peak RSS must be the streaming path's own; then fresh ones
 * again, defaults, for the live viewers (the RSS target is about 1000 viewers, not what the loads left).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildContent, CONTENT, type Content } from './content.js';
import { chooseLoader, type LoaderConfig } from './measured-load.js';
import { startOriginNginx, type BenchOrigin } from './nginx-servers.js';
import { fanoutPhase, leakPhase, rangePhase, viewerPhase } from './phases.js';
import { renderMarkdown, writeResults } from './report.js';
import { loadMedians, type BenchResults } from './results-model.js';
import { machineInfo, readSettings, VIEWER_SUBJECTS, type BenchSettings } from './settings.js';
import { startSubject, type Subject, type SubjectContext } from './subjects.js';
import { evaluateTargets } from './targets.js';
import { primeUrl, runLoadScenarios, type LoadScenario } from './throughput.js';
import { writeWrkScripts } from './wrk.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const REWRITERS = new Set(['sidecar-mem', 'sidecar-redis', 'hlsd']);

function gitRev(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function scenariosFor(content: Content, settings: BenchSettings): { warm: LoadScenario[]; firstView: LoadScenario } {
  const c = settings.connections;
  const seg = content.fixtures.paths.bigSegment;
  const mb = (content.fixtures.bigSegmentSize / 1e6).toFixed(1);
  return {
    warm: [
      { id: 'small', title: '10-segment playlist, cached', path: CONTENT.small, connections: c },
      { id: 'media900', title: '900-segment playlist, cached', path: CONTENT.media900, connections: c },
      { id: 'segment', title: `${mb} MB segment, repeated (copies answer)`, path: seg, connections: settings.segmentConnections, big: true },
    ],
    firstView: { id: 'first-view', title: `${mb} MB segment, first view (each request its own query)`, path: seg, connections: settings.segmentConnections, big: true, unique: true },
  };
}

/** A proxy that rewrites must send the master's URIs back through itself; else the numbers mean nothing. */
async function verifySubject(s: Subject): Promise<void> {
  const text = await primeUrl(s.url(CONTENT.master), s.name);
  const uris = text.split('\n').filter((l) => l && !l.startsWith('#'));
  if (!text.startsWith('#EXTM3U') || uris.length !== 6) throw new Error(`${s.name}: unexpected master playlist:\n${text.slice(0, 500)}`);
  if (REWRITERS.has(s.name)) {
    const base = new URL(s.url(CONTENT.master)).origin;
    const stray = uris.filter((u) => !u.startsWith(base));
    if (stray.length) throw new Error(`${s.name}: URIs not rewritten through the proxy: ${stray.slice(0, 2).join(', ')}`);
  }
}

/**
 * Starts the subjects in settings order, or replaces them with fresh processes when `into` holds them (the
 * origin, direct, stays). `aloneArgs`: extra flags for hls-sidecar alone (sidecar-mem).
 */
async function startAll(settings: BenchSettings, ctx: SubjectContext, into: Subject[], aloneArgs: string[] = []): Promise<void> {
  for (const name of settings.subjects) {
    const at = into.findIndex((s) => s.name === name);
    if (at >= 0 && name === 'direct') continue;
    if (at >= 0) await into[at]!.close();
    const s = await startSubject(name, name === 'sidecar-mem' ? { ...ctx, sidecarArgs: [...(ctx.sidecarArgs ?? []), ...aloneArgs] } : ctx);
    if (at >= 0) into[at] = s;
    else into.push(s);
    await verifySubject(s);
    log(`bench: ${name} up (${s.label})`);
  }
}

async function main(): Promise<void> {
  const settings = readSettings(ROOT);
  const notes: string[] = [];
  if (settings.runner === 'dist' && !existsSync(path.join(ROOT, 'dist/src/cli.js'))) {
    settings.runner = 'tsx';
    notes.push('dist/src/cli.js missing: hls-sidecar ran from source through tsx (slower start, same runtime code).');
  }
  if (settings.quick) notes.push('BENCH_QUICK=1: one run per subject and shorter durations — preliminary numbers, not for comparison.');
  const choice = chooseLoader(settings.loader);
  if (choice.note) {
    notes.push(choice.note);
    log(`bench: NOTE ${choice.note}`);
  }
  const startedAt = new Date();
  const machine = machineInfo();
  log(`bench: ${settings.quick ? 'QUICK' : 'full'} run, subjects ${settings.subjects.join(', ')}, runner ${settings.runner}, loader ${choice.loader}`);

  const content = await buildContent(process.env.BENCH_CORPUS ?? path.resolve(ROOT, 'test/fixtures/conformance'));
  const loader: LoaderConfig = { ...choice, scripts: writeWrkScripts(content.root), wrkThreads: settings.wrkThreads, wrkCpus: settings.wrkCpus };
  let origin: BenchOrigin | undefined;
  const subjects: Subject[] = [];
  try {
    origin = await startOriginNginx(content.root);
    const ctx: SubjectContext = { rootDir: ROOT, originUrl: origin.url, originPid: origin.nginx.process.pid, runner: settings.runner, sidecarArgs: settings.sidecarArgs, nodeArgs: settings.nodeArgs, frontCache: settings.frontCache };
    await startAll(settings, ctx, subjects);

    const { warm, firstView } = scenariosFor(content, settings);
    log('bench: cached playlists, repeated segment');
    const load = await runLoadScenarios(warm, subjects, settings, loader, log);
    log('bench: live segment fan-out');
    const fanout = await fanoutPhase(subjects, content, origin, settings, log);
    log('bench: Range');
    const range = await rangePhase(subjects.filter((s) => REWRITERS.has(s.name)), content, origin, log);

    log('bench: fresh processes (hls-sidecar alone: segment cache off) for the first-view segment');
    // hls-sidecar alone streams every first-view segment (the target's "segment cache off").
    await startAll(settings, ctx, subjects, ['--segment-cache-max-bytes', '0']);
    Object.assign(load, await runLoadScenarios([firstView], subjects, settings, loader, log));

    log('bench: fresh processes for the live viewers');
    await startAll(settings, ctx, subjects);
    const viewers = await viewerPhase(subjects.filter((s) => VIEWER_SUBJECTS.includes(s.name)), content, origin, settings, log);
    const leak = settings.leakSeconds > 0 ? await leakPhase(subjects, settings, log) : {};

    const finishedAt = new Date();
    machine.loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
    const results: BenchResults = {
      meta: {
        startedAt: startedAt.toISOString(), finishedAt: finishedAt.toISOString(),
        durationSec: (finishedAt.getTime() - startedAt.getTime()) / 1000, preliminary: settings.quick,
        settings, machine, gitRev: gitRev(), loader: choice.loader, subjects: subjects.map((s) => ({ name: s.name, label: s.label })), notes,
      },
      scenarios: [...warm, firstView], load, loadMedian: loadMedians(load), fanout, range, viewers, leak, targets: [],
    };
    results.targets = evaluateTargets(results);
    const markdown = renderMarkdown(results);
    await writeResults(settings.resultsDir, results, markdown);
    process.stdout.write(`${markdown}\n`);
    log(`bench: wrote ${path.join(settings.resultsDir, 'latest.md')} and latest.json`);
  } finally {
    for (const s of subjects.reverse()) await s.close().catch((e: unknown) => log(`bench: closing ${s.name}: ${String(e)}`));
    await origin?.close().catch(() => undefined);
    await rm(content.root, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    process.exit(1);
  },
);
