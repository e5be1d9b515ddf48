/**
 * The command-line surface, declared once. `cli.ts` builds yargs from this table (so `--help` shows every
 * option with its default) and `config.ts` turns the parsed values into the typed, frozen `Config`.
 * Every option is also read from the environment as `HLS_SIDECAR_<NAME>` (`--trust-proxy` →
 * `HLS_SIDECAR_TRUST_PROXY`) and from `--config <file.json>`; precedence: flag > env > file > default.
 *
 * Names follow hlsd (@warren-bank/hls-proxy 3.6.6) wherever hlsd has the option, so existing command lines
 * keep working (issue #2, #7).
 */

export type OptionType = 'string' | 'number' | 'boolean' | 'array';

export interface OptionSpec {
  type: OptionType;
  describe: string;
  default?: string | number | boolean | readonly string[];
  alias?: string;
  group: 'Server' | 'Public URLs' | 'Upstream' | 'Limits' | 'Cache' | 'Security' | 'TLS' | 'hlsd compatibility' | 'Logging';
}

const MiB = 1024 * 1024;

export const OPTIONS = {
  port: { type: 'number', default: 8080, group: 'Server', describe: 'TCP port to listen on' },
  bind: { type: 'string', default: '', group: 'Server', describe: 'address to listen on (empty: all interfaces)' },
  'shutdown-timeout': { type: 'number', default: 30000, group: 'Server', describe: 'ms to let in-flight requests finish on SIGTERM/SIGINT' },
  'metrics-port': { type: 'number', default: 0, group: 'Server', describe: 'serve /metrics and /readyz on this extra port too (0: only on the main port)' },
  offload: { type: 'string', default: 'auto', group: 'Server', describe: 'auto: segments, keys and init sections are answered with X-Accel-Redirect, and nginx fetches and streams them itself, when a trusted front announces it can (X-HLS-Sidecar-Offload, set by the shipped nginx templates); none: always streamed here (IIS, one process)' },

  host: { type: 'string', group: 'Public URLs', describe: 'public host[:port] written into playlists; ":443" means https (as hlsd)' },
  prefix: { type: 'string', group: 'Public URLs', describe: 'public path prefix, e.g. /hls-proxy (default: taken from X-Forwarded-Prefix or the request path)' },
  'trust-proxy': { type: 'array', default: ['loopback'], group: 'Public URLs', describe: 'peers whose X-Forwarded-*/Forwarded headers are believed: IPs, CIDRs, or loopback|private|linklocal|all|none' },
  'cors-origin': { type: 'string', default: '*', group: 'Public URLs', describe: 'Access-Control-Allow-Origin value; a list separated by commas echoes the matching origin' },
  'cors-credentials': { type: 'boolean', default: false, group: 'Public URLs', describe: 'send Access-Control-Allow-Credentials (refused with --cors-origin "*")' },

  'connect-timeout': { type: 'number', default: 5000, group: 'Upstream', describe: 'ms to connect to an upstream (504 after)' },
  'headers-timeout': { type: 'number', default: 10000, group: 'Upstream', describe: 'ms to wait for upstream response headers (504 after)' },
  'body-timeout': { type: 'number', default: 15000, group: 'Upstream', describe: 'ms an upstream body may stall between chunks (504 / abort after)' },
  'playlist-timeout': { type: 'number', default: 15000, group: 'Upstream', describe: 'ms for a whole playlist fetch, redirects included (504 after)' },
  'max-redirects': { type: 'number', default: 5, group: 'Upstream', describe: 'upstream redirects followed per request' },

  'max-playlist-size': { type: 'number', default: 8 * MiB, group: 'Limits', describe: 'bytes of (decompressed) playlist accepted from an upstream (502 above)' },
  'max-url-length': { type: 'number', default: 8192, group: 'Limits', describe: 'bytes of request URL accepted (414 above)' },
  'max-header-size': { type: 'number', default: 16384, group: 'Limits', describe: 'bytes of request headers accepted (431 above)' },

  redis: { type: 'string', group: 'Cache', describe: 'redis://, rediss://, redis+sentinel://host:port/master or redis[s]+cluster://host:port,host:port URL of the shared manifest cache (default: in-process cache)' },
  'redis-key-prefix': { type: 'string', default: 'hls-sidecar:', group: 'Cache', describe: 'prefix for every Redis key' },
  'redis-timeout': { type: 'number', default: 250, group: 'Cache', describe: 'ms a Redis command may take before the proxy goes straight upstream' },
  'cache-max-entries': { type: 'number', default: 2000, group: 'Cache', describe: 'playlists kept by the in-process cache' },
  'cache-max-bytes': { type: 'number', default: 256 * MiB, group: 'Cache', describe: 'playlist text kept in process (the memory cache, or the local layer in front of Redis)' },
  'segment-cache-max-bytes': { type: 'number', default: 64 * MiB, group: 'Cache', describe: 'segments kept in process for the viewers who ask for the same one (live fan-out without a front cache); 0 turns it off' },
  'cache-live-ttl-max': { type: 'number', default: 6000, group: 'Cache', describe: 'ms upper bound of a live playlist freshness (half its target duration)' },
  'cache-live-ttl-min': { type: 'number', default: 200, group: 'Cache', describe: 'ms lower bound of a live playlist freshness' },
  'cache-master-ttl': { type: 'number', default: 10000, group: 'Cache', describe: 'ms a multivariant playlist stays fresh' },
  'cache-vod-ttl': { type: 'number', default: 600000, group: 'Cache', describe: 'ms a VOD (#EXT-X-ENDLIST) playlist stays fresh' },
  'cache-error-ttl': { type: 'number', default: 1000, group: 'Cache', describe: 'ms an upstream error is remembered, so an outage is not multiplied' },
  'stale-if-error': { type: 'number', default: 30000, group: 'Cache', describe: 'ms after expiry a playlist may still be served when the upstream fails' },
  'stale-wait': { type: 'number', default: 500, group: 'Cache', describe: 'ms a viewer waits for a slow playlist refresh before the expired copy (within --stale-if-error) answers it; 0: wait' },
  'coalesce-timeout': { type: 'number', default: 3000, group: 'Cache', describe: 'ms a request waits for another replica\'s fetch before fetching itself' },

  'allow-upstream': { type: 'array', default: [], group: 'Security', describe: 'upstreams allowed: host, *.domain, host:port, CIDR, scheme: (default: all but loopback/link-local/metadata)' },
  'deny-upstream': { type: 'array', default: [], group: 'Security', describe: 'upstreams refused, same forms as --allow-upstream; deny wins' },
  'block-req-hostname': { type: 'array', default: [], group: 'Security', describe: 'hlsd: host names refused (same as --deny-upstream)' },
  'sign-key': { type: 'array', default: [], group: 'Security', describe: 'HMAC key(s) for signed URLs; the first signs, all verify (rotation)' },
  'sign-ttl': { type: 'number', default: 0, group: 'Security', describe: 's a signature written into a playlist stays valid (0: no expiry)' },
  'require-signature': { type: 'boolean', default: false, group: 'Security', describe: 'refuse unsigned entry URLs too' },
  'acl-ip': { type: 'array', default: [], group: 'Security', describe: 'hlsd: client IPs/CIDRs allowed (checked on the trusted forwarded client address)' },
  'acl-pass': { type: 'array', default: [], group: 'Security', describe: 'hlsd: passwords accepted (header X-HLS-Sidecar-Password or ?password=)' },
  'forward-cookies': { type: 'boolean', default: false, group: 'Security', describe: 'forward the client Cookie header upstream' },
  'forward-authorization': { type: 'boolean', default: false, group: 'Security', describe: 'forward the client Authorization header upstream' },

  tls: { type: 'boolean', default: false, group: 'TLS', describe: 'serve HTTPS directly (hlsd; needs --tls-cert and --tls-key)' },
  'tls-cert': { type: 'string', group: 'TLS', describe: 'PEM certificate file' },
  'tls-key': { type: 'string', group: 'TLS', describe: 'PEM private key file' },
  'tls-pass': { type: 'string', group: 'TLS', describe: 'file holding the private key passphrase' },

  'req-headers': { type: 'string', group: 'hlsd compatibility', describe: 'JSON file of headers sent upstream' },
  origin: { type: 'string', group: 'hlsd compatibility', describe: 'Origin header sent upstream' },
  referer: { type: 'string', group: 'hlsd compatibility', describe: 'Referer header sent upstream' },
  useragent: { type: 'string', group: 'hlsd compatibility', describe: 'User-Agent header sent upstream' },
  header: { type: 'array', default: [], group: 'hlsd compatibility', describe: '"name: value" (or name=value) header sent upstream; repeatable' },
  'req-options': { type: 'string', group: 'hlsd compatibility', describe: 'JSON file of upstream TLS options (ca, cert, key, ciphers, ...)' },
  'req-insecure': { type: 'boolean', default: false, group: 'hlsd compatibility', describe: 'accept invalid upstream TLS certificates (upstream client only)' },
  'http-proxy': { type: 'string', group: 'hlsd compatibility', describe: 'send upstream requests through this HTTP proxy' },
  'manifest-extension': { type: 'string', default: 'm3u8', group: 'hlsd compatibility', describe: 'extension of proxied playlist URLs' },
  'segment-extension': { type: 'string', group: 'hlsd compatibility', describe: 'extension forced on proxied segment URLs (default: the original one)' },
  hooks: { type: 'string', group: 'hlsd compatibility', describe: 'module exporting hlsd hooks (add_request_headers, modify_m3u8_content, redirect, redirect_final, rewrite, prefetch)' },
  prefetch: { type: 'boolean', default: false, group: 'hlsd compatibility', describe: 'prefetch the next segments of live playlists being watched' },
  'max-segments': { type: 'number', default: 20, group: 'hlsd compatibility', describe: 'prefetched segments kept in memory' },
  'cache-timeout': { type: 'number', default: 60, group: 'hlsd compatibility', describe: 's a prefetched segment is kept' },

  verbose: { type: 'number', default: 1, alias: 'v', group: 'Logging', describe: 'hlsd log level 0..4 (0 errors, 1 info, 2 more, 3 debug, 4 trace)' },
  'log-level': { type: 'string', group: 'Logging', describe: 'pino level (fatal|error|warn|info|debug|trace|silent); overrides -v' },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/**
 * hlsd flags that hls-sidecar deliberately does not support, with the reason given at start-up
 * (issue #7: "refused with a message saying why").
 */
export const REFUSED_HLSD_FLAGS: Record<string, string> = {
  'copy-req-headers': 'copying every client header upstream leaks cookies and credentials; use --header or --req-headers',
  'cache-key': 'prefetched segments are keyed by their full upstream URL; a partial key serves one channel\'s segment to another',
  'cache-storage': 'prefetched segments live in a bounded in-process store; there is no filesystem adapter',
  'cache-storage-fs-dirpath': 'prefetched segments live in a bounded in-process store; there is no filesystem adapter',
  'req-secure-honor-server-cipher-order': 'set TLS options in the --req-options JSON file instead',
  'req-secure-ciphers': 'set "ciphers" in the --req-options JSON file instead',
  'req-secure-protocol': 'set "minVersion"/"maxVersion" in the --req-options JSON file instead',
  'req-secure-curve': 'set "ecdhCurve" in the --req-options JSON file instead',
};
