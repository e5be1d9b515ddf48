/**
 * `npm run bench` (scripts/bench.sh builds first): origin nginx + the four subjects, every part of issue #4
 * in one run, results to bench/results/latest.{md,json} and stdout. Progress goes to stderr.
 * Not part of `npm test`: it takes minutes and its numbers depend on the machine.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildContent, CONTENT, type Content } from './content.js';
import { startOriginNginx, type BenchOrigin } from './nginx-servers.js';
import { bigPlaylistPhase, leakPhase, rangePhase, viewerPhase } from './phases.js';
import { renderMarkdown, writeResults } from './report.js';
import { loadMedians, type BenchResults } from './results-model.js';
import { machineInfo, readSettings, type BenchSettings } from './settings.js';
import { rssMB } from './stats.js';
import { startSubject, type Subject, type SubjectContext } from './subjects.js';
import { evaluateTargets } from './targets.js';
import { primeUrl, runLoadScenarios, type LoadScenario, type ScenarioRuns } from './throughput.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const log = (line: string): void => void process.stderr.write(`${line}\n`);

function gitRev(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function scenariosFor(content: Content, settings: BenchSettings): LoadScenario[] {
  const c = settings.connections;
  const list: LoadScenario[] = [
    { id: 'master', title: 'master playlist, cached', path: CONTENT.master, connections: c },
    { id: 'small', title: '10-segment playlist, cached', path: CONTENT.small, connections: c },
    { id: 'media900', title: '900-segment playlist, cached', path: CONTENT.media900, connections: c },
    { id: 'miss', title: '10-segment playlist, cache miss', path: CONTENT.small, connections: c, unique: true },
  ];
  const big = content.corpus[0];
  if (big) {
    list.push({ id: 'corpus', title: `corpus ${path.basename(big.path)} (${big.segments} segments, ${(big.bytes / 1e6).toFixed(1)} MB), cached`, path: big.path, connections: 10 });
  }
  list.push({ id: 'segment', title: '1.5 MB segment', path: content.fixtures.paths.bigSegment, connections: settings.segmentConnections, loader: 'stream' });
  return list;
}

/** Every proxy must rewrite the master so that its URIs come back through it; else the numbers mean nothing. */
async function verifySubject(s: Subject): Promise<void> {
  const text = await primeUrl(s.url(CONTENT.master), s.name);
  const uris = text.split('\n').filter((l) => l && !l.startsWith('#'));
  if (!text.startsWith('#EXTM3U') || uris.length !== 6) throw new Error(`${s.name}: unexpected master playlist:\n${text.slice(0, 500)}`);
  if (s.name !== 'direct') {
    const base = new URL(s.url(CONTENT.master)).origin;
    const stray = uris.filter((u) => !u.startsWith(base));
    if (stray.length) throw new Error(`${s.name}: URIs not rewritten through the proxy: ${stray.slice(0, 2).join(', ')}`);
  }
}

async function startAll(names: readonly BenchSettings['subjects'][number][], ctx: SubjectContext, into: Subject[]): Promise<void> {
  for (const name of names) {
    const s = await startSubject(name, ctx);
    into.push(s);
    await verifySubject(s);
    log(`bench: ${name} up (${s.label})`);
  }
}

/**
 * The yardsticks: nginx as a plain reverse proxy and a bare Node.js streaming proxy, alternating with direct,
 * on the scenarios where any proxy pays for moving bytes through user space (the segment) and for an upstream
 * round trip (the uncached playlist). Their ratios to direct say how far from direct a proxy can get on this
 * machine at all, and how far one written in Node can.
 */
async function referencePhase(scenarios: readonly LoadScenario[], subjects: readonly Subject[], ctx: SubjectContext, settings: BenchSettings): Promise<ScenarioRuns> {
  const direct = subjects.find((s) => s.name === 'direct');
  if (!settings.reference || !direct) return {};
  log('bench: references (nginx proxy_pass, bare Node.js proxy)');
  const refs: Subject[] = [];
  try {
    for (const name of ['nginx-proxy', 'node-pipe'] as const) refs.push(await startSubject(name, ctx));
    const picked = scenarios.filter((sc) => sc.id === 'segment' || sc.id === 'miss');
    return await runLoadScenarios(picked, [direct, ...refs], settings, log);
  } finally {
    for (const r of refs) await r.close();
  }
}

/**
 * Fresh proxy processes for the viewer and leak phases: the RSS target is about serving 1000 viewers, and a
 * V8 heap grown by the 100k-segment phase would not shrink back in time to show it.
 */
async function restartProxies(subjects: Subject[], ctx: SubjectContext): Promise<void> {
  for (let i = 0; i < subjects.length; i++) {
    const old = subjects[i]!;
    if (old.name === 'direct') continue;
    await old.close();
    const fresh = await startSubject(old.name, ctx);
    subjects[i] = fresh;
    await verifySubject(fresh);
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
  notes.push('Two cores are shared by the load generator (autocannon, one thread), nginx, redis and the subject: rps of fast subjects is ' +
    'partly a measure of the load generator. "CPU µs/req" (the subject\'s own processes, from /proc) is not distorted by that.');
  const startedAt = new Date();
  const machine = machineInfo();
  log(`bench: ${settings.quick ? 'QUICK' : 'full'} run, subjects ${settings.subjects.join(', ')}, runner ${settings.runner}`);

  const corpusDir = process.env.BENCH_CORPUS ?? path.resolve(ROOT, 'test/fixtures/conformance');
  const content = await buildContent(corpusDir);
  if (content.corpus.length === 0) notes.push(`no large corpus playlists found under ${corpusDir}`);
  let origin: BenchOrigin | undefined;
  const subjects: Subject[] = [];
  try {
    origin = await startOriginNginx(content.root);
    const ctx: SubjectContext = { rootDir: ROOT, originUrl: origin.url, originPid: origin.nginx.process.pid, runner: settings.runner, sidecarArgs: settings.sidecarArgs, nodeArgs: settings.nodeArgs, frontCache: settings.frontCache };
    await startAll(settings.subjects, ctx, subjects);

    const scenarios = scenariosFor(content, settings);
    log('bench: playlists and segments');
    const load = await runLoadScenarios(scenarios, subjects, settings, log);
    const reference = await referencePhase(scenarios, subjects, ctx, settings);
    log('bench: 100k-segment playlist under small-playlist load');
    const bigPlaylist = await bigPlaylistPhase(subjects, settings, log);
    log('bench: Range');
    const range = await rangePhase(subjects, content, origin, log);
    const rssAfterLoadMB = Object.fromEntries(subjects.map((s) => [s.name, s.pids().map(rssMB)]));
    log(`bench: RSS after the load phases ${JSON.stringify(rssAfterLoadMB, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v) : v))}; restarting proxies`);

    await restartProxies(subjects, ctx);
    log('bench: live viewers');
    const viewers = await viewerPhase(subjects, content, origin, settings, log);
    log('bench: leak check');
    const leak = await leakPhase(subjects, settings, log);

    const finishedAt = new Date();
    machine.loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
    const results: BenchResults = {
      meta: {
        startedAt: startedAt.toISOString(), finishedAt: finishedAt.toISOString(),
        durationSec: (finishedAt.getTime() - startedAt.getTime()) / 1000, preliminary: settings.quick,
        settings, machine, gitRev: gitRev(), subjects: subjects.map((s) => ({ name: s.name, label: s.label })), notes,
      },
      content: { sizes: content.sizes, corpus: content.corpus },
      scenarios, load, loadMedian: loadMedians(load), reference: loadMedians(reference), bigPlaylist, range, rssAfterLoadMB, viewers, leak, targets: [],
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
