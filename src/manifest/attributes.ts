/**
 * Attribute-list scanner (RFC 8216 §4.2) that reports positions instead of building values, so the rewriter can
 * replace exactly the bytes of one value and leave the rest of the tag line alone.
 *
 * Leniencies, all seen in the wild and accepted by hlsd: whitespace around names and values, lower-case names,
 * and values in single quotes (`URI='key.bin'`). A quote only opens a quoted value when it is the first character
 * of the value, so `X-TITLE=it's` stays an unquoted value. Commas inside quotes (`CODECS="avc1.4d401f,mp4a.40.2"`)
 * do not end the attribute.
 */

export interface AttributeSpan {
  /** Upper-cased attribute name, compared whole: `X-URI` and `SERVER-URI` never match `URI`. */
  name: string;
  /** Value bounds inside the scanned string, quotes excluded. */
  start: number;
  end: number;
  /** 34 (") or 39 (') when the value was quoted, 0 when not. */
  quote: number;
  /** False for a quoted value whose closing quote is missing; such a value is never rewritten. */
  closed: boolean;
}

/** Space, tab, CR, VT, FF: what hlsd trims around lines and what players tolerate around attributes. */
export function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 11 || c === 12;
}

/**
 * Scans `list` (the text after `#TAG:`) from `from` to its end. Never throws; garbage yields odd names or no
 * spans, not errors. Linear in the length of `list`.
 */
export function scanAttributes(list: string, from = 0): AttributeSpan[] {
  const spans: AttributeSpan[] = [];
  const n = list.length;
  let p = from;
  while (p < n) {
    while (p < n && isSpace(list.charCodeAt(p))) p++;
    const nameStart = p;
    while (p < n) {
      const c = list.charCodeAt(p);
      if (c === 61 || c === 44) break; // '=' or ','
      p++;
    }
    if (p >= n) break;
    if (list.charCodeAt(p) === 44) { // a name without '=': skip it
      p++;
      continue;
    }
    let nameEnd = p;
    while (nameEnd > nameStart && isSpace(list.charCodeAt(nameEnd - 1))) nameEnd--;
    const name = list.slice(nameStart, nameEnd).toUpperCase();
    p++; // '='
    while (p < n && isSpace(list.charCodeAt(p))) p++;
    const q = list.charCodeAt(p);
    if (q === 34 || q === 39) {
      const close = list.indexOf(q === 34 ? '"' : "'", p + 1);
      if (close === -1) {
        spans.push({ name, start: p + 1, end: n, quote: q, closed: false });
        break;
      }
      spans.push({ name, start: p + 1, end: close, quote: q, closed: true });
      const comma = list.indexOf(',', close + 1);
      if (comma === -1) break;
      p = comma + 1;
    } else {
      let comma = list.indexOf(',', p);
      if (comma === -1) comma = n;
      let end = comma;
      while (end > p && isSpace(list.charCodeAt(end - 1))) end--;
      spans.push({ name, start: p, end, quote: 0, closed: true });
      p = comma + 1;
    }
  }
  return spans;
}

/** The value of the first attribute called `name` (upper case), quotes removed, or undefined. */
export function attributeValue(list: string, spans: readonly AttributeSpan[], name: string): string | undefined {
  for (const s of spans) if (s.name === name && s.closed) return list.slice(s.start, s.end);
  return undefined;
}
