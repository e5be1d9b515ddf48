/**
 * The things being measured, all on 127.0.0.1 with ephemeral ports, each a managed child process so nothing
 * outlives the bench:
 *   direct         the origin nginx itself (the ceiling);
 *   sidecar-mem    one hls-sidecar process, in-process cache;
 *   sidecar-redis  two hls-sidecar replicas sharing a fresh redis-server (never 6379), behind nginx;
 *   hlsd           @warren-bank/hls-proxy 3.6.6, the program hls-sidecar replaces.
 * Proxied URLs use hlsd's own form `/<base64(url)>.<ext>`, which both proxies accept.
 */
import path from 'node:path';
import type { Nginx } from '../test/support/nginx.js';
import { freePort, waitForPort } from '../test/support/ports.js';
import { spawnManaged, type ManagedProcess } from '../test/support/processes.js';
import { hlsdUrl } from '../test/support/proxy.js';
import { startRedis, type RedisServer } from '../test/support/redis-server.js';
import { startFrontNginx, startProxyNginx } from './nginx-servers.js';
import { memoryAfterGc, type AfterGc } from './gc-probe.js';
import { findPids, withChildren } from './stats.js';
import type { SubjectName } from './settings.js';

export interface Subject {
  name: SubjectName;
  /** What it is, for the report. */
  label: string;
  /** URL of an origin path through this subject; `query` is appended to the public URL (merged upstream). */
  url(originPath: string, query?: string): string;
  /** Proxy processes whose RSS is reported (none for direct). */
  pids(): number[];
  /** Every process doing this subject's work, for CPU per request (an nginx's master and workers; the origin's only for direct). */
  cpuPids(): number[];
  /** Heap and RSS of each proxy process after a forced full GC (empty for subjects without a probe). */
  memoryAfterGc(): Promise<AfterGc[]>;
  close(): Promise<void>;
}

export interface SubjectContext {
  rootDir: string;
  originUrl: string;
  /** nginx master of the origin: its workers do the direct subject's work. */
  originPid: number;
  runner: 'dist' | 'tsx';
  /** Extra flags for every hls-sidecar process. */
  sidecarArgs?: string[];
  /** Extra Node.js flags for every hls-sidecar process (e.g. --cpu-prof for a flame graph). */
  nodeArgs?: string[];
  /** The front nginx's caches (playlists, segments), as the templates ship them (default on; off to measure the replicas). */
  frontCache?: boolean;
}

function extOf(p: string): string {
  return /\.([A-Za-z0-9]{1,10})$/.exec(p)?.[1]?.toLowerCase() ?? 'ts';
}

function proxied(base: string, originUrl: string): (p: string, query?: string) => string {
  return (p, query) => `${hlsdUrl(base, `${originUrl}/${p}`, extOf(p))}${query ? `?${query}` : ''}`;
}

async function started(proc: ManagedProcess, port: number, what: string): Promise<void> {
  try {
    await waitForPort(port, 30_000, { abortIf: () => (proc.isRunning() ? undefined : `${what} exited: ${proc.stderr().slice(-2000)}`) });
  } catch (e) {
    await proc.stop({ graceMs: 1000 });
    throw e;
  }
}

/** One hls-sidecar process: the built CLI (realistic) or the TypeScript source through tsx. */
interface Sidecar {
  proc: ManagedProcess;
  port: number;
  /** Inspector port, opened only by the leak check's GC probe (see gc-probe.ts). */
  inspectPort: number;
}

async function spawnSidecar(ctx: SubjectContext, extra: string[]): Promise<Sidecar> {
  const port = await freePort();
  const inspectPort = await freePort();
  const entry = ctx.runner === 'dist' ? ['dist/src/cli.js'] : ['--import', 'tsx', 'src/cli.ts'];
  const user = ctx.sidecarArgs ?? [];
  // The per-request access log (info) is off unless asked for, as nginx's access_log is off on the origin.
  const logLevel = user.some((a) => a.startsWith('--log-level')) ? [] : ['--log-level', 'warn'];
  const args = [`--inspect-port=127.0.0.1:${inspectPort}`, ...(ctx.nodeArgs ?? []), ...entry, '--port', String(port), '--bind', '127.0.0.1',
    ...logLevel, '--allow-upstream', '127.0.0.1', ...extra, ...user];
  const proc = spawnManaged(process.execPath, args, { cwd: ctx.rootDir, captureLimit: 64 * 1024 });
  await started(proc, port, 'hls-sidecar');
  return { proc, port, inspectPort };
}

const probeAll = (sidecars: readonly Sidecar[]): Promise<AfterGc[]> =>
  Promise.all(sidecars.map((s) => memoryAfterGc(s.proc.pid, s.inspectPort)));

export function directSubject(ctx: SubjectContext): Subject {
  return {
    name: 'direct',
    label: 'origin nginx, direct',
    url: (p, query) => `${ctx.originUrl}/${p}${query ? `?${query}` : ''}`,
    pids: () => [],
    cpuPids: () => withChildren(ctx.originPid),
    memoryAfterGc: async () => [],
    close: async () => undefined,
  };
}

export async function sidecarMemSubject(ctx: SubjectContext): Promise<Subject> {
  const sidecar = await spawnSidecar(ctx, []);
  const { proc, port } = sidecar;
  return {
    name: 'sidecar-mem',
    label: `hls-sidecar ×1, memory cache (${ctx.runner})`,
    url: proxied(`http://127.0.0.1:${port}`, ctx.originUrl),
    pids: () => [proc.pid],
    cpuPids: () => [proc.pid],
    memoryAfterGc: () => probeAll([sidecar]),
    close: async () => void (await proc.stop({ graceMs: 3000 })),
  };
}

export async function sidecarRedisSubject(ctx: SubjectContext): Promise<Subject> {
  const redis: RedisServer = await startRedis();
  const replicas: Sidecar[] = [];
  let front: Nginx | undefined;
  let prefix = '';
  const close = async (): Promise<void> => {
    await front?.close();
    await Promise.all(replicas.map((r) => r.proc.stop({ graceMs: 3000 })));
    await redis.stop();
  };
  try {
    for (let i = 0; i < 2; i++) replicas.push(await spawnSidecar(ctx, ['--redis', redis.url]));
    const started = await startFrontNginx(ctx.rootDir, replicas.map((r) => r.port), ctx.frontCache ?? true);
    front = started.nginx;
    prefix = started.prefix;
  } catch (e) {
    await close();
    throw e;
  }
  // redis-server retitles itself "redis-server 127.0.0.1:<port>".
  const redisPids = findPids(['redis-server', `:${redis.port}`]);
  return {
    name: 'sidecar-redis',
    label: `hls-sidecar ×2, Redis cache, behind nginx (${prefix ? `the shipped nginx/ templates${ctx.frontCache === false ? ', front cache off' : ''}` : 'minimal config'}; ${ctx.runner})`,
    url: proxied(`${front.url}${prefix}`, ctx.originUrl),
    pids: () => replicas.map((r) => r.proc.pid),
    cpuPids: () => [...replicas.map((r) => r.proc.pid), ...withChildren(front!.process.pid), ...redisPids],
    memoryAfterGc: () => probeAll(replicas),
    close,
  };
}

/**
 * hlsd listens on 0.0.0.0 unconditionally (servers/start_http.js); a preloaded module pins it to loopback
 * so the bench never opens a port beyond this machine.
 */
const LOOPBACK_ONLY = 'data:text/javascript,' + encodeURIComponent(
  'import net from "node:net";const l=net.Server.prototype.listen;' +
  'net.Server.prototype.listen=function(p,h,...r){if(h==="0.0.0.0")h="127.0.0.1";return l.call(this,p,h,...r)};',
);

export async function hlsdSubject(ctx: SubjectContext): Promise<Subject> {
  const port = await freePort();
  const bin = path.join(ctx.rootDir, 'node_modules/@warren-bank/hls-proxy/hls-proxy/bin/hlsd.js');
  const proc = spawnManaged(process.execPath, ['--import', LOOPBACK_ONLY, bin, '--port', String(port), '-v', '0'],
    { cwd: ctx.rootDir, captureLimit: 64 * 1024 });
  await started(proc, port, 'hlsd');
  return {
    name: 'hlsd',
    label: '@warren-bank/hls-proxy 3.6.6 (hlsd)',
    url: proxied(`http://127.0.0.1:${port}`, ctx.originUrl),
    pids: () => [proc.pid],
    cpuPids: () => [proc.pid],
    memoryAfterGc: async () => [],
    close: async () => void (await proc.stop({ graceMs: 2000 })),
  };
}

/**
 * The yardstick, not a contender: nginx in front of the origin as a plain reverse proxy (proxy_pass with
 * keep-alive upstream connections, no rewriting, no cache). It moves bytes through user space as every
 * proxy must, so its ratio to direct is what a proxy can reach on this machine at all.
 */
export async function nginxProxySubject(ctx: SubjectContext): Promise<Subject> {
  const nginx = await startProxyNginx(ctx.originUrl);
  return {
    name: 'nginx-proxy',
    label: 'nginx as a plain reverse proxy to the origin (proxy_pass, keep-alive, 1 worker; no rewriting, no cache): a reference',
    url: (p, query) => `${nginx.url}/${p}${query ? `?${query}` : ''}`,
    pids: () => [],
    cpuPids: () => withChildren(nginx.process.pid),
    memoryAfterGc: async () => [],
    close: () => nginx.close(),
  };
}

/** The other yardstick: a bare Node.js streaming proxy (node-pipe-proxy.ts), the floor of what a proxy in Node costs. */
export async function nodePipeSubject(ctx: SubjectContext): Promise<Subject> {
  const port = await freePort();
  const proc = spawnManaged(process.execPath, ['--import', 'tsx', path.join(ctx.rootDir, 'bench/node-pipe-proxy.ts'), String(port), ctx.originUrl],
    { cwd: ctx.rootDir, captureLimit: 64 * 1024 });
  await started(proc, port, 'node-pipe');
  return {
    name: 'node-pipe',
    label: 'a bare Node.js streaming proxy (http.request piped to the response, keep-alive; no routing, checks, rewriting or cache): a reference',
    url: (p, query) => `http://127.0.0.1:${port}/${p}${query ? `?${query}` : ''}`,
    pids: () => [proc.pid],
    cpuPids: () => [proc.pid],
    memoryAfterGc: async () => [],
    close: async () => void (await proc.stop({ graceMs: 2000 })),
  };
}

export async function startSubject(name: SubjectName, ctx: SubjectContext): Promise<Subject> {
  switch (name) {
    case 'direct': return directSubject(ctx);
    case 'sidecar-mem': return sidecarMemSubject(ctx);
    case 'sidecar-redis': return sidecarRedisSubject(ctx);
    case 'hlsd': return hlsdSubject(ctx);
    case 'nginx-proxy': return nginxProxySubject(ctx);
    case 'node-pipe': return nodePipeSubject(ctx);
  }
}
