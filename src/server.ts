import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createPlaylistCache } from './cache/create-cache.js';
import { createSegmentCache } from './cache/segment-cache.js';
import type { PlaylistCache } from './cache/types.js';
import type { Config } from './config.js';
import { createHookRunner, loadHooks, type HlsdHooks, type HookRunner } from './hooks.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import { createMetricsServer } from './observability/metrics-server.js';
import { withUpstreamMetrics } from './observability/upstream-metrics.js';
import { createPrefetcher, type PrefetchLimits, type Prefetcher } from './prefetch/prefetcher.js';
import { createPlayerAssets } from './routes/player.js';
import { createRenderer } from './routes/render-playlist.js';
import { createRenderPool, type WorkerSpawner } from './routes/render-pool.js';
import { createHandler } from './routes/router.js';
import { aclSigningKey, createAccessControl } from './security/access.js';
import { createEgressPolicy } from './security/egress-policy.js';
import { createEgressGuard, createPinnedLookup, systemResolver, type HostResolver } from './security/pinned-lookup.js';
import { createSigner } from './signing.js';
import { createUpstream, type EgressGuard, type Upstream } from './upstream/client.js';
import { reqOptionHeaders, withHeaders } from './upstream/with-headers.js';

/**
 * Builds the proxy from a Config: upstream client, cache, renderer, handler, and the http(s) server with
 * its own limits. Everything is created here and passed down; nothing is global, so tests can run several
 * proxies in one process.
 */

export interface App {
  server: Server;
  cache: PlaylistCache;
  logger: Logger;
  /** hlsd --prefetch store and planner; undefined when off. */
  prefetch: Prefetcher | undefined;
  hooks: HookRunner;
  /** hlsd hooks the --hooks module exports that are not supported (known after listen()). */
  unsupportedHooks(): string[];
  /** --metrics-port server's address once listening. */
  metricsAddress(): AddressInfo | undefined;
  /** The big-playlist render worker (render-pool.ts), started and warmed by listen() unless hooks keep
   * every rewrite on the main thread. `warmed` resolves true once it has rewritten its sample playlist,
   * and `warm()` says so synchronously. */
  renderWorker: { warmed: Promise<boolean>; warm(): boolean; running(): boolean; jobs(): number };
  /** Loads --hooks (a bad module rejects here), warms the render worker (at most WARM_WAIT_MS), then
   * listens, then the --metrics-port server. */
  listen(): Promise<AddressInfo>;
  /** Graceful: stop accepting, let in-flight requests finish up to shutdownTimeoutMs, then close the rest. */
  close(): Promise<void>;
}

export interface AppOverrides {
  logger?: Logger;
  upstream?: Upstream;
  cache?: PlaylistCache;
  guard?: EgressGuard;
  /** DNS for upstream sockets (the egress policy judges its answers); default: the system resolver. */
  resolveHost?: HostResolver;
  /** Server-side request timeouts, so tests can show slow-loris handling without waiting 10 s. */
  serverTimeouts?: { headersMs: number; requestMs: number; checkIntervalMs: number };
  clock?: () => number;
  /** hlsd hooks given directly instead of loading config.hooksModule. */
  hooks?: HlsdHooks;
  /** Directory a relative --hooks path is resolved from; default: the process's working directory. */
  cwd?: string;
  prefetchLimits?: Partial<PrefetchLimits>;
  /** Starts the render worker (tests run TypeScript sources and load it through tsx). */
  renderWorker?: WorkerSpawner;
}

/**
 * How long listen() waits for the render worker's warm-up before it opens the port anyway. Issue #16 §3
 * wants the first cold 100k-segment playlist within 150 ms like the others, and a request that arrives
 * while the worker is still starting cannot be: on the 2-core bench machine a worker thread takes 110-280 ms
 * to boot before loading any module of ours, and its first rewrite before V8 has optimised it took
 * ~110 ms against ~30 (bench/cold-big-playlist.ts, trace of one start-up: port open at +0, worker module
 * loaded at +170 ms, first playlist rewritten at +330 ms; 410-700 ms for that first request in all). So
 * the port opens once the worker is warm: a replica that is not listening yet is one the front server
 * does not send viewers to, which is what it is until then. The bound keeps a stalled worker (or a very
 * slow machine) from holding start-up: past it the port opens and the warm-up goes on behind it.
 */
export const WARM_WAIT_MS = 3000;

export function createApp(config: Config, overrides: AppOverrides = {}): App {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const clock = overrides.clock ?? Date.now;
  // Issue #5: every upstream URL and every resolved address goes through the egress policy.
  const policy = createEgressPolicy(config.security);
  const resolveHost = overrides.resolveHost ?? systemResolver;
  const baseUpstream =
    overrides.upstream ??
    createUpstream(config, {
      guard: overrides.guard ?? createEgressGuard(policy),
      lookupFor: (origin) => createPinnedLookup(policy, origin, resolveHost),
    });
  const cache = overrides.cache ?? createPlaylistCache(config.cache, { logger, clock });
  // hlsd --hooks: loaded once, before listening (listen() awaits it); the runner is wired in now.
  const hooks = createHookRunner(logger);
  const unsupported: string[] = [];
  const hooksReady: Promise<void> = overrides.hooks
    ? Promise.resolve(hooks.install(overrides.hooks))
    : config.hooksModule
      ? loadHooks(config.hooksModule, overrides.cwd ?? process.cwd()).then((loaded) => {
          hooks.install(loaded.hooks);
          unsupported.push(...loaded.unsupported);
        })
      : Promise.resolve();
  hooksReady.catch(() => undefined); // reported by listen(); never an unhandled rejection
  const hasHooks = !!(overrides.hooks || config.hooksModule);
  let prefetch: Prefetcher | undefined;
  const metrics = createMetrics(cache, config.prefetch.enabled ? { prefetch: () => prefetch!.stats() } : {});
  const upstream = withUpstreamMetrics(
    withHeaders(baseUpstream, {
      base: reqOptionHeaders(config.upstreamTls.options),
      ...(hasHooks ? { top: (url: string, isPlaylist: boolean) => hooks.requestHeaders(url, isPlaylist) } : {}),
    }),
    metrics,
  );
  prefetch = config.prefetch.enabled
    ? createPrefetcher({
        config,
        upstream,
        hooks,
        clock,
        log: logger,
        onEvent: (event) => metrics.prefetchEvents.inc({ event }),
        ...(overrides.prefetchLimits ? { limits: overrides.prefetchLimits } : {}),
      })
    : undefined;
  let metricsServer: Server | undefined;
  // --acl-pass without --sign-key still signs the URLs it writes (with a key derived from the passwords),
  // so a viewer's segment requests carry their authorisation instead of the password.
  const signKeys = config.security.signKeys.length
    ? config.security.signKeys
    : config.security.aclPass.length
      ? [aclSigningKey(config.security.aclPass)]
      : [];
  const signer = signKeys.length ? createSigner(signKeys, config.security.signTtlSec, clock) : undefined;
  const access = createAccessControl(config.security, { signer, policy });
  const pool = createRenderPool(
    {
      extOptions: { manifestExtension: config.manifestExtension, segmentExtension: config.segmentExtension },
      signKeys,
      signTtlSec: config.security.signTtlSec,
    },
    ...(overrides.renderWorker ? [overrides.renderWorker] : []),
  );
  // Said once, whether the worker fails while warming up or later with a playlist.
  let poolErrorLogged = false;
  const onPoolError = (err: unknown) => {
    if (poolErrorLogged) return;
    poolErrorLogged = true;
    logger.warn({ err }, 'render worker unavailable; rewriting big playlists on the main thread');
  };
  let warmed: Promise<boolean> = Promise.resolve(false);
  let warm = false;
  const renderer = createRenderer(config, { signer, pool, onPoolError, ...(hasHooks ? { hooks } : {}) });
  let shuttingDown = false;
  const segmentCache = config.segmentCache.maxBytes > 0 ? createSegmentCache({ maxBytes: config.segmentCache.maxBytes, clock }) : undefined;

  const handle = createHandler({
    config, upstream, cache, renderer, access, logger, metrics, clock, isShuttingDown: () => shuttingDown,
    ...(hasHooks ? { hooks } : {}), prefetch, segmentCache, assets: createPlayerAssets(),
  });
  // Draining (close()): a keep-alive connection must not outlive its last response, or the process waits
  // keepAliveTimeout per idle client before it can exit. RFC 9112 §9.6: a server that is closing sends
  // `Connection: close` and then closes; a response already under way with keep-alive headers gets its
  // connection ended (FIN after the written data) once it finishes.
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (shuttingDown) res.shouldKeepAlive = false;
    else res.once('finish', () => { if (shuttingDown) req.socket.end(); });
    handle(req, res);
  };
  const serverOptions = {
    maxHeaderSize: config.limits.headerBytes,
    // Slow-loris: a client gets this long to send its headers, then the socket is closed (issue #5 §4).
    headersTimeout: overrides.serverTimeouts?.headersMs ?? 10_000,
    requestTimeout: overrides.serverTimeouts?.requestMs ?? 30_000,
    ...(overrides.serverTimeouts ? { connectionsCheckingInterval: overrides.serverTimeouts.checkIntervalMs } : {}),
    keepAliveTimeout: 5_000,
  };
  const server: Server = config.tls
    ? createHttpsServer({ ...serverOptions, cert: config.tls.cert, key: config.tls.key, passphrase: config.tls.passphrase }, handler)
    : createHttpServer(serverOptions, handler);
  // Never crash on a malformed request: answer 400 (431 for oversized headers) and close.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' // headersTimeout / requestTimeout (slow-loris), RFC 9110 §15.5.9
          ? '408 Request Timeout'
          : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  return {
    server,
    cache,
    logger,
    prefetch,
    hooks,
    unsupportedHooks: () => [...unsupported],
    metricsAddress: () => (metricsServer?.address() as AddressInfo | null) ?? undefined,
    renderWorker: {
      get warmed() {
        return warmed;
      },
      warm: () => warm,
      running: () => pool.running(),
      jobs: () => pool.jobs(),
    },
    async listen() {
      await hooksReady;
      // Warmed before the port opens (WARM_WAIT_MS says why); with hooks every rewrite stays on the main
      // thread, so there is nothing to warm.
      if (!hasHooks) {
        warmed = pool.warm().then(
          (ok) => {
            warm = ok;
            if (ok) logger.debug('render worker warm');
            return ok;
          },
          (err: unknown) => {
            onPoolError(err);
            return false;
          },
        );
      }
      if (!hasHooks) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([warmed, new Promise<void>((resolve) => (timer = setTimeout(resolve, WARM_WAIT_MS)))]);
        clearTimeout(timer);
      }
      const bind = (srv: Server, port: number): Promise<AddressInfo> =>
        new Promise((resolve, reject) => {
          srv.once('error', reject);
          srv.listen({ port, host: config.bind || undefined }, () => {
            srv.off('error', reject);
            resolve(srv.address() as AddressInfo);
          });
        });
      const address = await bind(server, config.port);
      if (config.metricsPort > 0) {
        metricsServer = createMetricsServer({ metrics, cache, isShuttingDown: () => shuttingDown });
        await bind(metricsServer, config.metricsPort);
      }
      return address;
    },
    async close() {
      shuttingDown = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
      await closed;
      clearTimeout(timer);
      prefetch?.close();
      segmentCache?.close();
      const metricsClosed = metricsServer
        ? new Promise<void>((resolve) => {
            metricsServer!.close(() => resolve());
            metricsServer!.closeAllConnections();
          })
        : undefined;
      await Promise.allSettled([cache.close(), upstream.close(), metricsClosed, pool.close()]);
    },
  };
}
