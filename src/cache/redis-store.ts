import { createHash, randomUUID } from 'node:crypto';
import type { CacheConfig } from '../config.js';
import { decodeRecord, encodeRecord } from './record-codec.js';
import { connectRedis, type RedisLink } from './redis-connection.js';
import type { Claim, PlaylistStore } from './store.js';
import type { CacheLogger } from './types.js';

/**
 * The shared backend. Per key: `<prefix>{<hash>}:e` holds the record with PX = freshness + stale window,
 * `<prefix>{<hash>}:l` is the fetch lock (SET NX PX, so a crashed holder frees it by expiry). Both share a
 * hash tag, so they live in one slot on a Redis Cluster. Writers announce the hash on `<prefix>filled`;
 * waiters also poll, so a lost message costs one poll interval, not the coalesce timeout.
 *
 * Keys are hashes of the cache key: upstream URLs may carry tokens, and Redis key listings should not.
 */

const RELEASE_LOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

const NOT_LEADING: Omit<Claim, 'record'> = { leader: false, release: async () => undefined };

export function createRedisStore(cfg: CacheConfig, deps: { logger: CacheLogger; onError: () => void }): PlaylistStore {
  const link: RedisLink = connectRedis(cfg.redisUrl!, cfg.redisTimeoutMs, deps);
  const { client, subscriber } = link;
  const channel = `${cfg.redisKeyPrefix}filled`;
  const waiters = new Map<string, Set<() => void>>();

  const hashOf = (key: string): string => createHash('sha256').update(key).digest('base64url');
  const entryKey = (hash: string): string => `${cfg.redisKeyPrefix}{${hash}}:e`;
  const lockKey = (hash: string): string => `${cfg.redisKeyPrefix}{${hash}}:l`;

  subscriber.on('message', (ch: string, hash: string) => {
    if (ch !== channel) return;
    const set = waiters.get(hash);
    if (set) for (const wake of [...set]) wake();
  });
  subscriber.subscribe(channel).catch(() => undefined);

  /** Runs Redis commands when Redis is usable; any failure → undefined and the link goes degraded. */
  async function guarded<T>(run: () => Promise<T>): Promise<T | undefined> {
    if (!link.available()) return undefined;
    try {
      const value = await run();
      link.succeeded();
      return value;
    } catch (err) {
      link.failed(err);
      return undefined;
    }
  }

  return {
    async read(key) {
      const text = await guarded(() => client.get(entryKey(hashOf(key))));
      return text === undefined ? undefined : decodeRecord(text);
    },

    async write(key, record, keepMs) {
      if (keepMs <= 0) return;
      const hash = hashOf(key);
      const px = Math.max(1, Math.ceil(keepMs));
      // Same connection, so Redis runs SET before PUBLISH: a woken waiter finds the record.
      await guarded(() => Promise.all([client.set(entryKey(hash), encodeRecord(record), 'PX', px), client.publish(channel, hash)]));
    },

    async claim(key, lockMs) {
      const hash = hashOf(key);
      const token = randomUUID();
      // SET NX before GET on one connection: if the lock was free because its holder just finished, the
      // holder's record (written before its release) is what the GET returns.
      const answer = await guarded(() =>
        Promise.all([client.set(lockKey(hash), token, 'PX', Math.max(1, lockMs), 'NX'), client.get(entryKey(hash))]),
      );
      if (!answer) return undefined;
      const [locked, text] = answer;
      const record = decodeRecord(text);
      if (locked !== 'OK') return { ...NOT_LEADING, record };
      let released = false;
      return {
        leader: true,
        record,
        async release() {
          if (released) return;
          released = true;
          await guarded(() => client.eval(RELEASE_LOCK, 1, lockKey(hash), token));
        },
      };
    },

    waitForFill(key, ms) {
      const hash = hashOf(key);
      return new Promise<void>((resolve) => {
        let set = waiters.get(hash);
        if (!set) waiters.set(hash, (set = new Set()));
        const wake = (): void => {
          clearTimeout(timer);
          set!.delete(wake);
          if (set!.size === 0 && waiters.get(hash) === set) waiters.delete(hash);
          resolve();
        };
        const timer = setTimeout(wake, Math.max(1, ms));
        set.add(wake);
      });
    },

    state: () => link.state(),

    async close() {
      for (const set of [...waiters.values()]) for (const wake of [...set]) wake();
      await link.close();
    },
  };
}
