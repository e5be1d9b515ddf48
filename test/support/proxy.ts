import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { configFromOptions } from '../../src/config.js';
import { createApp, type App, type AppOverrides } from '../../src/server.js';
import { transparentFront } from './offload-front.js';
import { freePort } from './ports.js';
import { tsxRenderWorker } from './render-worker.js';

/** Starting hls-sidecar for tests: in-process (fast, inspectable) or as the real CLI process. */

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningProxy {
  url: string;
  port: number;
  app: App;
  close(): Promise<void>;
}

/**
 * Test origins listen on 127.0.0.1, which the egress policy refuses unless allowed explicitly (issue #5 §1),
 * so test proxies allow loopback by default. A test about the product default passes 'allow-upstream': [].
 */
export const TEST_ALLOW_UPSTREAM = ['loopback'];

export async function startProxy(options: Record<string, unknown> = {}, overrides: AppOverrides = {}): Promise<RunningProxy> {
  const config = configFromOptions({
    port: 0,
    bind: '127.0.0.1',
    'log-level': 'silent',
    'shutdown-timeout': 2000,
    'allow-upstream': TEST_ALLOW_UPSTREAM,
    ...options,
  });
  const app = createApp(config, { renderWorker: tsxRenderWorker, ...overrides });
  const address = await app.listen();
  if (OFFLOAD_STAGE) {
    // Issue #16 §1: the suites run with offload on (HLS_TEST_OFFLOAD=1, `npm run test:offload`): every
    // request to `url` reaches the proxy through nginx, which takes segments over when the proxy lets it.
    // `port` stays the proxy's own: the raw-socket tests are about its HTTP server, which nginx in front
    // would answer for itself (a bare LF, a dribbled header).
    const nginx = await transparentFront(address.port);
    return { url: nginx.url, port: address.port, app, close: async () => { await nginx.close(); await app.close(); } };
  }
  return { url: `http://127.0.0.1:${address.port}`, port: address.port, app, close: () => app.close() };
}

/** HLS_TEST_OFFLOAD=1: startProxy puts support/offload-front.ts#transparentFront in front of each proxy. */
export const OFFLOAD_STAGE = process.env.HLS_TEST_OFFLOAD === '1';

/** hlsd's own URL form, as dashboards build it: `${proxy}/${btoa(url)}.m3u8`. */
export function hlsdUrl(base: string, upstreamUrl: string, ext = 'm3u8'): string {
  return `${base}/${Buffer.from(upstreamUrl, 'latin1').toString('base64')}.${ext}`;
}

export interface ProxyProcess {
  url: string;
  port: number;
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs `node --import tsx src/cli.ts <args>`; resolves once it accepts connections. Loopback upstreams are
 * allowed through the environment (HLS_SIDECAR_ALLOW_UPSTREAM), which a flag or opts.env overrides.
 */
export async function startProxyProcess(args: string[], opts: { env?: Record<string, string>; port?: number } = {}): Promise<ProxyProcess> {
  const port = opts.port ?? (await freePort());
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', '--port', String(port), '--bind', '127.0.0.1', ...args], {
    cwd: ROOT,
    env: { ...process.env, HLS_SIDECAR_ALLOW_UPSTREAM: TEST_ALLOW_UPSTREAM.join(','), ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  exited.then(() => process.off('exit', killOnExit));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`proxy exited with ${child.exitCode}: ${out}`);
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`proxy did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs the CLI to completion (for --help, bad values, url/sign subcommands). */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
