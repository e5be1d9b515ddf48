/**
 * The error catalogue: every failure the proxy can answer with has a code, an HTTP status and a short,
 * fixed public message. `toHttp` is the only place in the project that turns an error into a status, as in
 * fastify-reply-from's catalogue and Caddy's reverse_proxy (502 by default, 504 for timeouts).
 *
 * Public messages are constants: nothing the client or the upstream sent is ever echoed back (issue #2 §8).
 */

export const ERRORS = {
  BAD_TOKEN: { status: 400, message: 'malformed proxy token' },
  BAD_REQUEST: { status: 400, message: 'bad request' },
  URL_TOO_LONG: { status: 414, message: 'request URL too long' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed' },
  NOT_FOUND: { status: 404, message: 'not found' },
  FORBIDDEN: { status: 403, message: 'forbidden' },
  BAD_SIGNATURE: { status: 403, message: 'missing or invalid signature' },
  UNAUTHORIZED: { status: 401, message: 'unauthorized' },
  EGRESS_DENIED: { status: 403, message: 'upstream not allowed by egress policy' },
  UPSTREAM_UNREACHABLE: { status: 502, message: 'upstream unreachable' },
  UPSTREAM_BAD_RESPONSE: { status: 502, message: 'bad response from upstream' },
  UPSTREAM_TLS: { status: 502, message: 'upstream TLS certificate rejected' },
  UPSTREAM_TOO_MANY_REDIRECTS: { status: 502, message: 'too many upstream redirects' },
  PLAYLIST_TOO_LARGE: { status: 502, message: 'upstream playlist exceeds the size limit' },
  NOT_A_PLAYLIST: { status: 502, message: 'upstream response is not an HLS playlist' },
  UPSTREAM_CONNECT_TIMEOUT: { status: 504, message: 'upstream connect timeout' },
  UPSTREAM_HEADERS_TIMEOUT: { status: 504, message: 'upstream response headers timeout' },
  UPSTREAM_BODY_TIMEOUT: { status: 504, message: 'upstream response body timeout' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'upstream playlist fetch timeout' },
  CLIENT_GONE: { status: 499, message: 'client closed the request' },
  UPSTREAM_STATUS: { status: 502, message: 'upstream error' },
  SHUTTING_DOWN: { status: 503, message: 'shutting down' },
  INTERNAL: { status: 500, message: 'internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class ProxyError extends Error {
  readonly code: ErrorCode;
  /** Overrides the catalogue status; used only to pass an upstream 4xx/5xx through. */
  readonly statusOverride: number | undefined;

  constructor(code: ErrorCode, options: { cause?: unknown; detail?: string; status?: number } = {}) {
    super(options.detail ? `${ERRORS[code].message}: ${options.detail}` : ERRORS[code].message, {
      cause: options.cause,
    });
    this.name = 'ProxyError';
    this.code = code;
    this.statusOverride = options.status;
  }
}

export interface HttpError {
  status: number;
  code: ErrorCode;
  /** Fixed text from the catalogue, safe to send to any client. */
  body: string;
}

/** undici error codes → catalogue codes. undici's own names are kept out of the rest of the project. */
const UNDICI_CODES: Record<string, ErrorCode> = {
  UND_ERR_CONNECT_TIMEOUT: 'UPSTREAM_CONNECT_TIMEOUT',
  UND_ERR_HEADERS_TIMEOUT: 'UPSTREAM_HEADERS_TIMEOUT',
  UND_ERR_BODY_TIMEOUT: 'UPSTREAM_BODY_TIMEOUT',
  UND_ERR_SOCKET: 'UPSTREAM_UNREACHABLE',
  UND_ERR_CLOSED: 'UPSTREAM_UNREACHABLE',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'UPSTREAM_BAD_RESPONSE',
  UND_ERR_REQ_CONTENT_LENGTH_MISMATCH: 'UPSTREAM_BAD_RESPONSE',
  UND_ERR_INFO: 'UPSTREAM_BAD_RESPONSE',
  ECONNREFUSED: 'UPSTREAM_UNREACHABLE',
  ECONNRESET: 'UPSTREAM_UNREACHABLE',
  EHOSTUNREACH: 'UPSTREAM_UNREACHABLE',
  ENETUNREACH: 'UPSTREAM_UNREACHABLE',
  ENOTFOUND: 'UPSTREAM_UNREACHABLE',
  EAI_AGAIN: 'UPSTREAM_UNREACHABLE',
  EPIPE: 'UPSTREAM_UNREACHABLE',
  ETIMEDOUT: 'UPSTREAM_CONNECT_TIMEOUT',
  Z_DATA_ERROR: 'UPSTREAM_BAD_RESPONSE',
  Z_BUF_ERROR: 'UPSTREAM_BAD_RESPONSE',
};

const TLS_VERIFY = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|^ERR_TLS_|^ERR_SSL_/;

/** Classifies anything thrown into a catalogue code (walking `cause` chains, as undici nests them). */
export function classify(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && code in UNDICI_CODES) {
      return new ProxyError(UNDICI_CODES[code]!, { cause: err });
    }
    // llhttp's parse errors carry HPE_* codes, except the ones undici raises itself for a response that is
    // not HTTP at all ("Expected HTTP/, RTSP/ or ICE/"), which have no code: the upstream's fault either way
    // (a 502, not an internal error; found under 2 % packet loss, issue #15).
    if ((typeof code === 'string' && code.startsWith('HPE_')) || (cur as { name?: unknown }).name === 'HTTPParserError') {
      return new ProxyError('UPSTREAM_BAD_RESPONSE', { cause: err });
    }
    // OpenSSL / Node certificate verification failures (DEPTH_ZERO_SELF_SIGNED_CERT,
    // ERR_TLS_CERT_ALTNAME_INVALID, ...): an unusable upstream, not an internal error.
    if (typeof code === 'string' && TLS_VERIFY.test(code)) return new ProxyError('UPSTREAM_TLS', { cause: err });
    cur = (cur as { cause?: unknown }).cause;
  }
  return new ProxyError('INTERNAL', { cause: err });
}

/** The only error → HTTP status map in the project. */
export function toHttp(err: unknown): HttpError {
  const e = classify(err);
  const entry = ERRORS[e.code];
  const status = e.statusOverride ?? entry.status;
  return { status, code: e.code, body: `${entry.message}\n` };
}
