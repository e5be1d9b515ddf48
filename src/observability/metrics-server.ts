import { createServer, type Server } from 'node:http';
import type { PlaylistCache } from '../cache/types.js';
import { serveMetrics, serveReady } from '../routes/health.js';
import { sendText } from '../routes/respond.js';
import type { Metrics } from './metrics.js';

/**
 * `--metrics-port`: /metrics and /readyz (and /healthz) on a port of their own, so a scraper or an
 * orchestrator's probe can reach them on an internal interface without going through the public front
 * server. Answers nothing else; no proxying, no CORS.
 */
export function createMetricsServer(deps: { metrics: Metrics; cache: PlaylistCache; isShuttingDown: () => boolean }): Server {
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
    if (path === '/metrics') {
      serveMetrics(res, deps.metrics.registry).catch(() => sendText(res, 500, 'internal error\n'));
      return;
    }
    if (path === '/readyz') return serveReady(res, deps.cache, deps.isShuttingDown());
    if (path === '/healthz') return sendText(res, 200, 'ok\n');
    sendText(res, 404, 'not found\n');
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}
