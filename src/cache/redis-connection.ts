import { performance } from 'node:perf_hooks';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { ConfigError } from '../config.js';
import type { CacheLogger } from './types.js';

/**
 * The Redis connections of one cache and their health. Redis is an accelerator, never a dependency
 * (ARCHITECTURE.md "Failure stance"): every command is bounded by redisTimeoutMs, commands are never
 * queued while disconnected, the client reconnects by itself with a capped backoff, and after a failure
 * the cache stops asking Redis for a cool-down (one probe per cool-down) instead of paying the timeout on
 * every request.
 */

export interface RedisLink {
  /** A single node (redis://, rediss://, redis+sentinel://) or a Redis Cluster (redis+cluster://). */
  client: Redis | Cluster;
  /** Separate connection in subscriber mode (RESP2 allows only (P)SUBSCRIBE there). */
  subscriber: Redis | Cluster;
  /** Whether a command may be sent now; false while disconnected or cooling down after a failure. */
  available(): boolean;
  succeeded(): void;
  failed(err: unknown): void;
  state(): 'ok' | 'degraded';
  close(): Promise<void>;
}

const RECONNECT_CAP_MS = 1000;

/** `h1:p1,h2:p2` (IPv6 as `[::1]:p`) → host/port pairs; a missing port is defaultPort. */
function parseHosts(hosts: string, defaultPort: number): Array<{ host: string; port: number }> {
  return hosts.split(',').map((hp) => {
    const i = hp.endsWith(']') ? -1 : hp.lastIndexOf(':');
    return i > 0 ? { host: hp.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hp.slice(i + 1)) } : { host: hp.replace(/^\[|\]$/g, ''), port: defaultPort };
  });
}

/** `[user:]password` of a URL's userinfo, percent-decoded (RFC 3986 §3.2.1). */
function parseAuth(auth: string): { username?: string; password: string } {
  const colon = auth.indexOf(':');
  const password = decodeURIComponent(colon >= 0 ? auth.slice(colon + 1) : auth);
  const username = colon > 0 ? decodeURIComponent(auth.slice(0, colon)) : undefined;
  return username !== undefined ? { username, password } : { password };
}

/** redis://, rediss:// (ioredis parses them), and redis+sentinel://[:pass@]h1:p1,h2:p2/masterName[/db]. */
export function redisOptionsFor(url: string): { url?: string; options: RedisOptions } {
  if (!/^redis\+sentinel:/i.test(url)) return { url, options: {} };
  const m = /^redis\+sentinel:\/\/(?:([^@/]*)@)?([^/?#]+)\/([^/?#]+)(?:\/(\d+))?\/?$/i.exec(url);
  if (!m) throw new ConfigError('redis', 'expected redis+sentinel://[:password@]host:port[,host:port]/masterName[/db]');
  const [, auth, hosts, name, db] = m;
  const options: RedisOptions = {
    sentinels: parseHosts(hosts!, 26379),
    name: decodeURIComponent(name!),
    // Reconnect as soon as a Sentinel announces +switch-master, instead of waiting for the old primary's
    // socket to fail: a primary cut off from the network never closes it (issue #15, Sentinel failover).
    failoverDetector: true,
    // Sentinel's own commands are bounded too: one blackholed Sentinel must not stall the lookup.
    sentinelCommandTimeout: 1000,
  };
  if (auth) {
    // One password for the sentinels and the master, as most deployments configure it.
    options.password = parseAuth(auth).password;
    options.sentinelPassword = options.password;
  }
  if (db !== undefined) options.db = Number(db);
  return { options };
}

/**
 * redis+cluster://[[user]:password@]h1:p1,h2:p2[,...] and rediss+cluster:// (TLS to every node): the seed
 * nodes of a Redis Cluster; ioredis discovers the rest with CLUSTER SLOTS. undefined for any other scheme.
 * A cluster has only database 0, so no /db path is accepted.
 */
export function clusterOptionsFor(
  url: string,
): { nodes: Array<{ host: string; port: number }>; redisOptions: RedisOptions } | undefined {
  const scheme = /^(rediss?)\+cluster:/i.exec(url);
  if (!scheme) return undefined;
  const m = /^rediss?\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+?)(?:\/0?)?$/i.exec(url);
  if (!m) throw new ConfigError('redis', 'expected redis+cluster://[:password@]host:port[,host:port]');
  const [, auth, hosts] = m;
  const nodes = parseHosts(hosts!, 6379);
  if (nodes.some((n) => !n.host || !Number.isInteger(n.port) || n.port < 1 || n.port > 65535)) {
    throw new ConfigError('redis', 'expected redis+cluster://[:password@]host:port[,host:port]');
  }
  const redisOptions: RedisOptions = auth ? parseAuth(auth) : {};
  if (scheme[1]!.toLowerCase() === 'rediss') redisOptions.tls = {};
  return { nodes, redisOptions };
}

const isTimeout = (err: unknown): boolean => err instanceof Error && /timed? ?out/i.test(err.message);

export function connectRedis(
  url: string,
  timeoutMs: number,
  deps: { logger: CacheLogger; onError: () => void },
): RedisLink {
  const retryStrategy = (attempt: number): number => Math.min(RECONNECT_CAP_MS, 50 * 2 ** Math.min(attempt, 10));
  const safety: RedisOptions = {
    enableOfflineQueue: false,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    // A command that was on the wire when the connection dropped has already failed for its caller.
    autoResendUnfulfilledCommands: false,
    connectTimeout: Math.max(1000, 4 * timeoutMs),
    // close() should not hold the process open for ioredis' default 2 s on a dead socket.
    disconnectTimeout: Math.max(100, 2 * timeoutMs),
    retryStrategy,
    // A demoted primary answers writes with READONLY: reconnect (through Sentinel, to the new primary).
    reconnectOnError: (err: Error) => err.message.startsWith('READONLY'),
  };
  let client: Redis | Cluster;
  let subscriber: Redis | Cluster;
  const cluster = clusterOptionsFor(url);
  if (cluster) {
    const { enableOfflineQueue: _offline, retryStrategy: _retry, ...perNode } = safety;
    const clusterOptions: ClusterOptions = {
      // No queue while the cluster is not ready: the caller goes upstream instead of waiting.
      enableOfflineQueue: false,
      clusterRetryStrategy: retryStrategy,
      slotsRefreshTimeout: Math.max(1000, 4 * timeoutMs),
      // Per-node connections: ioredis opens them lazily and needs their offline queue to send the first
      // command while the socket connects; commandTimeout still bounds that wait. Nodes do not reconnect
      // by themselves — a lost node is replaced after the next slots refresh (MOVED / clusterRetryStrategy).
      redisOptions: { ...perNode, ...cluster.redisOptions },
    };
    client = new Cluster(cluster.nodes, clusterOptions);
    // Subscriber: SUBSCRIBE may wait for the connection; classic PUBLISH is broadcast to every node of a
    // cluster, so one subscription on any node hears every replica's announcements.
    subscriber = new Cluster(cluster.nodes, {
      ...clusterOptions,
      enableOfflineQueue: true,
      redisOptions: { ...clusterOptions.redisOptions, commandTimeout: undefined, maxRetriesPerRequest: null },
    });
  } else {
    const { url: plainUrl, options } = redisOptionsFor(url);
    const base: RedisOptions = { ...options, ...safety };
    const single = plainUrl !== undefined ? new Redis(plainUrl, base) : new Redis(base);
    client = single;
    // The subscriber only ever sends SUBSCRIBE: queueing it until connected is harmless, and ioredis
    // re-subscribes by itself after a reconnect.
    subscriber = single.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined });
  }

  const cooldownMs = Math.max(1000, 4 * timeoutMs);
  let current: 'init' | 'ok' | 'degraded' = 'init';
  let skipUntil = 0;
  let closing = false;
  let timeoutsInARow = 0;
  let lastTimeoutAt = Number.NEGATIVE_INFINITY;

  const setState = (next: 'ok' | 'degraded', reason: unknown): void => {
    if (current === next || closing) return;
    current = next;
    const detail = reason instanceof Error ? reason.message : String(reason);
    if (next === 'ok') deps.logger.info({ cache: 'redis', state: next }, 'redis cache available; playlists shared across replicas');
    else deps.logger.warn({ cache: 'redis', state: next, reason: detail }, 'redis cache degraded; playlists fetched straight upstream');
  };

  client.on('ready', () => {
    skipUntil = 0;
    setState('ok', 'ready');
  });
  client.on('close', () => setState('degraded', 'connection closed'));
  // Without a listener ioredis prints every reconnect failure; the state change above is the one log line.
  client.on('error', (err: unknown) => {
    if (current === 'init') setState('degraded', err);
  });
  subscriber.on('error', () => undefined);

  return {
    client,
    subscriber,
    available() {
      if (closing || client.status !== 'ready') return false;
      const now = performance.now();
      if (now < skipUntil) return false;
      // Half-open: let this one command probe, hold the others back for another cool-down.
      if (current === 'degraded') skipUntil = now + cooldownMs;
      return true;
    },
    succeeded() {
      skipUntil = 0;
      timeoutsInARow = 0;
      setState('ok', 'command succeeded');
    },
    failed(err) {
      if (closing) return;
      deps.onError();
      skipUntil = performance.now() + cooldownMs;
      setState('degraded', err);
      // A blackholed server never closes the socket, so ioredis never reconnects by itself and a Sentinel
      // client never learns of a new primary (issue #15). Two timeouts in a row (the second is the
      // half-open probe one cool-down later): drop the connection and connect afresh.
      // Commands that time out together are one observation.
      if (!isTimeout(err)) timeoutsInARow = 0;
      else if (performance.now() - lastTimeoutAt > timeoutMs) timeoutsInARow++;
      if (isTimeout(err)) lastTimeoutAt = performance.now();
      if (timeoutsInARow >= 2 && !cluster) {
        timeoutsInARow = 0;
        // info: the outage itself was the one warning (setState above).
        deps.logger.info({ cache: 'redis' }, 'redis commands time out on an open connection; reconnecting');
        (client as Redis).disconnect(true);
      }
    },
    state: () => (current === 'ok' ? 'ok' : 'degraded'),
    async close() {
      closing = true;
      client.disconnect();
      subscriber.disconnect();
    },
  };
}
