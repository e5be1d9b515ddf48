import { performance } from 'node:perf_hooks';
import { Redis, type RedisOptions } from 'ioredis';
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
  client: Redis;
  /** Separate connection in subscriber mode (RESP2 allows only (P)SUBSCRIBE there). */
  subscriber: Redis;
  /** Whether a command may be sent now; false while disconnected or cooling down after a failure. */
  available(): boolean;
  succeeded(): void;
  failed(err: unknown): void;
  state(): 'ok' | 'degraded';
  close(): Promise<void>;
}

const RECONNECT_CAP_MS = 1000;

/** redis://, rediss:// (ioredis parses them), and redis+sentinel://[:pass@]h1:p1,h2:p2/masterName[/db]. */
export function redisOptionsFor(url: string): { url?: string; options: RedisOptions } {
  if (!/^redis\+sentinel:/i.test(url)) return { url, options: {} };
  const m = /^redis\+sentinel:\/\/(?:([^@/]*)@)?([^/?#]+)\/([^/?#]+)(?:\/(\d+))?\/?$/i.exec(url);
  if (!m) throw new ConfigError('redis', 'expected redis+sentinel://[:password@]host:port[,host:port]/masterName[/db]');
  const [, auth, hosts, name, db] = m;
  const sentinels = hosts!.split(',').map((hp) => {
    const i = hp.endsWith(']') ? -1 : hp.lastIndexOf(':');
    return i > 0 ? { host: hp.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hp.slice(i + 1)) } : { host: hp, port: 26379 };
  });
  const options: RedisOptions = { sentinels, name: decodeURIComponent(name!) };
  if (auth) {
    const colon = auth.indexOf(':');
    const password = decodeURIComponent(colon >= 0 ? auth.slice(colon + 1) : auth);
    // One password for the sentinels and the master, as most deployments configure it.
    options.password = password;
    options.sentinelPassword = password;
  }
  if (db !== undefined) options.db = Number(db);
  return { options };
}

export function connectRedis(
  url: string,
  timeoutMs: number,
  deps: { logger: CacheLogger; onError: () => void },
): RedisLink {
  const { url: plainUrl, options } = redisOptionsFor(url);
  const base: RedisOptions = {
    ...options,
    enableOfflineQueue: false,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    // A command that was on the wire when the connection dropped has already failed for its caller.
    autoResendUnfulfilledCommands: false,
    connectTimeout: Math.max(1000, 4 * timeoutMs),
    // close() should not hold the process open for ioredis' default 2 s on a dead socket.
    disconnectTimeout: Math.max(100, 2 * timeoutMs),
    retryStrategy: (attempt: number) => Math.min(RECONNECT_CAP_MS, 50 * 2 ** Math.min(attempt, 10)),
  };
  const client = plainUrl !== undefined ? new Redis(plainUrl, base) : new Redis(base);
  // The subscriber only ever sends SUBSCRIBE: queueing it until connected is harmless, and ioredis
  // re-subscribes by itself after a reconnect.
  const subscriber = client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined });

  const cooldownMs = Math.max(1000, 4 * timeoutMs);
  let current: 'init' | 'ok' | 'degraded' = 'init';
  let skipUntil = 0;
  let closing = false;

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
      setState('ok', 'command succeeded');
    },
    failed(err) {
      if (closing) return;
      deps.onError();
      skipUntil = performance.now() + cooldownMs;
      setState('degraded', err);
    },
    state: () => (current === 'ok' ? 'ok' : 'degraded'),
    async close() {
      closing = true;
      client.disconnect();
      subscriber.disconnect();
    },
  };
}
