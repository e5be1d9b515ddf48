/**
 * Variable definition and substitution, RFC 8216bis §4.3 (Variable Substitution) and §4.4.2.3 (EXT-X-DEFINE).
 *
 * The rewriter substitutes `{$name}` in the URIs it rewrites so the URI it writes is concrete; the EXT-X-DEFINE
 * lines themselves stay in the playlist, so a player still substitutes everything else it finds.
 */
import { attributeValue, scanAttributes } from './attributes.js';

export type Lookup = (name: string) => string | undefined;

/** §4.4.2.3: a Variable Name consists only of characters from [a-z], [A-Z], [0-9], '-' and '_'. */
function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 95;
}

export function isVariableName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) if (!isNameChar(name.charCodeAt(i))) return false;
  return true;
}

/**
 * The raw value of query parameter `name` in `url` (first occurrence), or undefined.
 * §4.4.2.3 QUERYPARAM: the variable's value is that of the query parameter of the same name in the URI by which
 * the Playlist was loaded. Taken raw, without percent-decoding, so a signed token pasted into a URI stays
 * byte-exact.
 */
export function rawQueryParam(url: string, name: string): string | undefined {
  const q = url.indexOf('?');
  if (q === -1) return undefined;
  let end = url.indexOf('#', q);
  if (end === -1) end = url.length;
  for (const pair of url.slice(q + 1, end).split('&')) {
    const eq = pair.indexOf('=');
    if ((eq === -1 ? pair : pair.slice(0, eq)) === name) return eq === -1 ? '' : pair.slice(eq + 1);
  }
  return undefined;
}

export interface DefineSources {
  /** URL by which the playlist was requested, for QUERYPARAM. */
  requestUrl: string;
  /** Variables of the parent multivariant playlist, for IMPORT. */
  imports: Readonly<Record<string, string>> | undefined;
}

/**
 * Parses the attribute list of one EXT-X-DEFINE tag into [name, value], or null when it defines nothing usable
 * (bad name, IMPORT of a variable the parent did not define, QUERYPARAM absent from the request URL).
 */
export function parseDefine(list: string, src: DefineSources): [string, string] | null {
  const spans = scanAttributes(list);
  const name = attributeValue(list, spans, 'NAME');
  if (name !== undefined) {
    const value = attributeValue(list, spans, 'VALUE');
    return isVariableName(name) && value !== undefined ? [name, value] : null;
  }
  const imported = attributeValue(list, spans, 'IMPORT');
  if (imported !== undefined) {
    // Object.hasOwn: a name such as "constructor" must not reach Object.prototype.
    const v = src.imports && Object.hasOwn(src.imports, imported) ? src.imports[imported] : undefined;
    return isVariableName(imported) && typeof v === 'string' ? [imported, v] : null;
  }
  const param = attributeValue(list, spans, 'QUERYPARAM');
  if (param !== undefined && isVariableName(param)) {
    const v = rawQueryParam(src.requestUrl, param);
    return v === undefined ? null : [param, v];
  }
  return null;
}

/**
 * Replaces every Variable Reference in `s` with its value (values are inserted verbatim, never re-scanned).
 * §4.3: "A Variable Reference is a string of the form "{$" (0x7B,0x24) followed by a Variable Name followed by
 * "}" (0x7D)." Anything else, such as `{$` followed by a space, is literal text.
 * Returns null when a reference names a variable not defined (earlier in the playlist): a client must fail to
 * parse such a playlist, so the caller leaves the URI exactly as it was rather than guessing.
 */
export function substituteVariables(s: string, lookup: Lookup): string | null {
  let i = s.indexOf('{$');
  if (i === -1) return s;
  const n = s.length;
  let out = '';
  let last = 0;
  while (i !== -1) {
    let j = i + 2;
    while (j < n && isNameChar(s.charCodeAt(j))) j++;
    if (j > i + 2 && j < n && s.charCodeAt(j) === 125) {
      const v = lookup(s.slice(i + 2, j));
      if (v === undefined) return null;
      out += s.slice(last, i) + v;
      last = j + 1;
      i = s.indexOf('{$', last);
    } else {
      i = s.indexOf('{$', i + 2);
    }
  }
  return out + s.slice(last);
}
