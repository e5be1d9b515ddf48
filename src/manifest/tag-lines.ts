/**
 * Finds tag lines by substring search, for the few facts the rewriter must know before its single pass:
 * the EXT-X-DEFINE variables of the whole playlist and whether it is a Multivariant Playlist (RFC 8216 §4.3.4:
 * EXT-X-MEDIA and EXT-X-STREAM-INF only appear in Multivariant Playlists). `indexOf` over a 6 MB VOD playlist that
 * has no such tag costs well under a millisecond, so the common case pays almost nothing.
 */
import { isSpace } from './attributes.js';

/** True when only whitespace (or the leading BOM) separates `i` from the start of its line. */
function atLineStart(text: string, i: number): boolean {
  let j = i - 1;
  while (j >= 0) {
    const c = text.charCodeAt(j);
    if (c === 10) return true;
    if (!isSpace(c)) return j === 0 && c === 0xfeff;
    j--;
  }
  return true;
}

/**
 * Bounds [start, end) of the text after `tag` (which includes its ':') on every line that starts with `tag`,
 * up to `limit` lines. `end` is the end of the line, excluding the LF.
 */
export function tagLines(text: string, tag: string, limit = Infinity): Array<[number, number]> {
  const found: Array<[number, number]> = [];
  let i = text.indexOf(tag);
  while (i !== -1 && found.length < limit) {
    const start = i + tag.length;
    let eol = text.indexOf('\n', start);
    if (eol === -1) eol = text.length;
    if (atLineStart(text, i)) found.push([start, eol]);
    i = text.indexOf(tag, eol);
  }
  return found;
}

/** True when the playlist has at least one line starting with one of `tags`. */
export function hasTagLine(text: string, ...tags: string[]): boolean {
  return tags.some((tag) => tagLines(text, tag, 1).length > 0);
}
