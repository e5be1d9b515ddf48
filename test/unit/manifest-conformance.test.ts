/**
 * Rewrites every playlist of the conformance corpus (test/fixtures/conformance, third-party parser test
 * fixtures with their LICENSE files) and checks the output line by line with a classifier written independently of
 * src/manifest: each http(s) URI now points at the public base and decodes back to the RFC 3986 resolution of the
 * original; every other byte is unchanged.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';
import { resolveReference } from '../../src/manifest/resolve.js';
import { rewritePlaylist, type UriKind } from '../../src/manifest/rewrite.js';

const CORPUS = fileURLToPath(new URL('../fixtures/conformance/', import.meta.url));
const BASE = 'http://origin.test/path/to/playlist.m3u8?tok=a~b%2F=';
const PUBLIC = 'https://public.test/hls-proxy/';

const proxify = (u: string, k: UriKind) => `${PUBLIC}${k}/${Buffer.from(u).toString('base64url')}`;
const unproxify = (s: string): [string, string] | null => {
  const m = /^https:\/\/public\.test\/hls-proxy\/([a-z-]+)\/([A-Za-z0-9_-]*)$/.exec(s);
  return m ? [m[1]!, Buffer.from(m[2]!, 'base64url').toString()] : null;
};

/** Which attributes of which tags hold URIs, and of what kind (issue #2 §3). */
const URI_ATTRS: Record<string, Record<string, UriKind>> = {
  'EXT-X-KEY': { URI: 'key' },
  'EXT-X-SESSION-KEY': { URI: 'key' },
  'EXT-X-MAP': { URI: 'map' },
  'EXT-X-MEDIA': { URI: 'playlist' },
  'EXT-X-I-FRAME-STREAM-INF': { URI: 'playlist' },
  'EXT-X-IMAGE-STREAM-INF': { URI: 'playlist' },
  'EXT-X-RENDITION-REPORT': { URI: 'playlist' },
  'EXT-X-SESSION-DATA': { URI: 'session-data' },
  'EXT-X-PART': { URI: 'segment' },
  'EXT-X-PRELOAD-HINT': { URI: 'segment' },
  'EXT-X-CONTENT-STEERING': { 'SERVER-URI': 'steering' },
  'EXT-X-DATERANGE': { 'X-ASSET-URI': 'playlist', 'X-ASSET-LIST': 'asset-list' },
};

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const isHttp = (u: string) => /^https?:\/\//i.test(u);
const hasScheme = (u: string) => /^[A-Za-z][A-Za-z0-9+.-]*:/.test(u);

/**
 * Expected text for one URI `ref` of `kind`: the proxied RFC 3986 resolution of `ref` (after variable substitution)
 * if that targets http(s), otherwise `ref` unchanged (target undefined).
 */
function expectedUri(ref: string, kind: UriKind, vars: Map<string, string>): { text: string; target?: string } {
  let unresolved = false;
  const sub = ref.replace(/\{\$([A-Za-z0-9_-]+)\}/g, (whole, name: string) => vars.get(name) ?? ((unresolved = true), whole));
  if (unresolved || (hasScheme(sub) && !isHttp(sub))) return { text: ref };
  const target = resolveReference(BASE, sub);
  return isHttp(target) ? { text: proxify(target, kind), target } : { text: ref };
}

describe('manifest conformance: every playlist of the conformance corpus', () => {
  const files = walk(CORPUS).filter((f) => /\.m3u8?$/i.test(f)).sort();
  let checkedUris = 0;

  it('finds the corpus', () => expect(files.length).to.be.greaterThan(100));

  for (const file of files) {
    it(relative(CORPUS, file), () => {
      const input = readFileSync(file, 'utf8');
      const out = rewritePlaylist(input, { baseUrl: BASE, proxify });
      const inLines = input.split('\n');
      const outLines = out.text.split('\n');
      expect(outLines.length, 'line count').to.equal(inLines.length);
      const vars = new Map<string, string>();
      let afterStreamInf = false;
      let rewritten = 0;
      inLines.forEach((raw, i) => {
        const got = outLines[i]!;
        const line = i === 0 ? raw.replace(/^\uFEFF/, '') : raw;
        const bom = raw.slice(0, raw.length - line.length);
        const [, lead = '', body = '', trail = ''] = /^([ \t\r\v\f]*)(.*?)([ \t\r\v\f]*)$/s.exec(line) ?? [];
        const where = `line ${i + 1}: ${raw}`;
        if (body === '') {
          expect(got, where).to.equal(raw);
        } else if (!body.startsWith('#')) {
          const kind: UriKind = afterStreamInf ? 'playlist' : 'segment';
          afterStreamInf = false;
          const e = expectedUri(body, kind, vars);
          if (e.target !== undefined) {
            rewritten++;
            const decoded = unproxify(got.slice(bom.length + lead.length, got.length - trail.length));
            expect(decoded, where).to.deep.equal([kind, e.target]);
          }
          expect(got, where).to.equal(bom + lead + e.text + trail);
        } else {
          const tag = /^#(EXT[A-Z0-9-]*)(?::(.*))?$/s.exec(body);
          if (tag?.[1] === 'EXT-X-STREAM-INF') afterStreamInf = true;
          const define = tag?.[1] === 'EXT-X-DEFINE' ? /NAME="([^"]*)",VALUE="([^"]*)"/.exec(tag[2] ?? '') : null;
          if (define && !vars.has(define[1]!)) vars.set(define[1]!, define[2]!);
          const attrs = tag ? URI_ATTRS[tag[1]!] : undefined;
          let expected = body;
          if (attrs && tag?.[2] !== undefined) {
            const typeMap = /(?:^|,)TYPE=MAP(?:,|$)/.test(tag[2]);
            const listStart = body.length - tag[2].length;
            // Attribute list tokens: NAME=VALUE where VALUE is "…", '…' or unquoted up to the next comma.
            expected = body.slice(0, listStart) + tag[2].replace(
              /([A-Za-z0-9-]+)=("[^"]*"|'[^']*'|[^,"']*)/g,
              (whole, name: string, value: string) => {
                const kind = attrs[name];
                if (!kind) return whole;
                const quoted = /^["']/.test(value);
                const ref = quoted ? value.slice(1, -1) : value;
                if (ref === '') return whole;
                const e = expectedUri(ref, tag[1] === 'EXT-X-PRELOAD-HINT' && typeMap ? 'map' : kind, vars);
                if (e.target !== undefined) rewritten++;
                return `${name}=${quoted ? value[0] + e.text + value[0] : e.text}`;
              },
            );
          }
          expect(got, where).to.equal(bom + lead + expected + trail);
        }
      });
      expect(out.uris, 'uris counted').to.equal(rewritten);
      checkedUris += rewritten;
    });
  }

  it('checked a meaningful number of URIs', () => expect(checkedUris).to.be.greaterThan(40_000));
});
