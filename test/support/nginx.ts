/**
 * Real nginx in front of the sidecar/origin for integration tests. Each instance gets its own prefix
 * directory (config, pid, logs, temp paths) so nothing touches /etc/nginx, /run or /var/log, and it runs in
 * the foreground under the process registry so it never outlives the test process.
 *
 * `conf` may be a full nginx.conf, a `server { ... }` block (a missing `listen` is added), or location-level
 * directives. Placeholders __PORT__ (the listen port), __PREFIX__ (the prefix dir) and __<NAME>__ for each
 * opts.vars entry are substituted (the {{NAME}} spelling works too), e.g. `proxy_pass __UPSTREAM__;` with
 * vars { UPSTREAM: origin.url }.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from './ports.js';
import { removeOnExit, runCommand, spawnManaged, type ManagedProcess } from './processes.js';

export const NGINX_BIN = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';

export interface NginxOptions {
  conf: string;
  vars?: Record<string, string>;
  /** Listen port substituted for __PORT__; default: a free ephemeral port. */
  port?: number;
  startTimeoutMs?: number;
  /** Run inside this network namespace (`ip netns exec`), a test host of test/support/topology.ts. */
  netns?: string;
  /** Address to wait on and to put in `url`; default 127.0.0.1. */
  host?: string;
}

export interface Nginx {
  port: number;
  url: string;
  prefixDir: string;
  confPath: string;
  process: ManagedProcess;
  errorLog(): Promise<string>;
  accessLog(): Promise<string>;
  /** Graceful stop (SIGQUIT, then SIGKILL after 3 s); removes the prefix dir. */
  close(): Promise<void>;
}

/** Alias used by some suites. */
export type RunningNginx = Nginx;

export type NginxConfKind = 'full' | 'server' | 'snippet';

export function nginxConfKind(conf: string): NginxConfKind {
  if (/^\s*(events|http)\s*\{/m.test(conf)) return 'full';
  if (/^\s*server\s*\{/m.test(conf)) return 'server';
  return 'snippet';
}

/** http-level *_temp_path directives only for modules this nginx build has (an unknown directive is fatal). */
function tempPathDirectives(prefixDir: string): string[] {
  let info = '';
  try {
    info = execFileSync(NGINX_BIN, ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    info = String((e as { stderr?: unknown }).stderr ?? '');
  }
  const lines = [`client_body_temp_path ${prefixDir}/tmp/client_body;`, `proxy_temp_path ${prefixDir}/tmp/proxy;`];
  for (const m of ['fastcgi', 'uwsgi', 'scgi']) {
    if (!info.includes(`--without-http_${m}_module`)) lines.push(`${m}_temp_path ${prefixDir}/tmp/${m};`);
  }
  return lines;
}

/**
 * A minimal full nginx.conf around a server block or location-level snippet: one worker, pid/logs/temp
 * paths inside prefixDir, `user root` when running as root (workers must reach the 0700 temp prefix).
 */
export function wrapNginxConf(body: string, prefixDir: string): string {
  const kind = nginxConfKind(body);
  if (kind === 'full') return body;
  let server = kind === 'server' ? body : `server {\n  listen 127.0.0.1:__PORT__;\n${body}\n}`;
  if (!/\blisten\s/.test(server)) server = server.replace(/server\s*\{/, 'server {\n  listen 127.0.0.1:__PORT__;');
  return [
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    'worker_processes 1;',
    `pid ${prefixDir}/nginx.pid;`,
    `error_log ${prefixDir}/error.log info;`,
    'events { worker_connections 512; }',
    'http {',
    `  access_log ${prefixDir}/access.log;`,
    ...tempPathDirectives(prefixDir).map((l) => `  ${l}`),
    '  default_type application/octet-stream;',
    server.replace(/^/gm, '  '),
    '}',
    '',
  ].join('\n');
}

/** Replaces __NAME__ and {{NAME}} placeholders; unknown names are left alone (nginx will then complain). */
export function substituteNginxVars(conf: string, vars: Record<string, string>): string {
  return conf.replace(/__([A-Z][A-Z0-9_]*?)__|\{\{\s*([A-Z][A-Z0-9_]*)\s*\}\}/g,
    (whole, a: string | undefined, b: string | undefined) => vars[a ?? b ?? ''] ?? whole);
}

/** The shipped templates (nginx/), as an install has them: `include hls-sidecar/<file>;` resolves in the prefix. */
const TEMPLATES = fileURLToPath(new URL('../../nginx/', import.meta.url));

async function makePrefix(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hls-sidecar-nginx-'));
  await mkdir(path.join(dir, 'tmp'));
  await cp(TEMPLATES, path.join(dir, 'hls-sidecar'), { recursive: true });
  return dir;
}

export async function startNginx(opts: NginxOptions): Promise<Nginx> {
  const prefixDir = await makePrefix();
  const port = opts.port ?? (await freePort());
  const conf = substituteNginxVars(wrapNginxConf(opts.conf, prefixDir), { ...opts.vars, PORT: String(port), PREFIX: prefixDir });
  const confPath = path.join(prefixDir, 'nginx.conf');
  await writeFile(confPath, conf);

  // -g adds main-context directives; duplicating one the conf already has is fatal, so only add what is absent.
  const globals = [
    ...(/^\s*daemon\s/m.test(conf) ? [] : ['daemon off;']),
    ...(/^\s*pid\s/m.test(conf) ? [] : [`pid ${prefixDir}/nginx.pid;`]),
  ];
  const args = ['-p', `${prefixDir}/`, '-c', confPath, '-e', path.join(prefixDir, 'error.log')];
  if (globals.length > 0) args.push('-g', globals.join(' '));
  const proc = opts.netns ? spawnManaged('ip', ['netns', 'exec', opts.netns, NGINX_BIN, ...args]) : spawnManaged(NGINX_BIN, args);
  const errorLog = (): Promise<string> => readFile(path.join(prefixDir, 'error.log'), 'utf8').catch(() => '');
  const forget = removeOnExit(prefixDir);
  const cleanup = async (): Promise<void> => {
    await proc.stop({ signal: 'SIGQUIT', graceMs: 3000 });
    await rm(prefixDir, { recursive: true, force: true });
    forget();
  };

  try {
    await waitForPort(port, opts.startTimeoutMs ?? 10_000, {
      host: opts.host,
      abortIf: () => (proc.isRunning() ? undefined : `nginx exited: ${proc.stderr().trim()}`),
    });
  } catch (e) {
    const log = await errorLog();
    await cleanup();
    throw new Error(`nginx failed to start: ${(e as Error).message}\n${log.slice(-2000)}\n--- conf ---\n${conf}`);
  }

  return {
    port,
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    prefixDir,
    confPath,
    process: proc,
    errorLog,
    accessLog: () => readFile(path.join(prefixDir, 'access.log'), 'utf8').catch(() => ''),
    close: cleanup,
  };
}

/** `nginx -t` on a config file; output is nginx's own verdict (stderr). prefixDir defaults to its folder. */
export async function nginxTest(confPath: string, opts: { prefixDir?: string } = {}): Promise<{ ok: boolean; output: string }> {
  const prefix = opts.prefixDir ?? path.dirname(path.resolve(confPath));
  const r = await runCommand(NGINX_BIN, ['-t', '-p', `${prefix}/`, '-c', path.resolve(confPath), '-e', 'stderr'], { timeoutMs: 15_000 });
  return { ok: r.code === 0, output: `${r.stdout}${r.stderr}` };
}

/** nginxTest for config text (wrapped and substituted like startNginx); the temp dir is removed afterwards. */
export async function nginxTestConf(conf: string, vars: Record<string, string> = {}): Promise<{ ok: boolean; output: string; conf: string }> {
  const prefixDir = await makePrefix();
  try {
    const text = substituteNginxVars(wrapNginxConf(conf, prefixDir), { PORT: String(await freePort()), ...vars, PREFIX: prefixDir });
    const confPath = path.join(prefixDir, 'nginx.conf');
    await writeFile(confPath, text);
    return { ...(await nginxTest(confPath, { prefixDir })), conf: text };
  } finally {
    await rm(prefixDir, { recursive: true, force: true });
  }
}
