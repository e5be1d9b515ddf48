import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { freePort } from './redis-server.js';

/**
 * A throw-away Redis Cluster for integration tests: `masters` masters and `replicas` replicas per master,
 * loopback only, free ephemeral ports (never 6379), no persistence, node config files in a tmp dir. Every
 * node is SIGKILLed by stop() and, whatever happened to the suite, when the test process exits.
 * Cluster state is read through one plain ioredis connection per node (cheaper than a redis-cli process
 * per poll on a small machine); redis-cli is used only for `--cluster create`.
 */

export interface ClusterNode {
  id: string;
  port: number;
  master: boolean;
  /** Flagged fail or pfail (unreachable) in the asking node's view. */
  failing: boolean;
  /** For a replica, the id of its master. */
  masterId?: string;
  /** Inclusive slot ranges served (masters only). */
  slots: Array<[number, number]>;
}

export interface RedisCluster {
  /** Every node's port, in start order. */
  ports: number[];
  /** `redis+cluster://127.0.0.1:p1,...` with the given seed ports. */
  url(seeds: number[]): string;
  /** One command on one node (plain connection, no cluster redirection). */
  call(port: number, command: string, ...args: Array<string | number>): Promise<unknown>;
  /** CLUSTER NODES as seen by the node on `port`. */
  topology(port: number): Promise<ClusterNode[]>;
  /** SIGKILL: the node vanishes mid-conversation, as in a crash. Resolves once the process is gone. */
  kill(port: number): Promise<void>;
  /**
   * Resolves with the agreed topology once every live node says cluster_state:ok, all of them see the same
   * slot-owning masters, none of those is failing, the slots are all covered, every other live node is a
   * replica, and every live replica's link to its master is up. Rejects after `ms`.
   */
  healthy(ms?: number): Promise<ClusterNode[]>;
  /** Kills every node, waits for them to be gone, and removes the tmp dir. */
  stop(): Promise<void>;
}

const SLOTS = 16384;
const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const children = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * The slot of a key (Redis Cluster specification, "Keys distribution model" / "Hash tags"): CRC16 of the
 * key mod 16384, or of the part between the first `{` and the next `}` when that part is not empty.
 * cluster-key-slot is the implementation ioredis itself routes commands with.
 */
export function keySlot(key: string): number {
  return calculateSlot(key);
}

/** The node serving `slot` in a topology (a slot-owning master that is not failing). */
export function ownerOf(nodes: ClusterNode[], slot: number): ClusterNode | undefined {
  return nodes.find((n) => n.master && !n.failing && n.slots.some(([lo, hi]) => slot >= lo && slot <= hi));
}

/** `<id> <ip:port@cport[,host]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...` per line. */
function parseNodes(text: string): ClusterNode[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, address, flags, master, , , , , ...slots] = line.trim().split(' ');
      const flagSet = new Set(flags!.split(','));
      const node: ClusterNode = {
        id: id!,
        port: Number(/:(\d+)@/.exec(address!)![1]),
        master: flagSet.has('master'),
        failing: flagSet.has('fail') || flagSet.has('fail?'),
        // Importing/migrating markers (`[slot-<-id]`) are not ownership.
        slots: slots.filter((s) => !s.startsWith('[')).map((s) => {
          const [lo, hi] = s.split('-').map(Number);
          return [lo!, hi ?? lo!];
        }),
      };
      if (master !== '-') node.masterId = master!;
      return node;
    });
}

export async function startCluster(opts: { masters?: number; replicas?: number; nodeTimeoutMs?: number } = {}): Promise<RedisCluster> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicas ?? 0;
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const child of children) child.kill('SIGKILL');
    });
  }
  const dir = mkdtempSync(join(tmpdir(), 'hls-sidecar-cluster-'));
  const ports: number[] = [];
  const procs = new Map<number, ChildProcess>();
  const admins = new Map<number, Redis>();
  const dead = new Set<number>();

  const admin = (port: number): Redis => {
    let conn = admins.get(port);
    if (!conn || conn.status === 'end') {
      // No reconnects, no retries: a dead node is an immediate error for the poller, which asks again.
      conn = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, commandTimeout: 2000 });
      conn.on('error', () => undefined);
      admins.set(port, conn);
    }
    return conn;
  };
  const call = (port: number, command: string, ...args: Array<string | number>): Promise<unknown> => admin(port).call(command, ...args);
  const topology = async (port: number): Promise<ClusterNode[]> => parseNodes(String(await call(port, 'cluster', 'nodes')));

  const exited = (child: ChildProcess): Promise<unknown> =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));
  const stop = async (): Promise<void> => {
    for (const conn of admins.values()) conn.disconnect();
    admins.clear();
    const gone = [...procs.values()].map((child) => {
      const exit = exited(child);
      child.kill('SIGKILL');
      return exit;
    });
    await Promise.all(gone);
    rmSync(dir, { recursive: true, force: true });
  };

  /** Free ports not handed out yet (freePort may return a port twice; the bus port needs one too). */
  const taken = new Set<number>();
  const newPort = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };

  /**
   * One node on free ports. The cluster bus port is given explicitly: by default it is port + 10000, which
   * does not exist for ports above 55535 (most of Linux' ephemeral range) and may be in use. A port can
   * still be taken between freePort() and the bind, so a node that exits at start-up is retried on others.
   */
  async function startNode(): Promise<number> {
    let why = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      const [port, bus] = [await newPort(), await newPort()];
      const log = join(dir, `node-${port}.log`);
      // Each node's cluster config file is its own and rewritten by the node, so it lives in the tmp dir.
      const args = ['--port', String(port), '--cluster-port', String(bus), '--bind', '127.0.0.1', '--cluster-enabled', 'yes'];
      args.push('--cluster-config-file', join(dir, `nodes-${port}.conf`), '--logfile', log);
      if (opts.nodeTimeoutMs !== undefined) args.push('--cluster-node-timeout', String(opts.nodeTimeoutMs));
      args.push('--save', '', '--appendonly', 'no', '--dir', dir);
      const child = spawn('redis-server', args, { stdio: 'ignore' });
      children.add(child);
      child.once('exit', () => children.delete(child));
      for (let i = 0; i < 100 && child.exitCode === null && child.signalCode === null; i++) {
        if ((await call(port, 'ping').catch(() => '')) === 'PONG') {
          procs.set(port, child);
          return port;
        }
        await sleep(50);
      }
      child.kill('SIGKILL');
      admins.get(port)?.disconnect();
      const tail = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-2).join(' / ') : 'no log';
      why = `redis-server on ${port} (bus ${bus}): ${tail}`;
    }
    throw new Error(`cluster node did not start: ${why}`);
  }

  try {
    for (let i = 0; i < masters * (1 + replicas); i++) ports.push(await startNode());
    const hosts = ports.map((p) => `127.0.0.1:${p}`);
    await run('redis-cli', ['--cluster', 'create', ...hosts, '--cluster-replicas', String(replicas), '--cluster-yes']);
  } catch (err) {
    await stop();
    throw err;
  }

  const cluster: RedisCluster = {
    ports,
    url: (seeds) => `redis+cluster://${seeds.map((p) => `127.0.0.1:${p}`).join(',')}`,
    call,
    topology,
    async kill(port) {
      const child = procs.get(port);
      dead.add(port);
      admins.get(port)?.disconnect();
      if (!child) return;
      const gone = exited(child);
      child.kill('SIGKILL');
      await gone;
    },
    async healthy(ms = 15_000) {
      const live = ports.filter((p) => !dead.has(p));
      const summary = (nodes: ClusterNode[]): string =>
        nodes
          .filter((n) => n.master && n.slots.length > 0)
          .map((n) => `${n.id}${n.failing ? '!' : ''}=${n.slots.map((r) => r.join('-')).join(',')}`)
          .sort()
          .join(' ');
      let last = 'no answer yet';
      for (const end = Date.now() + ms; Date.now() < end; await sleep(200)) {
        try {
          const views = await Promise.all(live.map((p) => topology(p)));
          const infos = await Promise.all(live.map((p) => call(p, 'cluster', 'info').then(String)));
          const first = views[0]!;
          last = `${infos.map((i) => /cluster_state:(\w+)/.exec(i)?.[1]).join(',')} / ${views.map(summary).join(' | ')}`;
          if (!infos.every((i) => i.includes('cluster_state:ok'))) continue;
          if (!views.every((v) => summary(v) === summary(first))) continue;
          const owners = first.filter((n) => n.master && n.slots.length > 0);
          const covered = owners.reduce((sum, n) => sum + n.slots.reduce((s, [lo, hi]) => s + hi - lo + 1, 0), 0);
          if (owners.length !== masters || owners.some((n) => n.failing) || covered !== SLOTS) continue;
          // Every live node has its role: no master without slots (a replica not attached yet after create).
          if (first.some((n) => !n.failing && n.master && n.slots.length === 0)) continue;
          const liveReplicas = first.filter((n) => !n.master && !n.failing);
          const links = await Promise.all(liveReplicas.map((n) => call(n.port, 'info', 'replication').then(String)));
          if (!links.every((l) => l.includes('master_link_status:up'))) continue;
          return first;
        } catch (err) {
          last = String(err);
        }
      }
      throw new Error(`cluster not healthy after ${ms} ms: ${last}`);
    },
    stop,
  };
  try {
    await cluster.healthy();
  } catch (err) {
    await stop();
    throw err;
  }
  return cluster;
}
