import type { Config } from '../config.js';
import type { HookRunner } from '../hooks.js';
import { rewritePlaylist, type UriKind } from '../manifest/rewrite.js';
import type { Signer } from '../signing.js';
import { encodeTarget, extensionFor, type Target } from '../url-codec.js';

/**
 * Turns an upstream playlist into the one a viewer receives: every URI rewritten to
 * `<public base>/<token>.<ext>` (signed when a key is configured). The result depends only on the upstream
 * text and the viewer's public base, so it is memoised per (playlist version, base): a thousand viewers of
 * one live channel behind one front server cost one rewrite per refresh, not a thousand.
 */

export interface RenderInput {
  /** Identifies this version of the upstream text (cache key + fetch time); '' disables the memo. */
  version: string;
  body: string;
  finalUrl: string;
  requestUrl: string;
  target: Target;
  /** `proto://host/prefix`, no trailing slash. */
  publicBase: string;
}

export interface Renderer {
  render(input: RenderInput): string;
}

interface Memo {
  text: string;
  bytes: number;
}

/** Extension for an hlsd url_type chosen by the redirect hook (manifest_parser.js encode_embedded_url). */
function extensionForType(type: string, opts: { manifestExtension: string; segmentExtension: string | undefined }): string {
  if (type === 'm3u8') return opts.manifestExtension || 'm3u8';
  if (type === 'ts') return opts.segmentExtension ?? 'ts';
  return type;
}

export function createRenderer(
  config: Pick<Config, 'manifestExtension' | 'segmentExtension'>,
  deps: { signer?: Signer | undefined; hooks?: HookRunner | undefined; maxEntries?: number; maxBytes?: number },
): Renderer {
  const maxEntries = deps.maxEntries ?? 256;
  const maxBytes = deps.maxBytes ?? 64 * 1024 * 1024;
  const memo = new Map<string, Memo>();
  let memoBytes = 0;
  const extOptions = { manifestExtension: config.manifestExtension, segmentExtension: config.segmentExtension };

  function remember(key: string, text: string): void {
    const bytes = text.length * 2;
    if (bytes > maxBytes / 4) return;
    memo.set(key, { text, bytes });
    memoBytes += bytes;
    // Map iteration order is insertion order: the first keys are the least recently used.
    for (const [k, v] of memo) {
      if (memo.size <= maxEntries && memoBytes <= maxBytes) break;
      memo.delete(k);
      memoBytes -= v.bytes;
    }
  }

  function rewrite(input: RenderInput): string {
    const { referer } = input.target;
    const prefix = `${input.publicBase}/`;
    const hooks = deps.hooks;
    const proxify = (url: string, kind: UriKind, vars?: Readonly<Record<string, string>>): string => {
      // hlsd hooks (src/hooks.ts): `redirect` before proxying (an empty result removes the URI, as in hlsd,
      // and its url_type picks the extension), `redirect_final` on the proxied URL.
      const redirected = hooks ? hooks.redirect(url, referer || undefined, input.finalUrl) : undefined;
      if (redirected === null) return '';
      const child: Target = { url: redirected?.url ?? url };
      const childReferer = redirected?.referer ?? referer;
      if (childReferer) child.referer = childReferer;
      if (vars) child.vars = vars;
      const type = redirected?.type;
      const ext = type === undefined ? extensionFor(child.url, kind, extOptions) : extensionForType(type, extOptions);
      let out: string;
      try {
        out = prefix + encodeTarget(child, ext, deps.signer?.sign(child));
      } catch {
        // A URI no token can carry (raw spaces or control characters, seen in broken playlists) stays as the
        // upstream wrote it: one unplayable line rather than a whole playlist refused.
        return child.url;
      }
      return hooks ? hooks.redirectFinal(out) : out;
    };
    const ctx = {
      baseUrl: input.finalUrl,
      requestUrl: input.requestUrl,
      proxify,
      ...(input.target.vars ? { imports: input.target.vars } : {}),
    };
    // hlsd's modify_m3u8_content hook sees the playlist before its URIs are found.
    return rewritePlaylist(hooks ? hooks.modifyPlaylist(input.body, input.finalUrl) : input.body, ctx).text;
  }

  return {
    render(input) {
      // Signatures with an expiry differ per second, so a signed, expiring output is never memoised.
      if (!input.version || (deps.signer && deps.signer.expires)) return rewrite(input);
      const vars = input.target.vars ? JSON.stringify(input.target.vars) : '';
      const key = `${input.version}\n${input.publicBase}\n${input.target.referer ?? ''}\n${vars}`;
      const hit = memo.get(key);
      if (hit) {
        memo.delete(key);
        memo.set(key, hit);
        return hit.text;
      }
      const text = rewrite(input);
      remember(key, text);
      return text;
    },
  };
}
