/**
 * Child-process registry for integration tests: every helper (nginx, ffmpeg, live stream) spawns through
 * spawnManaged so nothing outlives the test process.
 *
 * Three layers, because each covers a way the test process can end:
 *  - normal exit / mocha's --exit: a synchronous 'exit' hook SIGKILLs every registered process group;
 *  - SIGINT/SIGTERM/SIGHUP: the same cleanup, then the default action when nobody else handles the signal;
 *  - SIGKILL or a crash (no JS runs): a tiny `sh` watchdog per child blocks reading a pipe from us; the kernel
 *    closes the pipe when we die, `read` sees EOF and the watchdog kills the child's process group.
 * Children are spawned detached (own process group) so a group kill also reaches nginx workers and ffmpeg
 * helpers.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { rmSync } from 'node:fs';

export { waitForPort } from './ports.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Settles when the child exits (never rejects; a spawn failure resolves with code null). */
  readonly exited: Promise<ExitInfo>;
  isRunning(): boolean;
  /** Captured output so far (the last `captureLimit` characters of each stream). */
  stdout(): string;
  stderr(): string;
  /** Signal the whole process group, escalate to SIGKILL after graceMs, resolve once it exited. */
  stop(opts?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<ExitInfo>;
}

export interface SpawnManagedOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Start a watchdog that kills the group if this process dies without cleanup. Default true. */
  watchdog?: boolean;
  /** Characters kept per output stream. Default 1 MiB. */
  captureLimit?: number;
  /** Data written to stdin, then closed. Without it stdin is /dev/null. */
  input?: string | Buffer;
}

// One registry per test process by design: its whole job is process-wide cleanup at exit.
const registry = new Set<{ pid: number; watchdog: ChildProcess | undefined }>();
let hooksInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

const exitDirs = new Set<string>();

/** SIGKILL every registered group and its watchdog, then remove registered temp dirs. Synchronous so it can
 * run inside process.on('exit'). */
export function killAllManaged(): void {
  for (const entry of registry) {
    killGroup(entry.pid, 'SIGKILL');
    entry.watchdog?.kill('SIGKILL');
  }
  registry.clear();
  for (const dir of exitDirs) rmSync(dir, { recursive: true, force: true });
  exitDirs.clear();
}

/** Remove `dir` when the test process exits (normally or by SIGINT/SIGTERM/SIGHUP); returns an undo. */
export function removeOnExit(dir: string): () => void {
  installHooks();
  exitDirs.add(dir);
  return () => { exitDirs.delete(dir); };
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllManaged);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllManaged();
      process.removeListener(sig, onSignal);
      // Keep the default behaviour (terminate) unless another handler (e.g. mocha's) owns the signal.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

function startWatchdog(pgid: number): ChildProcess {
  const script = 'trap "" INT TERM HUP QUIT; read _ ; kill -s TERM -- "-$1" 2>/dev/null; sleep 1; kill -s KILL -- "-$1" 2>/dev/null';
  const watchdog = spawn('sh', ['-c', script, 'watchdog', String(pgid)], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  // The watchdog must never keep the event loop alive; its stdin pipe only needs to exist.
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  watchdog.stdin?.on('error', () => undefined);
  return watchdog;
}

function appendCapped(current: string, chunk: string, limit: number): string {
  const next = current + chunk;
  return next.length > limit ? next.slice(next.length - limit) : next;
}

export function spawnManaged(cmd: string, args: readonly string[], opts: SpawnManagedOptions = {}): ManagedProcess {
  installHooks();
  const limit = opts.captureLimit ?? 1024 * 1024;
  const spawnOpts: SpawnOptions = {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  };
  const child = spawn(cmd, [...args], spawnOpts);
  let out = '';
  let err = '';
  let running = child.pid !== undefined;
  child.stdout?.setEncoding('utf8').on('data', (c: string) => { out = appendCapped(out, c, limit); });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => { err = appendCapped(err, c, limit); });
  if (opts.input !== undefined && child.stdin) {
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input);
  }
  const pid = child.pid ?? -1;
  const entry = { pid, watchdog: running && opts.watchdog !== false ? startWatchdog(pid) : undefined };
  if (running) registry.add(entry);

  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (e) => {
      if (child.pid === undefined) {
        err = appendCapped(err, `spawn ${cmd}: ${e.message}\n`, limit);
        running = false;
        resolve({ code: null, signal: null });
      }
    });
    child.once('exit', () => {
      running = false;
      // Stragglers (nginx workers whose master died) would hold our pipes open and delay 'close'.
      killGroup(pid, 'SIGKILL');
      entry.watchdog?.kill('SIGKILL');
      registry.delete(entry);
    });
    // Settle on 'close' (not 'exit') so captured output is complete.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });

  return {
    child,
    pid,
    exited,
    isRunning: () => running,
    stdout: () => out,
    stderr: () => err,
    async stop({ signal = 'SIGTERM', graceMs = 3000 } = {}) {
      if (!running) return exited;
      killGroup(pid, signal);
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export interface RunResult extends ExitInfo {
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Run a command to completion, bounded by timeoutMs (SIGTERM, then SIGKILL one second later). */
export async function runCommand(
  cmd: string,
  args: readonly string[],
  opts: SpawnManagedOptions & { timeoutMs?: number } = {},
): Promise<RunResult> {
  const proc = spawnManaged(cmd, args, opts);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void proc.stop({ signal: 'SIGTERM', graceMs: 1000 });
  }, opts.timeoutMs ?? 30_000);
  const exit = await proc.exited;
  clearTimeout(timer);
  return { ...exit, stdout: proc.stdout(), stderr: proc.stderr(), timedOut };
}
