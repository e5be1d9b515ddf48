/**
 * Is an upstream response an HLS playlist? RFC 8216 §4: "Each Playlist file MUST be identifiable either by the
 * path component of its URI or by HTTP Content-Type." and §4.3.1.1: "The EXTM3U tag indicates that the file is an
 * Extended M3U [M3U] Playlist file. It MUST be the first line of every Media Playlist and every Master Playlist."
 * Many origins send playlists as text/plain or application/octet-stream, so the body is sniffed as well.
 */

/** RFC 8216 §4 lists the first two; the audio/* forms are the legacy M3U types hlsd and players also accept. */
const PLAYLIST_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.apple.mpegurl',
  'application/x-mpegurl',
  'audio/mpegurl',
  'audio/x-mpegurl',
]);

/** Media type without parameters, trimmed and lower-cased (RFC 9110 §8.3.1: type and subtype are case-insensitive). */
function mediaType(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/**
 * True when the Content-Type names an M3U type (any case, any parameters) or `head` (the first bytes of the body,
 * decoded) starts with `#EXTM3U`, after an optional byte order mark and whitespace.
 */
export function looksLikePlaylist(contentType: string | undefined, head: string): boolean {
  if (typeof contentType === 'string' && PLAYLIST_TYPES.has(mediaType(contentType))) return true;
  if (typeof head !== 'string') return false;
  let i = 0;
  const n = Math.min(head.length, 4096);
  if (n > 0 && head.charCodeAt(0) === 0xfeff) i = 1;
  while (i < n) {
    const c = head.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13 && c !== 11 && c !== 12) break;
    i++;
  }
  return head.startsWith('#EXTM3U', i);
}
