import { readFileSync } from 'node:fs';
import { ConfigError } from '../config.js';

/**
 * hlsd's `--req-options` JSON is the options object of `https.request()`, merged into every upstream request
 * (utils.js get_request_options). Here only its TLS part is used, for the upstream connections of this
 * proxy alone (never process-wide: NODE_TLS_REJECT_UNAUTHORIZED is not touched, unlike hlsd's
 * --req-insecure). Request-shaping keys (host, port, path, method, agent, timeout...) would let a config
 * file redirect or break every request, so they are ignored; `headers` is sent upstream (with-headers.ts).
 *
 * Certificates and keys may be given as PEM text, as hlsd passes them to tls.createSecureContext, or —
 * an extension, since PEM inside JSON is awkward to write — as a path to a PEM (or, for pfx, DER) file.
 */

/** tls.connect() / tls.createSecureContext() options that make sense in a JSON file. */
const TLS_KEYS = new Set([
  'ca', 'cert', 'key', 'pfx', 'passphrase', 'crl',
  'ciphers', 'ecdhCurve', 'honorCipherOrder', 'secureProtocol', 'minVersion', 'maxVersion', 'sigalgs',
  'secureOptions', 'dhparam', 'servername', 'rejectUnauthorized', 'ALPNProtocols', 'sessionIdContext',
]);
const FILE_KEYS = new Set(['ca', 'cert', 'key', 'pfx', 'crl']);

function material(name: string, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => material(name, v));
  if (typeof value !== 'string' || value.includes('-----BEGIN')) return value;
  try {
    return name === 'pfx' ? readFileSync(value) : readFileSync(value, 'utf8');
  } catch (err) {
    throw new ConfigError('req-options', `"${name}" is neither PEM text nor a readable file: ${(err as Error).message}`);
  }
}

/** The TLS options for undici's `connect` (and a ProxyAgent's `requestTls`), from the --req-options object. */
export function tlsConnectOptions(options: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    if (!TLS_KEYS.has(k) || v === undefined || v === null) continue;
    out[k] = FILE_KEYS.has(k) ? material(k, v) : v;
  }
  return out;
}

/** Keys of the --req-options object that are ignored (for the start-up report). */
export function ignoredRequestOptions(options: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(options).filter((k) => !TLS_KEYS.has(k) && k !== 'headers');
}
