/**
 * A user clones this repository with nothing beside it (issue #14 §1): nothing in src/, test/, bench/ or
 * scripts/ may read a path above the project root. Checked on the text of every source file:
 * - no mention of the steering folder beside the clone (`../shared`) or of this machine's work tree;
 * - every relative path the code resolves (`new URL('…', import.meta.url)`, `import … from '…'`,
 *   `path.resolve(ROOT | __dirname | import.meta.dirname, '…')`, `$(dirname "$0")/…` in shell) stays inside
 *   the root.
 * This file is left out of the scan (it quotes each form); the table at the end proves the scanner catches each form (it would otherwise pass by finding nothing).
 */
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCANNED = ['src', 'test', 'bench', 'scripts', '.ci'];
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs|sh)$|^run$/;
const SELF = fileURLToPath(import.meta.url);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === 'node_modules' || p === join(ROOT, 'test', 'fixtures') || p === SELF) return [];
    return statSync(p).isDirectory() ? walk(p) : SOURCE.test(name) ? [p] : [];
  });
}

/** Relative paths the file resolves, each with the folder it is resolved against. */
function resolvedPaths(text: string, file: string, root: string): { spec: string; from: string }[] {
  const here = dirname(file);
  const out: { spec: string; from: string }[] = [];
  const add = (re: RegExp, from: (m: RegExpExecArray) => string) => {
    for (const m of text.matchAll(re)) out.push({ spec: m.groups!['p']!, from: from(m) });
  };
  // new URL('../x', import.meta.url): relative to this file.
  add(/new URL\(\s*(['"`])(?<p>\.{1,2}\/[^'"`]*)\1\s*,\s*import\.meta\.url/g, () => here);
  // static and dynamic imports, re-exports.
  add(/(?:from|import)\s*\(?\s*(['"])(?<p>\.{1,2}\/[^'"]*)\1/g, () => here);
  // path.resolve / join against this file's folder or a ROOT constant.
  add(/(?:resolve|join)\(\s*(?<base>__dirname|import\.meta\.dirname|HERE|ROOT)\s*,\s*(['"`])(?<p>[^'"`]*)\2/g, (m) =>
    m.groups!['base'] === 'ROOT' ? root : here);
  // shell: "$(dirname "$0")/../.."
  add(/\$\(dirname\s+"?\$(?:0|\{BASH_SOURCE\[0\]\})"?\)\/(?<p>[^"\s;)]*)/g, () => here);
  return out;
}

function offences(text: string, file: string, root: string): string[] {
  const found: string[] = [];
  if (/\.\.\/shared\b|\/work\/(?:main|shared)\b/.test(text)) found.push('names the folder beside the clone');
  for (const { spec, from } of resolvedPaths(text, file, root)) {
    const rel = relative(root, resolve(from, spec));
    if (rel === '..' || rel.startsWith(`..${sep}`)) found.push(`resolves ${spec} above the root`);
  }
  return found;
}

describe('the repository stands alone (issue #14)', () => {
  const files = [join(ROOT, 'package.json'), ...SCANNED.flatMap((d) => walk(join(ROOT, d)))];

  it('scans the source folders', () => expect(files.length).to.be.greaterThan(100));

  it('no file under src/, test/, bench/, scripts/ or .ci/ reads a path above the project root', () => {
    const bad = files.flatMap((f) => offences(readFileSync(f, 'utf8'), f, ROOT).map((o) => `${relative(ROOT, f)}: ${o}`));
    expect(bad).to.deep.equal([]);
  });

  describe('the scanner catches each form', () => {
    const root = '/r';
    const file = '/r/test/unit/x.test.ts';
    const rows: [string, string, boolean][] = [
      ['URL above the root', "new URL('../../../shared/corpus/', import.meta.url)", true],
      ['URL inside the root', "new URL('../fixtures/conformance/', import.meta.url)", false],
      ['the steering folder by name', "const c = process.env.X ?? '../shared/corpus';", true],
      ['an import above the root', "import x from '../../../other/x.js';", true],
      ['an import inside the root', "import x from '../../src/x.js';", false],
      ['resolve(ROOT, ..)', "path.resolve(ROOT, '../corpus')", true],
      ['resolve(ROOT, inside)', "path.resolve(ROOT, 'test/fixtures/conformance')", false],
      ['resolve(__dirname, ..)', "resolve(__dirname, '../../../x')", true],
      ['shell dirname above the root', 'cd "$(dirname "$0")/../../.."', true],
      ['a test table of relative references', "['../../../g', 'http://a/g']", false],
    ];
    for (const [name, text, bad] of rows) {
      it(`${name}: ${bad ? 'refused' : 'allowed'}`, () => expect(offences(text, file, root).length > 0).to.equal(bad));
    }
  });
});
