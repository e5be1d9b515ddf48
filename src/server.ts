import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createPlaylistCache } from './cache/create-cache.js';
import type { PlaylistCache } from './cache/types.js';
import type { Config } from './config.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import { createRenderer } from './routes/render-playlist.js';
import { createHandler } from './routes/router.js';
import { createSigner } from './signing.js';
import { createUpstream, type EgressGuard, type Upstream } from './upstream/client.js';

/**
 * Builds the proxy from a Config: upstream client, cache, renderer, handler, and the http(s) server with
 * its own limits. Everything is created here and passed down; nothing is global, so tests can run several
 * proxies in one process.
 */

export interface App {
  server: Server;
  cache: PlaylistCache;
  logger: Logger;
  listen(): Promise<AddressInfo>;
  /** Graceful: stop accepting, let in-flight requests finish up to shutdownTimeoutMs, then close the rest. */
  close(): Promise<void>;
}

export interface AppOverrides {
  logger?: Logger;
  upstream?: Upstream;
  cache?: PlaylistCache;
  guard?: EgressGuard;
  clock?: () => number;
}

export function createApp(config: Config, overrides: AppOverrides = {}): App {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const clock = overrides.clock ?? Date.now;
  const upstream = overrides.upstream ?? createUpstream(config, overrides.guard ? { guard: overrides.guard } : {});
  const cache = overrides.cache ?? createPlaylistCache(config.cache, { logger, clock });
  const signer = config.security.signKeys.length
    ? createSigner(config.security.signKeys, config.security.signTtlSec, clock)
    : undefined;
  const renderer = createRenderer(config, { signer });
  const metrics = createMetrics(cache);
  let shuttingDown = false;

  const handler = createHandler({ config, upstream, cache, renderer, logger, metrics, clock, isShuttingDown: () => shuttingDown });
  const serverOptions = {
    maxHeaderSize: config.limits.headerBytes,
    // Slow-loris: a client gets this long to send its headers, then the socket is closed (issue #5 §4).
    headersTimeout: 10_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 5_000,
  };
  const server: Server = config.tls
    ? createHttpsServer({ ...serverOptions, cert: config.tls.cert, key: config.tls.key, passphrase: config.tls.passphrase }, handler)
    : createHttpServer(serverOptions, handler);
  // Never crash on a malformed request: answer 400 (431 for oversized headers) and close.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  return {
    server,
    cache,
    logger,
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: config.port, host: config.bind || undefined }, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    async close() {
      shuttingDown = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
      await closed;
      clearTimeout(timer);
      await Promise.allSettled([cache.close(), upstream.close()]);
    },
  };
}
