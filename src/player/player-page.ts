/**
 * The player page (`<prefix>/_/player?url=...`) and its stylesheet. The page is static apart from the
 * stream URL, which is HTML-escaped into a data attribute; scripts and styles are separate files under
 * `_/assets/`, referenced relatively so the page works under any prefix a front server adds.
 */

export const PLAYER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  // hls.js feeds the <video> through a MediaSource object URL and transmuxes in a Worker made from a blob.
  "media-src 'self' blob:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export function playerPage(src: string, input: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>hls-sidecar player</title>
<link rel="stylesheet" href="assets/player.css">
</head>
<body data-state="ok">
<main>
<h1>hls-sidecar player</h1>
<form method="get" action="player"><input name="url" type="url" value="${escapeHtml(input)}" placeholder="upstream or proxied .m3u8 URL" size="80"> <button>Play</button></form>
<video id="video" controls muted autoplay playsinline data-src="${escapeHtml(src)}"></video>
<dl>
<dt>Stream</dt><dd id="source"></dd>
<dt>Rendition</dt><dd id="rendition">-</dd>
<dt>Position</dt><dd id="position">-</dd>
<dt>Buffer ahead</dt><dd id="buffer">-</dd>
<dt>Last playlist cache result</dt><dd id="last-cache">-</dd>
</dl>
<h2>Errors</h2>
<ul id="errors" data-count="0"></ul>
<h2>Playlist requests</h2>
<table><thead><tr><th>time</th><th>playlist</th><th>X-HLS-Sidecar-Cache</th></tr></thead><tbody id="requests"></tbody></table>
<h2>Warnings (recovered)</h2>
<ul id="warnings" data-count="0"></ul>
</main>
<script src="assets/hls.min.js"></script>
<script src="assets/player.js"></script>
</body>
</html>
`;
}

export const PLAYER_STYLE = `body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #111; color: #eee; }
main { max-width: 960px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.2rem; } h2 { font-size: 1rem; margin-top: 1.5rem; }
input { width: 70%; }
video { width: 100%; background: #000; margin-top: 1rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { color: #aaa; } dd { margin: 0; word-break: break-all; }
table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: .1rem .5rem; border-bottom: 1px solid #333; }
#errors li { color: #f66; } #warnings li { color: #fc6; }
`;
