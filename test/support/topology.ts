/**
 * Test hosts on one machine (issue #15): each host a network namespace of its own with one address, all
 * linked by veth pairs to one bridge. The bridge, and the process that builds it, must sit in a
 * loopback-only namespace of their own (`unshare -n`, scripts/test-faults.sh): no route leads out of it,
 * so nothing any host does can leave the machine. The building process is itself a host on the bridge
 * (the viewers' host, `viewerAddress`).
 *
 * Faults are what production has, made with the kernel's own tools: a link down (the host vanishes:
 * packets go nowhere, nothing answers, no RST), nftables drop rules (a blackhole, or random loss with
 * `numgen`), and processes killed. Delay needs a userspace relay (tcp-relay.ts): `tc netem` is not in
 * this kernel.
 */
import { randomBytes } from 'node:crypto';
import { onlyOwnLinks } from './netns.js';
import { runCommand, spawnManaged, type ManagedProcess, type RunResult, type SpawnManagedOptions } from './processes.js';

export const SUBNET = '10.99.0';

export interface Host {
  name: string;
  /** The namespace's name for `ip netns exec`. */
  netns: string;
  address: string;
  /** Run to completion inside the host. */
  exec(cmd: string, args: readonly string[], timeoutMs?: number): Promise<RunResult>;
  /** A long-running process inside the host (killed with the test process). */
  spawn(cmd: string, args: readonly string[], opts?: SpawnManagedOptions): ManagedProcess;
  /** Link down / up on the bridge side: the host is cut off (or back), nothing inside it notices. */
  setLink(up: boolean): Promise<void>;
  /** Drop every packet to and from the host (nftables), or stop dropping. */
  blackhole(on: boolean): Promise<void>;
  /** Drop `percent` % of the host's packets at random, both ways (0 stops). */
  loss(percent: number): Promise<void>;
}

export interface Topology {
  hosts: Record<string, Host>;
  viewerAddress: string;
  close(): Promise<void>;
}

async function sh(cmd: string, args: readonly string[]): Promise<string> {
  const r = await runCommand(cmd, args, { timeoutMs: 15_000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Builds hosts named after `lastOctets` (name → last octet of 10.99.0.x). Refuses to run outside an
 * isolated namespace: on the machine's own namespace the bridge could route somewhere real.
 */
export async function startTopology(lastOctets: Record<string, number>): Promise<Topology> {
  if (!(await onlyOwnLinks(/^hlsf/))) throw new Error('topology: run inside `unshare -n` (scripts/test-faults.sh)');
  const run = randomBytes(3).toString('hex');
  const bridge = `hlsf${run}`;
  await sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
  await sh('ip', ['addr', 'add', `${SUBNET}.1/24`, 'dev', bridge]);
  await sh('ip', ['link', 'set', bridge, 'up']);
  const hosts: Record<string, Host> = {};
  let i = 0;
  for (const [name, octet] of Object.entries(lastOctets)) {
    const netns = `hlsf${run}-${name}`;
    const outer = `hlsf${run}v${i++}`;
    const address = `${SUBNET}.${octet}`;
    await sh('ip', ['netns', 'add', netns]);
    await sh('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    await sh('ip', ['link', 'set', outer, 'master', bridge, 'up']);
    for (const args of [['addr', 'add', `${address}/24`, 'dev', 'eth0'], ['link', 'set', 'eth0', 'up'], ['link', 'set', 'lo', 'up']]) {
      await sh('ip', ['-n', netns, ...args]);
    }
    const nft = (script: string) => sh('ip', ['netns', 'exec', netns, 'nft', script]);
    const table = async (rules: string[]) => {
      await nft('delete table inet hlsfault').catch(() => undefined);
      if (rules.length === 0) return;
      await nft([
        'table inet hlsfault {',
        '  chain in { type filter hook input priority 0; policy accept; ' + rules.map((r) => `iifname "eth0" ${r}`).join('; ') + '; }',
        '  chain out { type filter hook output priority 0; policy accept; ' + rules.map((r) => `oifname "eth0" ${r}`).join('; ') + '; }',
        '}',
      ].join('\n'));
    };
    hosts[name] = {
      name,
      netns,
      address,
      exec: (cmd, args, timeoutMs = 30_000) => runCommand('ip', ['netns', 'exec', netns, cmd, ...args], { timeoutMs }),
      spawn: (cmd, args, opts) => spawnManaged('ip', ['netns', 'exec', netns, cmd, ...args], opts),
      setLink: async (up) => { await sh('ip', ['link', 'set', outer, up ? 'up' : 'down']); },
      blackhole: (on) => table(on ? ['drop'] : []),
      loss: (percent) => table(percent > 0 ? [`numgen random mod 100 < ${percent} drop`] : []),
    };
  }
  return {
    hosts,
    viewerAddress: `${SUBNET}.1`,
    async close() {
      for (const h of Object.values(hosts)) await sh('ip', ['netns', 'delete', h.netns]).catch(() => undefined);
      await sh('ip', ['link', 'delete', bridge]).catch(() => undefined);
    },
  };
}
