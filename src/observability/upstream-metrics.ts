import { classify } from '../errors.js';
import type { Upstream } from '../upstream/client.js';
import type { Metrics } from './metrics.js';

/**
 * Counts upstream requests and failures by host around an Upstream, so every caller (playlist route,
 * stream route, prefetcher) is counted the same way and exactly once. A viewer hanging up (CLIENT_GONE) is
 * not an upstream failure; a 5xx answer is, even though it arrives as a response.
 */
export function withUpstreamMetrics(upstream: Upstream, metrics: Pick<Metrics, 'upstreamRequests' | 'upstreamErrors' | 'hostLabel'>): Upstream {
  const host = (url: string): string =>
    metrics.hostLabel((/^https?:\/\/(?:[^@/?#]*@)?([^/?#:]+|\[[^\]]*\])/i.exec(url)?.[1] ?? '').toLowerCase());
  const failed = (url: string, err: unknown): void => {
    const code = classify(err).code;
    if (code !== 'CLIENT_GONE') metrics.upstreamErrors.inc({ host: host(url), code });
  };
  return {
    ...upstream,
    async open(url, init) {
      metrics.upstreamRequests.inc({ host: host(url), type: 'media' });
      try {
        const res = await upstream.open(url, init);
        if (res.status >= 500) metrics.upstreamErrors.inc({ host: host(url), code: 'UPSTREAM_STATUS' });
        return res;
      } catch (err) {
        failed(url, err);
        throw err;
      }
    },
    async fetchPlaylist(url, init) {
      metrics.upstreamRequests.inc({ host: host(url), type: 'playlist' });
      try {
        return await upstream.fetchPlaylist(url, init);
      } catch (err) {
        failed(url, err);
        throw err;
      }
    },
  };
}
