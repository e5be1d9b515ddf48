/**
 * Run a command in a fresh network namespace that has only the loopback interface: no route leads
 * anywhere else, so an accidental egress fails with ENETUNREACH instead of leaving the machine. Tests use it
 * to prove the sidecar (or a whole test file) talks to nothing but 127.0.0.1.
 *
 * Note: 127.0.0.1 inside the namespace is a different loopback from the host's; servers the child talks to
 * must be started inside the same namespace (e.g. run the whole test script there).
 *
 * Needs `unshare` (util-linux) and `ip` (iproute2) to bring `lo` up; as non-root it maps the caller to root
 * in a user namespace (`unshare -r`), which works where unprivileged user namespaces are enabled.
 */
import { spawnSync } from 'node:child_process';
import { runCommand, spawnManaged, type ManagedProcess, type RunResult, type SpawnManagedOptions } from './processes.js';

/** Exit status of the wrapper when `ip link set lo up` failed (the wrapped command never ran). */
export const NETNS_LO_FAILED = 97;

// Bringing lo up is mandatory: with lo down even 127.0.0.1 is unreachable and tests would fail confusingly.
const WRAPPER = `ip link set lo up || { echo "netns: cannot bring lo up (is iproute2 installed?)" >&2; exit ${NETNS_LO_FAILED}; }; exec "$@"`;

function unshareArgs(): string[] {
  return process.getuid?.() === 0 ? ['-n'] : ['-r', '-n'];
}

/** The argv that runs cmd/args inside a loopback-only namespace (for callers that spawn themselves). */
export function loopbackNetnsCommand(cmd: string, args: readonly string[]): { cmd: string; args: string[] } {
  return { cmd: 'unshare', args: [...unshareArgs(), 'sh', '-c', WRAPPER, 'netns-wrapper', cmd, ...args] };
}

/** Whether this machine/user can create a network namespace and bring its loopback up. */
export function canUnshareNet(): boolean {
  const { cmd, args } = loopbackNetnsCommand('true', []);
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

export type NetnsRunOptions = SpawnManagedOptions & { timeoutMs?: number };

/** Run to completion inside a loopback-only namespace; { code, stdout, stderr, ... } as runCommand. */
export function runInLoopbackNetns(cmd: string, args: readonly string[], opts: NetnsRunOptions = {}): Promise<RunResult> {
  const wrapped = loopbackNetnsCommand(cmd, args);
  return runCommand(wrapped.cmd, wrapped.args, opts);
}

/** Long-running variant: a managed process (killed with the test process) inside the namespace. */
export function spawnInLoopbackNetns(cmd: string, args: readonly string[], opts: SpawnManagedOptions = {}): ManagedProcess {
  const wrapped = loopbackNetnsCommand(cmd, args);
  return spawnManaged(wrapped.cmd, wrapped.args, opts);
}

/**
 * Whether this process sits in a network namespace of its own: its only links are `lo` and those whose
 * names `ours` matches (links the test made itself). On the machine's own namespace a test bridge or
 * container network could route somewhere real, so the multi-host suites refuse to run there.
 */
export async function onlyOwnLinks(ours: RegExp): Promise<boolean> {
  const r = await runCommand('ip', ['-o', 'link', 'show'], { timeoutMs: 5000 });
  return r.code === 0 && r.stdout.split('\n').filter((l) => l.trim() !== '').every((l) => {
    const name = /^\d+: ([^:@]+)[:@]/.exec(l)?.[1];
    return name === 'lo' || (name !== undefined && ours.test(name));
  });
}
