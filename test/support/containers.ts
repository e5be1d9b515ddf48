/**
 * Containers for the test:containers suite (issue #14): podman with the project's settings
 * (scripts/podman/containers.conf), docker-compose against `podman system service`, and the checks the
 * tests share. scripts/test-containers.sh builds the image (it needs the registry) and then runs the suite
 * inside a loopback-only network namespace, so the bridge networks, the containers and everything they
 * reach live in that namespace: nothing a container does can leave the machine.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCommand, spawnManaged, type RunResult } from './processes.js';
import { ROOT } from './proxy.js';
import { onlyOwnLinks } from './netns.js';
import { waitFor } from './wait-for.js';

export const CONTAINERS_CONF = path.join(ROOT, 'scripts/podman/containers.conf');
export const IMAGE = process.env.HLS_SIDECAR_IMAGE ?? 'localhost/hls-sidecar:local';
const STAND_IN = 'localhost/hls-sidecar-stand-in';

/** The base images compose runs: the official ones unless the harness says otherwise (stand-ins here). */
export const BASE_IMAGES = {
  HLS_NODE_IMAGE: process.env.HLS_NODE_IMAGE ?? `${STAND_IN}/node:20`,
  HLS_NGINX_IMAGE: process.env.HLS_NGINX_IMAGE ?? `${STAND_IN}/nginx:bookworm`,
  HLS_REDIS_IMAGE: process.env.HLS_REDIS_IMAGE ?? `${STAND_IN}/redis:bookworm`,
};

const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ ...process.env, CONTAINERS_CONF, ...extra });

export async function podman(args: string[], timeoutMs = 120_000): Promise<RunResult> {
  return runCommand('podman', args, { env: env(), timeoutMs });
}

/** podman, failing with its stderr when it exits non-zero; returns stdout trimmed. */
export async function podmanOk(args: string[], timeoutMs?: number): Promise<string> {
  const r = await podman(args, timeoutMs);
  if (r.code !== 0) throw new Error(`podman ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * Runs the image's own HEALTHCHECK command once, as podman's timer would (podman schedules health checks
 * with systemd timers, and there is no systemd here), and returns the status podman then records.
 */
export async function healthStatus(container: string): Promise<string> {
  await podman(['healthcheck', 'run', container], 30_000);
  return podmanOk(['inspect', '--format', '{{.State.Health.Status}}', container]);
}

export async function waitHealthy(container: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(`${container} healthy`, async () => (await healthStatus(container)) === 'healthy', timeoutMs, 1000);
}

/** In a namespace of its own: only lo, and the bridges and veths podman made for the suite's networks. */
export const inOwnNetns = (): Promise<boolean> => onlyOwnLinks(/^(cni-podman\d+|veth.*|hls.*)$/);

export interface ComposeStack {
  project: string;
  /** What every docker-compose call gets in its environment (ports, images, certificates). */
  env: Record<string, string>;
  compose(args: string[], timeoutMs?: number): Promise<RunResult>;
  /** Names of the running containers of one service, e.g. hlsct_proxy_1. */
  containers(service: string): Promise<string[]>;
  /** The bridge network's gateway: this namespace's address on the compose network. */
  gateway(): Promise<string>;
  /** Containers, networks and volumes that carry the project's label. */
  leftovers(): Promise<{ containers: string[]; networks: string[]; volumes: string[] }>;
  close(): Promise<void>;
}

/** A docker-compose client against a `podman system service` of its own, for one project. */
export async function startComposeClient(project: string, stackEnv: Record<string, string>): Promise<ComposeStack> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hls-sidecar-compose-'));
  const socket = path.join(dir, 'podman.sock');
  const service = spawnManaged('podman', ['system', 'service', '--time=0', `unix://${socket}`], { env: env(), captureLimit: 64 * 1024 });
  const composeEnv = { DOCKER_HOST: `unix://${socket}`, COMPOSE_PROJECT_NAME: project, ...BASE_IMAGES, ...stackEnv };
  const compose = (args: string[], timeoutMs = 180_000) =>
    runCommand('docker-compose', ['-p', project, ...args], { cwd: ROOT, env: env(composeEnv), timeoutMs });
  await waitFor('podman system service', async () => (await compose(['ps'], 10_000)).code === 0, 20_000, 200);
  const label = `label=com.docker.compose.project=${project}`;
  const names = async (args: string[]) => (await podmanOk(args)).split('\n').filter(Boolean);
  return {
    project,
    env: composeEnv,
    compose,
    containers: (svc) => names(['ps', '--filter', label, '--filter', `label=com.docker.compose.service=${svc}`, '--format', '{{.Names}}']),
    async gateway() {
      const out = await podmanOk(['network', 'inspect', `${project}_hls`, '--format', '{{range .Subnets}}{{.Gateway}} {{end}}']);
      return out.split(' ')[0]!;
    },
    async leftovers() {
      return {
        containers: await names(['ps', '-a', '--filter', label, '--format', '{{.Names}}']),
        networks: (await names(['network', 'ls', '--format', '{{.Name}}'])).filter((n) => n.startsWith(`${project}_`)),
        volumes: await names(['volume', 'ls', '--filter', label, '--format', '{{.Name}}']),
      };
    },
    async close() {
      await compose(['down', '--timeout', '5'], 120_000).catch(() => undefined);
      await service.stop({ signal: 'SIGTERM', graceMs: 5000 });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Prometheus text of one replica, read inside its container (the metrics route is not published). */
export async function replicaMetrics(container: string, prefix = '/hls-proxy'): Promise<string> {
  const script = `fetch('http://127.0.0.1:8080${prefix}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))`;
  return podmanOk(['exec', container, 'node', '-e', script], 30_000);
}
