import type { Upstream } from './client.js';

/**
 * Extra upstream request headers around an Upstream, in hlsd's order of precedence (utils.js
 * get_request_options): `--req-options` "headers" lowest, then everything the routes computed (Range,
 * validators, --req-headers/--header, the token's referer), then the `add_request_headers` hook on top.
 * The hook sees the URL before redirects and whether it is a playlist request, as in hlsd.
 */
export interface HeaderLayers {
  /** `headers` object from the --req-options file, names lower-cased. */
  base?: Readonly<Record<string, string>>;
  /** The add_request_headers hook (HookRunner.requestHeaders). */
  top?: (url: string, isPlaylist: boolean) => Record<string, string> | undefined;
}

export function withHeaders(upstream: Upstream, layers: HeaderLayers): Upstream {
  const base = layers.base && Object.keys(layers.base).length > 0 ? layers.base : undefined;
  if (!base && !layers.top) return upstream;
  const merge = (url: string, isPlaylist: boolean, headers: Record<string, string>): Record<string, string> => {
    const top = layers.top?.(url, isPlaylist);
    return { ...base, ...headers, ...top };
  };
  return {
    ...upstream,
    open: (url, init) => upstream.open(url, { ...init, headers: merge(url, false, init.headers) }),
    fetchPlaylist: (url, init) => upstream.fetchPlaylist(url, { ...init, headers: merge(url, true, init.headers) }),
  };
}

/** The `headers` object of an hlsd --req-options file, validated; anything unusable is left out. */
export function reqOptionHeaders(options: Readonly<Record<string, unknown>>): Record<string, string> {
  const raw = options.headers;
  const out: Record<string, string> = {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return out;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const value = String(v);
    if (v === undefined || v === null || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) || /[\r\n\0]/.test(value)) continue;
    out[k.toLowerCase()] = value;
  }
  return out;
}
