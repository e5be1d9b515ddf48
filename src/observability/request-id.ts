import { randomBytes } from 'node:crypto';

/**
 * Request ids for the `X-Request-Id` header and log lines: a random per-process prefix and a counter
 * (`3f9a1c0b7e21-1a`). Unique enough to correlate a viewer's report with a log line across replicas, and
 * about a tenth of the cost of a random UUID per request on the cached-playlist path. An id received from
 * a trusted front server is kept instead (router.ts).
 */
export function createRequestIds(): () => string {
  const prefix = randomBytes(6).toString('hex');
  let n = 0;
  return () => `${prefix}-${(++n).toString(36)}`;
}
