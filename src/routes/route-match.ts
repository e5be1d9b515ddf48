import { lruCursor } from '../cache/lru-cursor.js';
import { decodeTarget, splitPrefix, type DecodedTarget } from '../url-codec.js';

/**
 * Where a request path goes. Pure: (path, configured prefix) → route.
 *
 * The prefix is found in one of three ways (issue #2 §6): `--prefix`; or, with none configured, echoed from
 * the leading path as hlsd does (`/hls-proxy/<token>.m3u8` → '/hls-proxy'), which also covers a front server
 * that strips the prefix. A trusted `X-Forwarded-Prefix` only changes the URLs written into playlists, never
 * the routing, so a spoofed header cannot send a request to a different route.
 */

export type NamedRoute = 'healthz' | 'readyz' | 'metrics' | 'player' | 'player-asset';

export type RouteMatch =
  | { kind: 'named'; name: NamedRoute; prefix: string; rest: string }
  | { kind: 'proxy'; prefix: string; tokenPath: string; /** Already decoded while finding the prefix. */ target?: DecodedTarget }
  | { kind: 'none' };

const NAMED: ReadonlyArray<[string, NamedRoute]> = [
  ['healthz', 'healthz'],
  ['readyz', 'readyz'],
  ['metrics', 'metrics'],
  ['_/player', 'player'],
];
const ASSET_DIR = '_/assets/';

function named(rest: string, prefix: string): RouteMatch | undefined {
  for (const [path, name] of NAMED) if (rest === path) return { kind: 'named', name, prefix, rest };
  if (rest.startsWith(ASSET_DIR)) return { kind: 'named', name: 'player-asset', prefix, rest: rest.slice(ASSET_DIR.length) };
  return undefined;
}

export function matchRoute(pathname: string, configuredPrefix: string | undefined): RouteMatch {
  if (configuredPrefix !== undefined) {
    // A front server may pass the prefix through or strip it; both reach the same routes.
    const rest =
      configuredPrefix !== '' && pathname.startsWith(`${configuredPrefix}/`)
        ? pathname.slice(configuredPrefix.length + 1)
        : pathname.slice(1);
    return named(rest, configuredPrefix) ?? (rest ? { kind: 'proxy', prefix: configuredPrefix, tokenPath: rest } : { kind: 'none' });
  }
  for (const [path] of NAMED) {
    if (pathname === `/${path}` || pathname.endsWith(`/${path}`)) {
      const prefix = pathname.slice(0, pathname.length - path.length - 1);
      return named(path, prefix)!;
    }
  }
  const asset = pathname.indexOf(`/${ASSET_DIR}`);
  if (asset !== -1) return named(pathname.slice(asset + 1), pathname.slice(0, asset))!;
  const split = splitPrefix(pathname);
  if (split) return { kind: 'proxy', prefix: split.prefix, tokenPath: split.tokenPath, target: split.target };
  // Not a token we can place: let the codec reject it as malformed (400) rather than pretend it is absent.
  return pathname.length > 1 ? { kind: 'proxy', prefix: '', tokenPath: pathname.slice(1) } : { kind: 'none' };
}

export type ResolvedRoute =
  | Exclude<RouteMatch, { kind: 'proxy' }>
  | { kind: 'proxy'; prefix: string; tokenPath: string; target: DecodedTarget };

/**
 * matchRoute with the token decoded (ProxyError BAD_TOKEN when it cannot be) and remembered per path.
 * Viewers of one channel ask for the same few paths over and over, and decoding a token (base64, URL
 * checks) was about a tenth of the CPU of a cached playlist hit. Only decoded proxy routes are kept, the
 * oldest dropped first, so a flood of random tokens costs decodes, never memory.
 */
export function createRouteMatcher(opts: { prefix: string | undefined; maxTokenLength: number; maxEntries?: number }): (pathname: string) => ResolvedRoute {
  const maxEntries = opts.maxEntries ?? 1024;
  const memo = new Map<string, ResolvedRoute>();
  const oldest = lruCursor(memo);
  return (pathname) => {
    const hit = memo.get(pathname);
    if (hit) return hit;
    const match = matchRoute(pathname, opts.prefix);
    if (match.kind !== 'proxy') return match;
    const { prefix, tokenPath } = match;
    const target =
      match.target && tokenPath.length <= opts.maxTokenLength ? match.target : decodeTarget(tokenPath, { maxTokenLength: opts.maxTokenLength });
    const resolved: ResolvedRoute = Object.freeze({ kind: 'proxy', prefix, tokenPath, target: Object.freeze(target) });
    if (memo.size >= maxEntries) memo.delete(oldest()!);
    memo.set(pathname, resolved);
    return resolved;
  };
}
