import { isAbsolute, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveReference } from './manifest/resolve.js';
import type { UriKind } from './manifest/rewrite.js';
import { HOP_BY_HOP } from './upstream/headers.js';
import { isProxiableUrl } from './url-codec.js';

/**
 * hlsd's `--hooks <module>` (issue #7): a module exporting functions by name, loaded once at start-up. The
 * names, arguments and return conventions are hlsd 3.6.6's (utils.js, manifest_parser.js, segment_cache.js),
 * so an existing hooks file keeps working:
 *
 *   add_request_headers(url, is_m3u8) → {name: value}   merged over --req-headers/--header for that request
 *   modify_m3u8_content(m3u8_content, m3u8_url) → text  applied before URIs are found; falsy keeps the text
 *   redirect(url, referer_url) → string | {url, url_type, referer_url} | falsy
 *                                     applied to each absolute URI found in a playlist, before proxying; a
 *                                     relative result resolves against the playlist URL; an empty result or
 *                                     a throw removes the URI from the playlist (as hlsd does)
 *   redirect_final(proxied_url) → string                  applied to each proxied URL written out
 *   rewrite(url) → string                                 applied to each requested upstream URL
 *   prefetch(url, url_type) → boolean                     overrides "prefetch segments and keys" (strict boolean only)
 *
 * A hook that throws (other than `redirect`) or returns something unusable is ignored for that call and
 * logged once per hook name: a broken hook degrades to hlsd's default behaviour instead of failing requests.
 * Hooks run inside the proxy with its privileges; they cannot bypass the egress policy (every upstream
 * request, rewritten or not, goes through it).
 */

export interface RedirectObject {
  url?: unknown;
  url_type?: unknown;
  referer_url?: unknown;
}

export interface HlsdHooks {
  add_request_headers?: (url: string, isM3u8: boolean) => unknown;
  modify_m3u8_content?: (m3u8Content: string, m3u8Url: string) => unknown;
  redirect?: (url: string, refererUrl: string | undefined) => unknown;
  redirect_final?: (proxiedUrl: string) => unknown;
  rewrite?: (url: string) => unknown;
  prefetch?: (url: string, urlType: string) => unknown;
}

export const SUPPORTED_HOOKS = ['add_request_headers', 'modify_m3u8_content', 'redirect', 'redirect_final', 'rewrite', 'prefetch'] as const;
/** hlsd hooks with no equivalent here; named in a start-up warning instead of being silently dropped. */
export const UNSUPPORTED_HOOKS = ['add_request_options', 'prefetch_segments', 'request_intervals'] as const;

export class HooksError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`--hooks: ${message}`, options);
    this.name = 'HooksError';
  }
}

export interface LoadedHooks {
  hooks: HlsdHooks;
  /** Hook names the module exports that are known hlsd hooks but not supported. */
  unsupported: string[];
}

/** Accepts an hlsd CommonJS module (`module.exports = {...}`) as well as an ES module with named or default exports. */
export async function loadHooks(file: string, cwd: string): Promise<LoadedHooks> {
  const abs = isAbsolute(file) ? file : resolvePath(cwd, file);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    throw new HooksError(`cannot load ${abs}: ${(err as Error).message}`, { cause: err });
  }
  const def = mod.default;
  const source = def && typeof def === 'object' ? (def as Record<string, unknown>) : mod;
  const hooks: Record<string, unknown> = {};
  for (const name of SUPPORTED_HOOKS) {
    const fn = source[name];
    if (fn === undefined || fn === null) continue;
    if (typeof fn !== 'function') throw new HooksError(`${name} must be a function`);
    hooks[name] = fn;
  }
  const unsupported = UNSUPPORTED_HOOKS.filter((n) => typeof source[n] === 'function');
  return { hooks: hooks as HlsdHooks, unsupported };
}

/** hlsd's url_type for a URI kind (manifest_parser.js url_location_landmarks; MAP/PART/PRELOAD-HINT are 'ts'). */
export function hlsdUrlType(kind: UriKind): string {
  switch (kind) {
    case 'playlist':
    case 'steering':
      return 'm3u8';
    case 'segment':
    case 'map':
      return 'ts';
    case 'key':
      return 'key';
    case 'session-data':
    case 'asset-list':
      return 'json';
  }
}

/** Where a URI found in a playlist goes after the `redirect` hook; null: removed from the playlist. */
export interface Redirected {
  url: string;
  /** hlsd url_type chosen by the hook (lower-case), else undefined. */
  type: string | undefined;
  referer: string | undefined;
}

export interface HookWarnLog {
  warn(obj: object, msg: string): void;
}

export interface HookRunner {
  /** Installs the loaded module; called once, before the server accepts connections. */
  install(hooks: HlsdHooks): void;
  names(): string[];
  has(name: (typeof SUPPORTED_HOOKS)[number]): boolean;
  requestHeaders(url: string, isM3u8: boolean): Record<string, string> | undefined;
  modifyPlaylist(text: string, m3u8Url: string): string;
  redirect(url: string, referer: string | undefined, playlistUrl: string): Redirected | null;
  redirectFinal(proxiedUrl: string): string;
  /** The upstream URL to request instead of `url`; undefined when the hook rejects it (hlsd answers 400). */
  rewrite(url: string): string | undefined;
  prefetch(url: string, urlType: string, byDefault: boolean): boolean;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const NEVER_SET = new Set(['host', 'content-length', ...HOP_BY_HOP]);

export function createHookRunner(log: HookWarnLog): HookRunner {
  let hooks: HlsdHooks = {};
  const warned = new Set<string>();
  const complain = (name: string, detail: string, err?: unknown): void => {
    if (warned.has(name)) return;
    warned.add(name);
    // The hook's error message only: arguments (upstream URLs) may carry credentials.
    log.warn({ hook: name, detail, error: err instanceof Error ? err.message : undefined }, 'hlsd hook misbehaved; default behaviour used (logged once)');
  };
  function call<T>(name: keyof HlsdHooks, run: (fn: (...a: never[]) => unknown) => T, fallback: T): T {
    const fn = hooks[name] as ((...a: never[]) => unknown) | undefined;
    if (!fn) return fallback;
    try {
      return run(fn);
    } catch (err) {
      complain(name, 'threw', err);
      return fallback;
    }
  }

  return {
    install(h) {
      hooks = { ...h };
    },
    names: () => SUPPORTED_HOOKS.filter((n) => typeof hooks[n] === 'function'),
    has: (name) => typeof hooks[name] === 'function',

    requestHeaders(url, isM3u8) {
      return call('add_request_headers', (fn) => {
        const got = (fn as NonNullable<HlsdHooks['add_request_headers']>)(url, isM3u8);
        if (!got || typeof got !== 'object') return undefined;
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(got as Record<string, unknown>)) {
          const name = k.toLowerCase();
          const value = String(v);
          if (v === undefined || v === null || !HEADER_NAME.test(name) || NEVER_SET.has(name) || /[\r\n\0]/.test(value)) {
            complain('add_request_headers', `header ${JSON.stringify(name)} refused`);
            continue;
          }
          out[name] = value;
        }
        return out;
      }, undefined);
    },

    modifyPlaylist(text, m3u8Url) {
      return call('modify_m3u8_content', (fn) => {
        const got = (fn as NonNullable<HlsdHooks['modify_m3u8_content']>)(text, m3u8Url);
        // hlsd: `hooks.modify_m3u8_content(...) || m3u8_content`
        return typeof got === 'string' && got !== '' ? got : text;
      }, text);
    },

    redirect(url, referer, playlistUrl) {
      const fn = hooks.redirect;
      const unchanged: Redirected = { url, type: undefined, referer };
      if (!fn) return unchanged;
      // manifest_parser.js redirect_embedded_url: a throw or a non-string url removes the URI.
      let next: unknown = url;
      let type: unknown;
      let ref: unknown;
      try {
        const result = fn(url, referer);
        if (result) {
          if (typeof result === 'string') next = result;
          else if (typeof result === 'object') ({ url: next, url_type: type, referer_url: ref } = result as RedirectObject);
        }
      } catch {
        return null;
      }
      if (typeof next !== 'string') return null;
      let target = next.trim();
      if (target === '') return null;
      if (!/^http/i.test(target)) target = resolveReference(playlistUrl, target);
      if (!isProxiableUrl(target)) {
        // hlsd leaves such a line unproxied; we never write an unproxied URI, so the hook result is ignored.
        complain('redirect', 'returned a URL that is not http(s)');
        return unchanged;
      }
      const t = typeof type === 'string' ? type.trim().toLowerCase() : '';
      const r = typeof ref === 'string' ? ref.trim() : '';
      return {
        url: target,
        type: /^[a-z0-9]{1,10}$/.test(t) ? t : undefined,
        referer: /^http/i.test(r) && isProxiableUrl(r) ? r : referer,
      };
    },

    redirectFinal(proxiedUrl) {
      return call('redirect_final', (fn) => {
        const got = (fn as NonNullable<HlsdHooks['redirect_final']>)(proxiedUrl);
        if (typeof got === 'string' && !/[\r\n]/.test(got)) return got;
        complain('redirect_final', 'did not return a single-line string');
        return proxiedUrl;
      }, proxiedUrl);
    },

    rewrite(url) {
      const fn = hooks.rewrite;
      if (!fn) return url;
      try {
        const got = fn(url);
        if (typeof got === 'string' && isProxiableUrl(got.trim())) return got.trim();
        return undefined;
      } catch (err) {
        complain('rewrite', 'threw', err);
        return undefined;
      }
    },

    prefetch(url, urlType, byDefault) {
      return call('prefetch', (fn) => {
        const got = (fn as NonNullable<HlsdHooks['prefetch']>)(url, urlType);
        // utils.js should_prefetch_url: only a strict boolean overrides the default.
        return typeof got === 'boolean' ? got : byDefault;
      }, byDefault);
    },
  };
}
