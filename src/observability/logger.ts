import { pino, type Logger, type DestinationStream } from 'pino';
import type { Config } from '../config.js';

export type { Logger };

/**
 * Structured JSON logs (pino). Tokens, keys and passwords are never logged in full: the paths below are
 * redacted, and request logs carry the upstream host and only the two ends of the token path, never the
 * URL or the query (issue #7 §3).
 */
export function createLogger(level: Config['logLevel'], destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'hls-sidecar' },
    redact: {
      paths: [
        'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-hls-sidecar-password"]',
        'headers.authorization', 'headers.cookie', 'password', 'signKey', 'signKeys', 'token',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** First and last few characters of a secret-bearing string, for correlating log lines without leaking it. */
export function abbreviate(value: string, keep = 6): string {
  return value.length <= keep * 2 + 3 ? value : `${value.slice(0, keep)}…${value.slice(-keep)}`;
}
