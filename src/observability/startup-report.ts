import type { CacheState } from '../cache/types.js';
import type { Config } from '../config.js';
import { ignoredRequestOptions } from '../upstream/tls-options.js';

/**
 * What the start-up banner says (issue #7): where the proxy listens, the public base it writes, the cache
 * backend and its state, where it may fetch from and how, and a warning for every risky setting. Pure, so
 * the wording is tested without starting a process. Secrets never appear: keys and passwords are counted,
 * header values are left out (only names), URLs lose their userinfo and Redis URLs their password.
 */

export interface StartupFacts {
  /** `http(s)://address:port` the server listens on. */
  listen: string;
  /** `http://address:port` of --metrics-port, when on. */
  metricsListen?: string | undefined;
  cacheState: CacheState;
  hooks: readonly string[];
  unsupportedHooks: readonly string[];
}

export interface StartupReport {
  message: string;
  fields: Record<string, unknown>;
  warnings: string[];
}

/** userinfo (RFC 3986 §3.2.1) replaced, so `redis://:pass@host` or `http://user:pass@proxy` never reaches a log. */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1***@');
}

const OPEN_TRUST = new Set(['all', '0.0.0.0/0', '::/0']);

export function startupReport(config: Config, facts: StartupFacts): StartupReport {
  const warnings: string[] = [];
  const sec = config.security;
  const reqOptions = config.upstreamTls.options;
  const publicBase = config.publicHost
    ? `${config.publicHost.proto}://${config.publicHost.authority}${config.prefix ?? ''}`
    : `from trusted forwarded headers, else the request Host${config.prefix === undefined ? ' and path' : ''}`;

  const fields: Record<string, unknown> = {
    listen: facts.listen,
    tls: config.tls ? 'on (serving HTTPS)' : 'off',
    publicBase,
    prefix: config.prefix ?? '(echoed from the request path)',
    trustProxy: config.trustProxy.source,
    cache: config.cache.redisUrl
      ? { backend: 'redis', url: withoutCredentials(config.cache.redisUrl), state: facts.cacheState }
      : { backend: 'memory', state: facts.cacheState, maxEntries: config.cache.maxEntries },
    egress: {
      allow: sec.allowUpstream.length ? sec.allowUpstream : 'any host (loopback, link-local, metadata and reserved addresses refused)',
      deny: sec.denyUpstream,
      via: config.httpProxy ? withoutCredentials(config.httpProxy) : 'direct',
      tls: !config.upstreamTls.rejectUnauthorized || reqOptions.rejectUnauthorized === false
        ? 'certificates NOT verified'
        : reqOptions.ca !== undefined ? 'verified against --req-options ca' : 'verified',
      headers: Object.keys(config.upstreamHeaders.fixed),
    },
    access: {
      signedUrls: sec.signKeys.length ? `${sec.signKeys.length} key(s), ttl ${sec.signTtlSec || 'none'}` : 'off',
      requireSignature: sec.requireSignature,
      aclIp: sec.aclIp ? sec.aclIp.source : 'off',
      aclPass: sec.aclPass.length ? `${sec.aclPass.length} password(s)` : 'off',
    },
    segmentCache: config.segmentCache.maxBytes > 0 ? `${Math.round(config.segmentCache.maxBytes / 2 ** 20)} MiB` : 'off',
    prefetch: config.prefetch.enabled
      ? { maxSegments: config.prefetch.maxSegments, cacheTimeoutSec: config.prefetch.timeoutSec }
      : 'off',
    hooks: facts.hooks.length ? facts.hooks : 'none',
    metrics: facts.metricsListen ? `${facts.metricsListen}/metrics` : 'on the main port only',
    logLevel: config.logLevel,
  };

  if (sec.allowUpstream.length === 0) {
    // With an allow list the egress rules bound what can be fetched; without one, only client access control does.
    const open = sec.signKeys.length === 0 && !sec.aclIp && sec.aclPass.length === 0;
    warnings.push(
      'no --allow-upstream rule: every upstream but loopback, link-local and cloud metadata (private networks included) may be proxied; set --allow-upstream in production' +
        (open ? ' (and with no --sign-key, --acl-ip or --acl-pass, anyone who reaches this port can use it as a proxy)' : ''),
    );
  }
  if (!config.upstreamTls.rejectUnauthorized) warnings.push('--req-insecure: upstream TLS certificates are not verified (upstream client only)');
  else if (reqOptions.rejectUnauthorized === false) warnings.push('--req-options sets rejectUnauthorized: false: upstream TLS certificates are not verified');
  if (config.trustProxy.source.some((s) => OPEN_TRUST.has(s))) {
    warnings.push('--trust-proxy trusts every peer: any client can set the host written into playlists and its own client address');
  }
  if (config.upstreamHeaders.forwardCookies || config.upstreamHeaders.forwardAuthorization) {
    const what = [config.upstreamHeaders.forwardCookies && 'cookies', config.upstreamHeaders.forwardAuthorization && 'Authorization'].filter(Boolean).join(' and ');
    warnings.push(`viewers' ${what} are forwarded upstream${sec.allowUpstream.length ? '' : ' to any upstream: restrict with --allow-upstream'}`);
  }
  if (config.httpProxy && /^http:\/\/[^/]*@/i.test(config.httpProxy)) {
    warnings.push('--http-proxy credentials travel in clear text (http:// proxy URL)');
  }
  if (sec.signKeys.length && !sec.requireSignature) warnings.push('--sign-key without --require-signature: unsigned entry URLs are still accepted');
  for (const name of facts.unsupportedHooks) warnings.push(`--hooks: ${name} is not supported and is ignored`);
  const ignored = ignoredRequestOptions(reqOptions);
  if (ignored.length) warnings.push(`--req-options: ignored keys (only TLS options and headers apply): ${ignored.join(', ')}`);
  if (config.cache.redisUrl && facts.cacheState === 'degraded') warnings.push('Redis is not reachable yet: playlists go straight upstream until it is');

  return { message: `hls-sidecar listening on ${facts.listen}`, fields, warnings };
}
