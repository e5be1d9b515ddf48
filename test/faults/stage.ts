/**
 * The fault stage (issue #15): every role on a test host of its own (test/support/topology.ts), as
 * production runs it. origin: nginx serving ffmpeg-made VOD and a live ffmpeg stream, behind a delay
 * relay; front: nginx with the shipped nginx/ templates, TLS; three replicas (the CLI) on
 * redis+sentinel://; a Redis primary and replica; three Sentinels. The viewers' host is the process that
 * builds the stage.
 */
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { counterSum } from '../support/metrics-text.js';
import { rssMiB, socketsTo } from '../support/proc-usage.js';
import { cacheDirRows, readRepoFile as read, substitute } from '../support/deploy-kit.js';
import { getFixtures, type Fixtures } from '../support/hls-fixtures.js';
import { startLiveStream, type LiveStream } from '../support/live-stream.js';
import { startNginx, type Nginx } from '../support/nginx.js';
import { portAccepts } from '../support/ports.js';
import type { ManagedProcess } from '../support/processes.js';
import { hlsdUrl, ROOT } from '../support/proxy.js';
import { makeTestCert, type TestCert } from '../support/tls-certs.js';
import { startTopology, type Host, type Topology } from '../support/topology.js';
import { waitFor } from '../support/wait-for.js';

export const HOSTS = { front: 10, r1: 11, r2: 12, r3: 13, redis1: 21, redis2: 22, s1: 31, s2: 32, s3: 33, origin: 40 } as const;
export const REPLICAS = ['r1', 'r2', 'r3'] as const;
export const SEGMENT_SECONDS = 2;
const ORIGIN_PORT = 8081;
const RELAY_PORT = 80;
const LIVE_PLAYLIST = '/live/index.m3u8';

export interface Replica {
  host: Host;
  process: ManagedProcess;
  base: string;
}

export interface FaultStage {
  topology: Topology;
  host(name: keyof typeof HOSTS): Host;
  replicas: Record<(typeof REPLICAS)[number], Replica>;
  /** Kill (SIGKILL) and start a replica's process again on its host. */
  restartReplica(name: (typeof REPLICAS)[number], kill: boolean): Promise<void>;
  /** The relay in front of the origin: `on` adds its delay. */
  originDelay(on: boolean): void;
  live: LiveStream;
  fixtures: Fixtures;
  dispatcher: Agent;
  /** Through the front, as a player is given it. */
  livePlaylistUrl: string;
  vodUrl: string;
  publicBase: string;
  /** The origin's live playlist answers: when, its status, and the replica that asked. */
  originPlaylistFetches(): Promise<Array<{ at: number; status: number; by: string }>>;
  /** Direct to one replica: a playlist through it; its X-HLS-Sidecar-Cache (MISS, HIT, ...). */
  fetchDirect(name: (typeof REPLICAS)[number], upstreamUrl: string): Promise<string>;
  /** The primary's address as the first Sentinel reports it. */
  primary(): Promise<string>;
  /** Direct to one replica: its /readyz body. */
  readyz(name: (typeof REPLICAS)[number]): Promise<string>;
  /** Direct to one replica: viewer requests it has answered (playlist and stream routes). */
  served(name: (typeof REPLICAS)[number]): Promise<number>;
  /** A replica process's resident memory (MiB) and its TCP sockets to the origin (NaN while it is down). */
  usage(name: (typeof REPLICAS)[number]): Promise<{ rssMiB: number; upstreamSockets: number }>;
  close(): Promise<void>;
}

/** dist/src/cli.js, refused when any source file is newer (scripts/test-faults.sh builds first). */
function builtCli(): string {
  const cli = path.join(ROOT, 'dist/src/cli.js');
  const built = statSync(cli, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const newest = readdirSync(path.join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .reduce((m, f) => Math.max(m, statSync(path.join(ROOT, 'src', f)).mtimeMs), 0);
  if (built < newest) throw new Error('test/faults runs the built CLI: dist/ is missing or older than src/ (npm run build; npm run test:faults does it)');
  return cli;
}

const sentinelConf = (port: number, primary: string, downAfterMs: number) => [
  `port ${port}`, 'bind 0.0.0.0', 'protected-mode no',
  `sentinel monitor media ${primary} 6379 2`,
  // Longer than the blackhole fault, as production's (default 30 s) is longer than a network hiccup: the
  // blackhole row is a blackhole, not a failover; the failover row waits for it.
  `sentinel down-after-milliseconds media ${downAfterMs}`,
  'sentinel failover-timeout media 10000',
  'sentinel parallel-syncs media 1',
  '',
].join('\n');

export async function startFaultStage(opts: { replicaArgs?: string[]; originDelayMs: number; originJitterMs: number; sentinelDownAfterMs: number }): Promise<FaultStage> {
  const topology = await startTopology(HOSTS);
  const host = (n: keyof typeof HOSTS) => topology.hosts[n]!;
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'hls-sidecar-faults-'));
  const fixtures = await getFixtures();
  const live = await startLiveStream({ segmentSeconds: SEGMENT_SECONDS, listSize: 6 });
  const procs: ManagedProcess[] = [];
  const nginxes: Nginx[] = [];
  let cert: TestCert | undefined;
  const closeAll = async () => {
    await Promise.all(nginxes.map((n) => n.close()));
    await Promise.all(procs.map((p) => p.stop({ signal: 'SIGKILL', graceMs: 500 })));
    await live.stop();
    await cert?.remove();
    await topology.close();
    await rm(tmp, { recursive: true, force: true });
  };
  try {
    // Origin: nginx on :8081, the relay on :80 (what the replicas are given).
    const origin = host('origin');
    const originLog = path.join(tmp, 'origin-access.log');
    nginxes.push(await startNginx({
      netns: origin.netns, host: origin.address, port: ORIGIN_PORT,
      conf: [
        // The replicas name themselves in User-Agent (--useragent below): who fetched what, for FAULT_DEBUG.
        "log_format faults '$msec $uri $status $http_user_agent';",
        'server {',
        `  listen ${origin.address}:${ORIGIN_PORT};`,
        `  access_log ${originLog} faults;`,
        `  location /vod/ { alias ${fixtures.root}/vod/; }`,
        `  location /live/ { alias ${live.root}/live/; }`,
        '  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }',
        '}',
      ].join('\n'),
    }));
    const relay = origin.spawn(process.execPath, ['--import', 'tsx', 'test/support/tcp-relay.ts', `${origin.address}:${RELAY_PORT}`, `${origin.address}:${ORIGIN_PORT}`, String(opts.originDelayMs), String(opts.originJitterMs)], { cwd: ROOT });
    procs.push(relay);
    await waitFor('relay', () => portAccepts(RELAY_PORT, origin.address), 20_000, 100);

    // Redis primary and replica, three Sentinels.
    // --dir: a replica's full sync writes the primary's RDB to disk, never into the work tree.
    const redisArgs = ['--bind', '0.0.0.0', '--port', '6379', '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--dir', tmp];
    procs.push(host('redis1').spawn('redis-server', redisArgs));
    procs.push(host('redis2').spawn('redis-server', [...redisArgs, '--replicaof', host('redis1').address, '6379']));
    for (const s of ['s1', 's2', 's3'] as const) {
      const conf = path.join(tmp, `${s}.conf`);
      await writeFile(conf, sentinelConf(26379, host('redis1').address, opts.sentinelDownAfterMs));
      procs.push(host(s).spawn('redis-server', [conf, '--sentinel']));
    }
    for (const s of ['s1', 's2', 's3'] as const) await waitFor(`sentinel ${s}`, () => portAccepts(26379, host(s).address), 20_000, 100);
    const sentinels = (['s1', 's2', 's3'] as const).map((s) => `${host(s).address}:26379`).join(',');

    // Replicas: the CLI as built and installed (node dist/src/cli.js, as the image and the service run it,
    // not tsx, whose compiling added a second to each start: the replica-killed row's recovery includes a
    // start), trusting only the front's address.
    const cli = builtCli();
    const startReplica = (name: (typeof REPLICAS)[number]): ManagedProcess => {
      const p = host(name).spawn(process.execPath, [cli,
        '--port', '8080', '--bind', '0.0.0.0', '--prefix', '/hls-proxy', '--trust-proxy', host('front').address,
        '--redis', `redis+sentinel://${sentinels}/media`, '--useragent', name, '--log-level', 'warn', ...(opts.replicaArgs ?? [])], { cwd: ROOT, captureLimit: 256 * 1024 });
      procs.push(p);
      return p;
    };
    const replicas = {} as FaultStage['replicas'];
    for (const name of REPLICAS) replicas[name] = { host: host(name), process: startReplica(name), base: `http://${host(name).address}:8080/hls-proxy` };
    const readyz = async (name: (typeof REPLICAS)[number]) => {
      const r = await request(`${replicas[name].base}/readyz`, { headersTimeout: 2000, bodyTimeout: 2000 });
      return (await r.body.text()).trim();
    };
    for (const name of REPLICAS) await waitFor(`replica ${name} ready`, async () => (await readyz(name).catch(() => '')) === 'ok', 30_000, 200);

    // Front: the shipped templates as the rehearsal uses them, on the front host's address.
    cert = await makeTestCert(host('front').address);
    const upstream = substitute(read('nginx/upstream.conf'), [
      ...REPLICAS.map((n, i): [string, string] => [`server 127.0.0.1:808${i} `, `server ${host(n).address}:8080 `]),
      ...cacheDirRows(path.join(tmp, 'front-cache')),
      // Replicas on other hosts, as upstream.conf says for them: no keepalive pool (a request sent over a
      // connection kept alive to a vanished host waits for its return; a fresh connect fails in 250 ms).
      ['    keepalive 128;\n', ''],
    ], 'upstream.conf');
    const site = substitute(read('nginx/example-server.conf'), [
      ['listen 80;', `listen ${host('front').address}:80;`], ['    listen [::]:80;\n', ''],
      ['listen 443 ssl http2;', `listen ${host('front').address}:443 ssl http2;`], ['    listen [::]:443 ssl http2;\n', ''],
      ['/etc/ssl/certs/media.example.com.fullchain.pem', cert.certFile],
      ['/etc/ssl/private/media.example.com.key', cert.keyFile],
      ['include hls-sidecar/upstream.conf;', upstream],
      ['include hls-sidecar/hls-proxy-location.conf;', read('nginx/hls-proxy-location.conf')],
    ], 'example-server.conf');
    nginxes.push(await startNginx({ conf: site, netns: host('front').netns, host: host('front').address, port: 443 }));

    const publicBase = `https://${host('front').address}/hls-proxy`;
    const served = async (name: (typeof REPLICAS)[number]) => {
      const r = await request(`${replicas[name].base}/metrics`, { headersTimeout: 2000, bodyTimeout: 2000 });
      return counterSum(await r.body.text(), 'hls_sidecar_requests_total', /route="(playlist|stream)"/);
    };
    return {
      topology,
      host,
      replicas,
      async restartReplica(name, kill) {
        if (kill) await replicas[name].process.stop({ signal: 'SIGKILL', graceMs: 100 });
        else replicas[name].process = startReplica(name);
      },
      originDelay: (on) => { process.kill(relay.pid!, on ? 'SIGUSR1' : 'SIGUSR2'); },
      live,
      fixtures,
      dispatcher: new Agent({ connect: { rejectUnauthorized: false }, connections: 100, keepAliveTimeout: 10_000 }),
      livePlaylistUrl: hlsdUrl(publicBase, `http://${origin.address}${LIVE_PLAYLIST}`),
      vodUrl: hlsdUrl(publicBase, `http://${origin.address}/${fixtures.paths.vodMaster}`),
      publicBase,
      async originPlaylistFetches() {
        const text = await readFile(originLog, 'utf8').catch(() => '');
        return text.split('\n').filter((l) => l.includes(` ${LIVE_PLAYLIST} `)).map((l) => {
          const [msec, , status, by = ''] = l.split(' ');
          return { at: Math.round(Number(msec) * 1000), status: Number(status), by };
        });
      },
      readyz,
      served,
      async usage(name) {
        const pid = replicas[name].process.pid;
        return { rssMiB: await rssMiB(pid), upstreamSockets: await socketsTo(pid, origin.address, RELAY_PORT) };
      },
      async fetchDirect(name, upstreamUrl) {
        const r = await request(hlsdUrl(replicas[name].base, upstreamUrl), { headersTimeout: 3000, bodyTimeout: 3000 });
        await r.body.dump();
        return r.statusCode === 200 ? String(r.headers['x-hls-sidecar-cache']) : `status ${r.statusCode}`;
      },
      async primary() {
        const r = await host('s1').exec('redis-cli', ['-h', host('s1').address, '-p', '26379', 'sentinel', 'get-master-addr-by-name', 'media'], 5000);
        return r.stdout.split('\n')[0]!.trim();
      },
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
