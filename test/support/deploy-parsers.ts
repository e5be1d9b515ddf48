/**
 * Small, strict parsers for the front-server templates (test/integration/deploy-templates.test.ts), so the
 * tests read the files as shipped instead of grepping them: nginx configuration, XML (web.config, with a
 * well-formedness check) and IIS URL Rewrite rule evaluation. No dependencies.
 */

// ---- nginx ------------------------------------------------------------------------------------------

export interface NginxDirective {
  name: string;
  args: string[];
  block?: NginxDirective[];
}

/** nginx's grammar: words or quoted strings, `;` ends a directive, `{ }` a block, `#` a comment. */
export function parseNginx(text: string): NginxDirective[] {
  const tokens: string[] = [];
  const re = /\s+|#[^\n]*|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([;{}])|([^\s;{}"'#][^\s;{}]*)/gy;
  for (let at = 0; at < text.length; at = re.lastIndex) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) throw new Error(`nginx: cannot tokenize at offset ${at}`);
    const quoted = m[1] ?? m[2];
    // Quoted tokens keep a leading '"' marker so that "" or ";" are never mistaken for punctuation.
    if (quoted !== undefined) tokens.push(`"${quoted.replace(/\\(.)/g, '$1')}`);
    else if (m[3] !== undefined || m[4] !== undefined) tokens.push(m[3] ?? m[4] ?? '');
  }
  let pos = 0;
  const word = (t: string): string => (t.startsWith('"') ? t.slice(1) : t);
  const block = (nested: boolean): NginxDirective[] => {
    const out: NginxDirective[] = [];
    while (pos < tokens.length) {
      if (tokens[pos] === '}') {
        if (!nested) throw new Error('nginx: unbalanced }');
        pos += 1;
        return out;
      }
      const parts: string[] = [];
      while (pos < tokens.length && tokens[pos] !== ';' && tokens[pos] !== '{' && tokens[pos] !== '}') parts.push(word(tokens[pos++] ?? ''));
      const [name, ...args] = parts;
      if (name === undefined) throw new Error('nginx: empty directive');
      const end = tokens[pos++];
      if (end === '{') out.push({ name, args, block: block(true) });
      else if (end === ';') out.push({ name, args });
      else throw new Error(`nginx: directive "${name}" not terminated`);
    }
    if (nested) throw new Error('nginx: missing }');
    return out;
  };
  return block(false);
}

/** Every directive named `name`, at any depth, with the chain of enclosing directives. */
export function findNginx(tree: NginxDirective[], name: string): NginxDirective[] {
  return tree.flatMap((d) => [...(d.name === name ? [d] : []), ...findNginx(d.block ?? [], name)]);
}

// ---- XML ---------------------------------------------------------------------------------------------

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
}

const XML_NAME = '[A-Za-z_:][-A-Za-z0-9_.:]*';
const START_TAG = new RegExp(`^<(${XML_NAME})((?:\\s+${XML_NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>`);
const END_TAG = new RegExp(`^</(${XML_NAME})\\s*>`);
const ATTR = new RegExp(`(${XML_NAME})\\s*=\\s*(?:"([^"]*)"|'([^']*)')`, 'g');
const ENTITY = /^&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);/;
const ENTITY_VALUES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * Parses XML 1.0 strictly enough to reject what IIS's configuration reader rejects: one root element,
 * matched and properly nested tags, quoted and unique attributes, no `<` in attribute values, every `&`
 * a known entity or character reference, no `--` inside comments, no `]]>` in text. No DTDs.
 */
export function parseXml(text: string): XmlElement {
  const fail = (at: number, why: string): never => {
    throw new Error(`XML line ${text.slice(0, at).split('\n').length}: ${why}`);
  };
  const checkRefs = (s: string, at: number): void => {
    for (let i = s.indexOf('&'); i !== -1; i = s.indexOf('&', i + 1)) if (!ENTITY.test(s.slice(i))) fail(at, 'bare "&"');
  };
  const decode = (s: string): string =>
    s.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|[a-z]+);/g, (_, e: string) =>
      e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : ENTITY_VALUES[e] ?? '');
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let i = text.startsWith('\uFEFF') ? 1 : 0;
  const decl = /^<\?xml\s[^?]*\?>/.exec(text.slice(i));
  if (decl) i += decl[0].length;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const chunk = text.slice(i, lt === -1 ? text.length : lt);
    if (stack.length === 0 && chunk.trim() !== '') fail(i, 'text outside the root element');
    if (chunk.includes(']]>')) fail(i, '"]]>" in text');
    checkRefs(chunk, i);
    if (lt === -1) break;
    i = lt;
    const rest = text.slice(i);
    if (rest.startsWith('<!--')) {
      const end = text.indexOf('-->', i + 4);
      if (end === -1) fail(i, 'unterminated comment');
      const body = text.slice(i + 4, end);
      if (body.includes('--') || body.endsWith('-')) fail(i, '"--" inside a comment');
      i = end + 3;
    } else if (rest.startsWith('<![CDATA[')) {
      if (stack.length === 0) fail(i, 'CDATA outside the root element');
      const end = text.indexOf(']]>', i);
      if (end === -1) fail(i, 'unterminated CDATA');
      i = end + 3;
    } else if (rest.startsWith('<?')) {
      if (/^<\?xml[\s?]/i.test(rest)) fail(i, 'XML declaration not at the start');
      const end = text.indexOf('?>', i);
      if (end === -1) fail(i, 'unterminated processing instruction');
      i = end + 2;
    } else if (rest.startsWith('<!')) {
      fail(i, 'declarations (DOCTYPE) are not expected');
    } else if (rest.startsWith('</')) {
      const m = END_TAG.exec(rest);
      if (!m) return fail(i, 'malformed end tag');
      const open = stack.pop();
      if (open?.name !== m[1]) fail(i, `</${m[1]}> does not close <${open?.name ?? '(nothing)'}>`);
      i += m[0].length;
    } else {
      const m = START_TAG.exec(rest);
      if (!m) return fail(i, 'malformed start tag');
      const el: XmlElement = { name: m[1] ?? '', attrs: {}, children: [] };
      for (const a of (m[2] ?? '').matchAll(ATTR)) {
        const name = a[1] ?? '';
        if (Object.hasOwn(el.attrs, name)) fail(i, `duplicate attribute ${name}`);
        const raw = a[2] ?? a[3] ?? '';
        checkRefs(raw, i);
        el.attrs[name] = decode(raw);
      }
      const parent = stack.at(-1);
      if (parent) parent.children.push(el);
      else if (root) fail(i, 'a second root element');
      else root = el;
      if (m[3] !== '/') stack.push(el);
      i += m[0].length;
    }
  }
  if (stack.length > 0) fail(text.length, `<${stack.at(-1)?.name}> is never closed`);
  return root ?? fail(0, 'no root element');
}

/** Descendants reached by a path of element names, e.g. xmlPath(root, 'system.webServer', 'rewrite'). */
export function xmlPath(el: XmlElement, ...names: string[]): XmlElement[] {
  let level = [el];
  for (const n of names) level = level.flatMap((e) => e.children.filter((c) => c.name === n));
  return level;
}

// ---- IIS URL Rewrite ------------------------------------------------------------------------------

export interface IisRequest {
  /** Path and query exactly as sent (UNENCODED_URL). */
  rawUrl: string;
  https: boolean;
  host: string;
}

export interface IisRewrite {
  rule: string;
  url: string;
  serverVariables: Record<string, string>;
}

const truthy = (v: string | undefined, dflt: boolean): boolean => (v === undefined ? dflt : v.toLowerCase() === 'true');

/**
 * Applies the inbound rules of a web.config <rewrite> section the way URL Rewrite 2.x does for the
 * subset used here: `match url` against the decoded path without its leading "/", MatchAll conditions
 * (ignoreCase defaults to true, trackAllCaptures false: {C:n} from the last matched condition), rewrite
 * maps, server variables; `Rewrite` action with appendQueryString. Returns undefined when no rule applies.
 */
export function evaluateIisRules(config: XmlElement, req: IisRequest): IisRewrite | undefined {
  const rewrite = xmlPath(config, 'system.webServer', 'rewrite')[0];
  if (!rewrite) throw new Error('web.config: no system.webServer/rewrite');
  const maps = new Map<string, { dflt: string; entries: Map<string, string> }>();
  for (const m of xmlPath(rewrite, 'rewriteMaps', 'rewriteMap')) {
    const entries = new Map(m.children.map((a) => [(a.attrs.key ?? '').toLowerCase(), a.attrs.value ?? '']));
    maps.set((m.attrs.name ?? '').toLowerCase(), { dflt: m.attrs.defaultValue ?? '', entries });
  }
  const q = req.rawUrl.indexOf('?');
  const rawPath = q === -1 ? req.rawUrl : req.rawUrl.slice(0, q);
  const vars: Record<string, string> = {
    UNENCODED_URL: req.rawUrl,
    QUERY_STRING: q === -1 ? '' : req.rawUrl.slice(q + 1),
    HTTPS: req.https ? 'on' : 'off',
    HTTP_HOST: req.host,
  };
  for (const rule of xmlPath(rewrite, 'rules', 'rule')) {
    const match = rule.children.find((c) => c.name === 'match');
    const flags = truthy(match?.attrs.ignoreCase, true) ? 'i' : '';
    const r = new RegExp(match?.attrs.url ?? '.*', flags).exec(decodeURIComponent(rawPath).replace(/^\//, ''));
    if (!r) continue;
    let c: RegExpExecArray | null = null;
    let ok = true;
    for (const cond of xmlPath(rule, 'conditions', 'add')) {
      const input = expandIis(cond.attrs.input ?? '', { r, c, vars, maps });
      const found = new RegExp(cond.attrs.pattern ?? '.*', truthy(cond.attrs.ignoreCase, true) ? 'i' : '').exec(input);
      if (truthy(cond.attrs.negate, false) ? found !== null : found === null) ok = false;
      else if (found) c = found;
      if (!ok) break;
    }
    if (!ok) continue;
    const ctx = { r, c, vars, maps };
    const serverVariables = Object.fromEntries(
      xmlPath(rule, 'serverVariables', 'set').map((s) => [s.attrs.name ?? '', expandIis(s.attrs.value ?? '', ctx)]),
    );
    const action = rule.children.find((x) => x.name === 'action');
    if (action?.attrs.type !== 'Rewrite') throw new Error(`rule ${rule.attrs.name}: only Rewrite actions are modelled`);
    let url = expandIis(action.attrs.url ?? '', ctx);
    if (truthy(action.attrs.appendQueryString, true) && vars.QUERY_STRING) url += `?${vars.QUERY_STRING}`;
    return { rule: rule.attrs.name ?? '', url, serverVariables };
  }
  return undefined;
}

interface ExpandContext {
  r: RegExpExecArray;
  c: RegExpExecArray | null;
  vars: Record<string, string>;
  maps: Map<string, { dflt: string; entries: Map<string, string> }>;
}

/** {R:n}, {C:n}, {SERVER_VARIABLE}, {mapName:{input}}; substituted text is never re-expanded. */
function expandIis(template: string, ctx: ExpandContext): string {
  let out = '';
  for (let i = 0; i < template.length; i += 1) {
    if (template[i] !== '{') {
      out += template[i];
      continue;
    }
    let depth = 1;
    let j = i + 1;
    for (; j < template.length && depth > 0; j += 1) depth += template[j] === '{' ? 1 : template[j] === '}' ? -1 : 0;
    if (depth !== 0) throw new Error(`unbalanced braces in "${template}"`);
    const inner = template.slice(i + 1, j - 1);
    const ref = /^([RC]):(\d+)$/.exec(inner);
    const colon = inner.indexOf(':');
    if (ref) out += (ref[1] === 'R' ? ctx.r : ctx.c)?.[Number(ref[2])] ?? '';
    else if (colon !== -1) {
      const map = ctx.maps.get(inner.slice(0, colon).toLowerCase());
      if (!map) throw new Error(`unknown rewrite map in {${inner}}`);
      const key = expandIis(inner.slice(colon + 1), ctx).toLowerCase();
      out += map.entries.get(key) ?? map.dflt;
    } else {
      const v = ctx.vars[inner.toUpperCase()];
      if (v === undefined) throw new Error(`server variable {${inner}} is not modelled`);
      out += v;
    }
    i = j - 1;
  }
  return out;
}
