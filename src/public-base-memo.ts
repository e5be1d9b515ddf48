import type { IncomingHttpHeaders } from 'node:http';
import { lruCursor } from './cache/lru-cursor.js';
import type { Config } from './config.js';
import { FORWARDING_HEADERS, header, resolvePublicBase, type PublicBase } from './forwarded.js';

/**
 * resolvePublicBase, remembered per distinct input. Behind a front server nearly every request carries the
 * same forwarded headers (they differ per client only in X-Forwarded-For), and resolving them — parsing
 * Forwarded, validating host and prefix, walking the client chain — took about 5% of a replica's CPU behind
 * nginx (bench, Redis x2 behind the shipped templates).
 *
 * Exact, not approximate: the key holds every input the resolver reads (the peer, TLS, the echoed prefix and
 * FORWARDING_HEADERS, to which forwarded.ts's header reads are typed), and the config is fixed for the
 * resolver's life. Bounded: inputs longer than MAX_KEY (a client may send 16 KiB of headers) are resolved
 * without being remembered, and the oldest entry goes when `maxEntries` are held (about 4 MiB at most).
 * Results are frozen, since one object is handed to many requests.
 */

export interface PublicBaseInput {
  peer: string;
  headers: IncomingHttpHeaders;
  encrypted: boolean;
  echoedPrefix: string;
}

const MAX_KEY = 1024;

export function createPublicBaseResolver(
  config: Pick<Config, 'publicHost' | 'prefix' | 'trustProxy'>,
  maxEntries = 4096,
): (input: PublicBaseInput) => PublicBase {
  const memo = new Map<string, PublicBase>();
  const oldest = lruCursor(memo);
  return (input) => {
    let key = `${input.peer}\n${input.encrypted ? 's' : ''}\n${input.echoedPrefix}`;
    for (const name of FORWARDING_HEADERS) {
      // Read as the resolver reads it. '=' marks a present value, so an absent header and an empty one are
      // different keys. Header values cannot contain '\n' (Node refuses them), so the separator cannot be forged.
      const v = header(input.headers, name);
      key += v === undefined ? '\n' : `\n=${v}`;
    }
    const known = memo.get(key);
    if (known) return known;
    const base = Object.freeze(resolvePublicBase({ ...input, config }));
    if (key.length <= MAX_KEY) {
      if (memo.size >= maxEntries) memo.delete(oldest()!);
      memo.set(key, base);
    }
    return base;
  };
}
