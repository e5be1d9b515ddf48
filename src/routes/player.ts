import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { ProxyError } from '../errors.js';
import { PLAYER_CSP, PLAYER_STYLE, playerPage } from '../player/player-page.js';
import { PLAYER_SCRIPT } from '../player/player-script.js';
import { encodeTarget, isProxiableUrl } from '../url-codec.js';

/**
 * `<prefix>/_/player?url=<proxied or upstream playlist URL>`: a small diagnostic page that plays a stream
 * through this proxy with hls.js, and `<prefix>/_/assets/<file>` for its script, stylesheet and hls.js itself
 * (read from node_modules once, on first request; no CDN, so the page works on a closed network).
 *
 * An upstream URL is turned into an unsigned proxy URL; the page never signs anything, or it would be a
 * signing oracle for anyone who can reach it. With --require-signature, pass a signed proxy URL.
 */

export interface PlayerAssets {
  get(name: string): { body: Buffer; type: string } | undefined;
}

export function createPlayerAssets(): PlayerAssets {
  const require = createRequire(import.meta.url);
  let hls: Buffer | undefined;
  const fixed: Record<string, { body: Buffer; type: string }> = {
    'player.js': { body: Buffer.from(PLAYER_SCRIPT, 'utf8'), type: 'text/javascript; charset=utf-8' },
    'player.css': { body: Buffer.from(PLAYER_STYLE, 'utf8'), type: 'text/css; charset=utf-8' },
  };
  return {
    get(name) {
      if (name === 'hls.min.js') {
        hls ??= readFileSync(require.resolve('hls.js/dist/hls.min.js'));
        return { body: hls, type: 'text/javascript; charset=utf-8' };
      }
      return Object.hasOwn(fixed, name) ? fixed[name] : undefined;
    },
  };
}

/**
 * The URL the page plays, relative to this origin so the CSP's connect-src 'self' covers it: a proxied URL
 * (same public origin, or a path) is kept as a path; any other http(s) URL is an upstream to proxy.
 */
export function playerSource(input: string, publicBase: string, prefix: string, manifestExtension: string): string {
  const value = input.trim();
  if (value === '') return '';
  if (value.startsWith('/') && !value.startsWith('//')) return value;
  const origin = /^https?:\/\/[^/?#]+/i.exec(publicBase)?.[0] ?? '';
  if (origin && value.toLowerCase().startsWith(`${origin.toLowerCase()}/`)) return value.slice(origin.length);
  if (!isProxiableUrl(value)) return '';
  return `${prefix}/${encodeTarget({ url: value }, manifestExtension || 'm3u8')}`;
}

function send(res: ServerResponse, status: number, body: Buffer, headers: Record<string, string>): void {
  res.writeHead(status, {
    'content-length': String(body.length),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export function servePlayerPage(
  res: ServerResponse,
  query: string,
  base: { publicBase: string; prefix: string; manifestExtension: string },
): void {
  const input = new URLSearchParams(query).get('url') ?? '';
  let src = '';
  try {
    src = playerSource(input, base.publicBase, base.prefix, base.manifestExtension);
  } catch {
    src = ''; // not encodable: the page says "no url"
  }
  send(res, 200, Buffer.from(playerPage(src, input), 'utf8'), {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': PLAYER_CSP,
    'cache-control': 'no-store',
    'x-frame-options': 'DENY',
  });
}

export function servePlayerAsset(res: ServerResponse, assets: PlayerAssets, name: string): void {
  const asset = /^[a-z0-9.-]{1,40}$/.test(name) ? assets.get(name) : undefined;
  if (!asset) throw new ProxyError('NOT_FOUND');
  send(res, 200, asset.body, { 'content-type': asset.type, 'cache-control': 'public, max-age=3600' });
}
