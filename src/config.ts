import { OPTIONS } from './config-options.js';
import { bool, ConfigError, list, num, readText, str, upstreamHeaders, type Raw } from './config-raw.js';
import { createIpSet, IpSetError, type IpSet } from './net/ip-set.js';

export { ConfigError } from './config-raw.js';

/**
 * The typed, frozen configuration. Parsed once from the raw option values (`config-options.ts`); any bad
 * value throws ConfigError naming the option, and the CLI exits 2 (issue #2 §1). Nothing else in the
 * project reads argv, the environment or config files.
 */

export interface PublicHost {
  proto: 'http' | 'https';
  /** host[:port] exactly as written into URLs. */
  authority: string;
}

export interface UpstreamHeaderConfig {
  /** Headers sent on every upstream request (--req-headers, --origin, --referer, --useragent, --header). */
  fixed: Readonly<Record<string, string>>;
  forwardCookies: boolean;
  forwardAuthorization: boolean;
}

export interface CacheConfig {
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  redisTimeoutMs: number;
  maxEntries: number;
  /** Upper bound on the summed length of the playlist bodies held in process. */
  maxBytes: number;
  liveTtlMinMs: number;
  liveTtlMaxMs: number;
  masterTtlMs: number;
  vodTtlMs: number;
  errorTtlMs: number;
  staleIfErrorMs: number;
  /** ms a viewer waits for a slow refresh before the stale copy answers it (issue #15). */
  staleWaitMs: number;
  coalesceTimeoutMs: number;
}

export interface Config {
  port: number;
  /** '' listens on all interfaces. */
  bind: string;
  shutdownTimeoutMs: number;
  metricsPort: number;
  /**
   * --offload (issue #16 §1): 'auto' answers a stream request with X-Accel-Redirect when a --trust-proxy peer
   * announced an internal location for it (routes/offload-plan.ts); 'none' always streams here.
   */
  offload: 'auto' | 'none';
  /** --host: wins over forwarded headers and the request Host. */
  publicHost: PublicHost | undefined;
  /** --prefix, normalised to '' or '/x/y' (no trailing slash); undefined = forwarded or echoed. */
  prefix: string | undefined;
  trustProxy: IpSet;
  cors: { origins: readonly string[]; credentials: boolean };
  timeouts: { connectMs: number; headersMs: number; bodyMs: number; playlistMs: number };
  limits: { playlistBytes: number; urlLength: number; headerBytes: number; redirects: number };
  cache: CacheConfig;
  /** Segments held in process for viewers of the same one (cache/segment-cache.ts); maxBytes 0 = off. */
  segmentCache: { maxBytes: number };
  upstreamHeaders: UpstreamHeaderConfig;
  security: {
    allowUpstream: readonly string[];
    denyUpstream: readonly string[];
    signKeys: readonly string[];
    signTtlSec: number;
    requireSignature: boolean;
    aclIp: IpSet | undefined;
    aclPass: readonly string[];
  };
  tls: { cert: string; key: string; passphrase: string | undefined } | undefined;
  upstreamTls: { rejectUnauthorized: boolean; options: Readonly<Record<string, unknown>> };
  httpProxy: string | undefined;
  manifestExtension: string;
  segmentExtension: string | undefined;
  hooksModule: string | undefined;
  prefetch: { enabled: boolean; maxSegments: number; timeoutSec: number };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export function parsePublicHost(value: string): PublicHost {
  // hlsd: "--host example.com:443" means the public URLs are https.
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(value)) {
    throw new ConfigError('host', `expected host[:port], got ${JSON.stringify(value)}`);
  }
  if (value.endsWith(':443')) return { proto: 'https', authority: value.slice(0, -4) };
  if (value.endsWith(':80')) return { proto: 'http', authority: value.slice(0, -3) };
  return { proto: 'http', authority: value };
}

export function normalizePrefix(value: string, option = 'prefix'): string {
  const trimmed = value.trim().replace(/\/+$/, '');
  if (trimmed === '') return '';
  const p = trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
  if (!/^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$/.test(p)) {
    throw new ConfigError(option, `expected a URL path such as /hls-proxy, got ${JSON.stringify(value)}`);
  }
  return p;
}

function ipSet(raw: Raw, name: string): IpSet {
  try {
    return createIpSet(list(raw, name));
  } catch (err) {
    if (err instanceof IpSetError) throw new ConfigError(name, err.message);
    throw err;
  }
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** hlsd's -v 0..4 mapped onto pino levels. */
const VERBOSE_LEVELS = ['error', 'info', 'info', 'debug', 'trace'] as const;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

export function parseConfig(raw: Raw): Config {
  const hostValue = str(raw, 'host');
  const prefixValue = str(raw, 'prefix');
  const corsOrigins = (str(raw, 'cors-origin') ?? '*').split(',').map((s) => s.trim()).filter(Boolean);
  const corsCredentials = bool(raw, 'cors-credentials');
  if (corsCredentials && corsOrigins.includes('*')) {
    throw new ConfigError('cors-credentials', 'cannot be combined with --cors-origin "*" (browsers refuse it); name the origins');
  }

  const tlsOn = bool(raw, 'tls') || str(raw, 'tls-cert') !== undefined;
  let tls: Config['tls'];
  if (tlsOn) {
    const certFile = str(raw, 'tls-cert');
    const keyFile = str(raw, 'tls-key');
    if (!certFile) throw new ConfigError('tls-cert', 'required with --tls');
    if (!keyFile) throw new ConfigError('tls-key', 'required with --tls');
    const passFile = str(raw, 'tls-pass');
    tls = {
      cert: readText('tls-cert', certFile),
      key: readText('tls-key', keyFile),
      passphrase: passFile ? readText('tls-pass', passFile).trim() : undefined,
    };
  }

  let reqOptions: Record<string, unknown> = {};
  const reqOptionsFile = str(raw, 'req-options');
  if (reqOptionsFile) {
    try {
      reqOptions = JSON.parse(readText('req-options', reqOptionsFile));
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError('req-options', `${reqOptionsFile} is not valid JSON`);
    }
  }

  const httpProxy = str(raw, 'http-proxy');
  if (httpProxy && !/^https?:\/\/[^\s/]+/i.test(httpProxy)) {
    throw new ConfigError('http-proxy', 'expected http[s]://[user:pass@]host:port');
  }
  const redisUrl = str(raw, 'redis');
  if (redisUrl && !/^(redis|rediss|redis\+sentinel|rediss?\+cluster):\/\//i.test(redisUrl)) {
    throw new ConfigError('redis', 'expected a redis://, rediss://, redis+sentinel:// or redis[s]+cluster:// URL');
  }

  const logLevelValue = str(raw, 'log-level');
  if (logLevelValue && !(LEVELS as readonly string[]).includes(logLevelValue)) {
    throw new ConfigError('log-level', `expected one of ${LEVELS.join(', ')}`);
  }
  const verbose = num(raw, 'verbose', 0, 4);
  const signKeys = list(raw, 'sign-key');
  for (const k of signKeys) if (k.length < 16) throw new ConfigError('sign-key', 'each key needs at least 16 characters');
  const requireSignature = bool(raw, 'require-signature');
  if (requireSignature && signKeys.length === 0) throw new ConfigError('require-signature', 'needs --sign-key');

  const extension = (name: string): string | undefined => {
    const v = str(raw, name);
    if (v !== undefined && !/^[A-Za-z0-9]{1,10}$/.test(v)) throw new ConfigError(name, 'expected 1-10 letters or digits, without the dot');
    return v?.toLowerCase();
  };

  const offload = str(raw, 'offload') ?? 'auto';
  if (offload !== 'auto' && offload !== 'none') throw new ConfigError('offload', 'expected auto or none');

  const config: Config = {
    port: num(raw, 'port', 0, 65535),
    bind: str(raw, 'bind') ?? '',
    shutdownTimeoutMs: num(raw, 'shutdown-timeout', 0),
    metricsPort: num(raw, 'metrics-port', 0, 65535),
    offload,
    publicHost: hostValue ? parsePublicHost(hostValue) : undefined,
    prefix: prefixValue === undefined ? undefined : normalizePrefix(prefixValue),
    trustProxy: ipSet(raw, 'trust-proxy'),
    cors: { origins: corsOrigins, credentials: corsCredentials },
    timeouts: {
      connectMs: num(raw, 'connect-timeout', 1),
      headersMs: num(raw, 'headers-timeout', 1),
      bodyMs: num(raw, 'body-timeout', 1),
      playlistMs: num(raw, 'playlist-timeout', 1),
    },
    limits: {
      playlistBytes: num(raw, 'max-playlist-size', 1024),
      urlLength: num(raw, 'max-url-length', 256),
      headerBytes: num(raw, 'max-header-size', 1024),
      redirects: num(raw, 'max-redirects', 0, 20),
    },
    segmentCache: { maxBytes: num(raw, 'segment-cache-max-bytes', 0) },
    cache: {
      redisUrl,
      redisKeyPrefix: str(raw, 'redis-key-prefix') ?? 'hls-sidecar:',
      redisTimeoutMs: num(raw, 'redis-timeout', 1),
      maxEntries: num(raw, 'cache-max-entries', 0),
      maxBytes: num(raw, 'cache-max-bytes', 0),
      liveTtlMinMs: num(raw, 'cache-live-ttl-min', 0),
      liveTtlMaxMs: num(raw, 'cache-live-ttl-max', 0),
      masterTtlMs: num(raw, 'cache-master-ttl', 0),
      vodTtlMs: num(raw, 'cache-vod-ttl', 0),
      errorTtlMs: num(raw, 'cache-error-ttl', 0),
      staleIfErrorMs: num(raw, 'stale-if-error', 0),
      staleWaitMs: num(raw, 'stale-wait', 0),
      coalesceTimeoutMs: num(raw, 'coalesce-timeout', 1),
    },
    upstreamHeaders: {
      fixed: upstreamHeaders(raw),
      forwardCookies: bool(raw, 'forward-cookies'),
      forwardAuthorization: bool(raw, 'forward-authorization'),
    },
    security: {
      allowUpstream: list(raw, 'allow-upstream'),
      denyUpstream: [...list(raw, 'deny-upstream'), ...list(raw, 'block-req-hostname')],
      signKeys,
      signTtlSec: num(raw, 'sign-ttl', 0),
      requireSignature,
      aclIp: list(raw, 'acl-ip').length ? ipSet(raw, 'acl-ip') : undefined,
      aclPass: list(raw, 'acl-pass'),
    },
    tls,
    upstreamTls: { rejectUnauthorized: !bool(raw, 'req-insecure'), options: reqOptions },
    httpProxy,
    manifestExtension: extension('manifest-extension') ?? 'm3u8',
    segmentExtension: extension('segment-extension'),
    hooksModule: str(raw, 'hooks'),
    prefetch: {
      enabled: bool(raw, 'prefetch'),
      maxSegments: num(raw, 'max-segments', 1, 10000),
      timeoutSec: num(raw, 'cache-timeout', 1),
    },
    logLevel: (logLevelValue as Config['logLevel'] | undefined) ?? VERBOSE_LEVELS[verbose]!,
  };
  if (config.cache.liveTtlMinMs > config.cache.liveTtlMaxMs) {
    throw new ConfigError('cache-live-ttl-min', 'must not exceed --cache-live-ttl-max');
  }
  return deepFreeze(config);
}

/** Programmatic use and tests: option values by flag name, defaults filled in from the option table. */
export function configFromOptions(values: Record<string, unknown> = {}): Config {
  const raw: Raw = {};
  for (const [name, spec] of Object.entries(OPTIONS)) {
    if ('default' in spec) raw[name] = spec.default;
  }
  return parseConfig({ ...raw, ...values });
}
