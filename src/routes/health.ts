import type { ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { PlaylistCache } from '../cache/types.js';
import { sendText } from './respond.js';

/** `<prefix>/healthz`: the process is up and answering (issue #2 §9). */
export function serveHealth(res: ServerResponse): void {
  sendText(res, 200, 'ok\n');
}

/**
 * `<prefix>/readyz` (issue #3 §6): Redis is an accelerator, not a dependency, so a Redis outage is
 * `degraded` with 200 (viewers are still served, straight from upstream); 503 only when the proxy cannot
 * serve at all, i.e. while it shuts down.
 */
export function serveReady(res: ServerResponse, cache: PlaylistCache, shuttingDown: boolean): void {
  if (shuttingDown) return sendText(res, 503, 'shutting down\n');
  const state = cache.state();
  sendText(res, 200, state === 'degraded' ? 'degraded\n' : 'ok\n', { 'x-hls-sidecar-cache-backend': state });
}

export async function serveMetrics(res: ServerResponse, registry: Registry): Promise<void> {
  const body = await registry.metrics();
  sendText(res, 200, body, { 'content-type': registry.contentType });
}
