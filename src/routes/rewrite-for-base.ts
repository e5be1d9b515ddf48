import type { Config } from '../config.js';
import type { HookRunner } from '../hooks.js';
import { rewritePlaylist, type UriKind } from '../manifest/rewrite.js';
import type { Signer } from '../signing.js';
import { encodeTarget, extensionFor, type Target } from '../url-codec.js';

/**
 * The rewrite of one upstream playlist for one public base: every URI becomes
 * `<public base>/<token>.<ext>` (signed when a key is configured). Pure apart from the hooks, so it runs the
 * same on the main thread and in the render worker (render-pool.ts).
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

export interface RewriteDeps {
  extOptions: Pick<Config, 'manifestExtension' | 'segmentExtension'>;
  signer?: Signer | undefined;
  hooks?: HookRunner | undefined;
}

/** Extension for an hlsd url_type chosen by the redirect hook (manifest_parser.js encode_embedded_url). */
function extensionForType(type: string, opts: RewriteDeps['extOptions']): string {
  if (type === 'm3u8') return opts.manifestExtension || 'm3u8';
  if (type === 'ts') return opts.segmentExtension ?? 'ts';
  return type;
}

export function rewriteForBase(input: RenderInput, deps: RewriteDeps): string {
  const { referer } = input.target;
  const { extOptions, hooks, signer } = deps;
  const prefix = `${input.publicBase}/`;
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
      out = prefix + encodeTarget(child, ext, signer?.sign(child));
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
