import type { Config } from '../config.js';
import type { Signer } from '../signing.js';
import { isProxiableUrl } from '../url-codec.js';
import type { ByteWriter } from './byte-writer.js';

/**
 * The bytes rewrite-for-base.ts writes for one URI of the kind that makes up a big playlist (a segment line
 * that is a plain relative path of printable ASCII, see rewrite-bytes.ts): `<public base>/<token>.<ext>`,
 * token = base64url of `<base directory><ref>[|<referer>]` (url-codec.ts#encodeTarget), without building a
 * string per URI.
 *
 * base64 works in groups of 3 bytes, so base64(dir + ref) = base64(the first 3k bytes of dir) followed by
 * base64(the other 0-2 bytes of dir + ref). The first part is encoded once per playlist; per URI only the
 * reference (with the referer behind it) is encoded, by a table loop straight into the output.
 *
 * A class, not closures made per playlist: V8's optimised code for the render loop is specialised to the
 * functions it calls, and a new closure per playlist threw it away (deoptimised) at every playlist.
 */

const ALPHABET = new TextEncoder().encode('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');
const EXT_RE = /^[A-Za-z0-9]{0,10}$/;
const SIG_RE = /^[A-Za-z0-9_-]{1,200}$/;
const DOT_S = new TextEncoder().encode('.s');
const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

export interface TokenSetup {
  /** `proto://host/prefix`, no trailing slash. */
  publicBase: string;
  /** What a plain relative reference is appended to (manifest/resolve.ts#baseResolver's prefix). */
  baseDir: string;
  referer: string | undefined;
  extOptions: Pick<Config, 'manifestExtension' | 'segmentExtension'>;
  /** When URLs are signed. */
  signer: Signer | undefined;
}

/** base64url without padding of bytes[0, n), appended to `out` (room made by the caller). */
function encodeBase64Url(out: ByteWriter, bytes: Uint8Array, n: number): void {
  const buf = out.buf;
  let o = out.len;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    buf[o] = ALPHABET[v >>> 18]!;
    buf[o + 1] = ALPHABET[(v >>> 12) & 63]!;
    buf[o + 2] = ALPHABET[(v >>> 6) & 63]!;
    buf[o + 3] = ALPHABET[v & 63]!;
    o += 4;
  }
  if (n - i === 1) {
    const v = bytes[i]!;
    buf[o] = ALPHABET[v >>> 2]!;
    buf[o + 1] = ALPHABET[(v & 3) << 4]!;
    o += 2;
  } else if (n - i === 2) {
    const v = (bytes[i]! << 8) | bytes[i + 1]!;
    buf[o] = ALPHABET[v >>> 10]!;
    buf[o + 1] = ALPHABET[(v >>> 4) & 63]!;
    buf[o + 2] = ALPHABET[(v & 15) << 2]!;
    o += 3;
  }
  out.len = o;
}

export class TokenBytes {
  /** `<public base>/` and the base64 of the whole 3-byte groups of the base directory: the same for every URI. */
  private readonly lead: Uint8Array;
  private readonly carry: number;
  /** `|referer`, or nothing. */
  private readonly tail: Uint8Array;
  /** The carried bytes of the directory, then the reference, then the tail: grown to the longest seen. */
  private scratch: Uint8Array;
  private readonly fixedExt: string | undefined;
  private readonly noExt: Uint8Array;
  /** Nearly every URI of a playlist has the extension of the one before: remembered by its raw bytes. */
  private lastExt = '';
  private lastExtBytes: Uint8Array;

  /** undefined when encodeTarget would refuse every URI of this playlist (the caller uses the general path). */
  static create(setup: TokenSetup): TokenBytes | undefined {
    const { baseDir, referer } = setup;
    if (!isProxiableUrl(baseDir) || baseDir.includes('|')) return undefined;
    if (referer && !isProxiableUrl(referer)) return undefined;
    const fixed = setup.extOptions.segmentExtension || undefined;
    if (fixed !== undefined && !EXT_RE.test(fixed)) return undefined;
    return new TokenBytes(setup, fixed);
  }

  private constructor(private readonly setup: TokenSetup, fixedExt: string | undefined) {
    const dir = utf8(setup.baseDir);
    const whole = dir.length - (dir.length % 3);
    this.lead = utf8(`${setup.publicBase}/${Buffer.from(dir.subarray(0, whole)).toString('base64url')}`);
    this.carry = dir.length - whole;
    this.tail = setup.referer ? utf8(`|${setup.referer}`) : new Uint8Array(0);
    this.scratch = new Uint8Array(256);
    this.scratch.set(dir.subarray(whole));
    this.fixedExt = fixedExt;
    this.noExt = this.extensionOf('');
    this.lastExtBytes = this.noExt;
  }

  /** url-codec.ts#extensionFor for a 'segment', given the path's own extension (lower-cased or ''). */
  private extensionOf(own: string): Uint8Array {
    if (this.fixedExt !== undefined) return utf8(`.${this.fixedExt.toLowerCase()}`);
    const ok = own && own !== 'm3u8' && own !== 'm3u' && own !== this.setup.extOptions.manifestExtension;
    return utf8(`.${ok ? own : 'ts'}`);
  }

  private extension(src: Uint8Array, a: number, b: number): Uint8Array {
    if (a === b) return this.noExt;
    const last = this.lastExt;
    if (b - a === last.length) {
      let i = 0;
      while (i < last.length && src[a + i] === last.charCodeAt(i)) i++;
      if (i === last.length) return this.lastExtBytes;
    }
    this.lastExt = Buffer.from(src.buffer, src.byteOffset + a, b - a).toString('latin1');
    this.lastExtBytes = this.extensionOf(this.lastExt.toLowerCase());
    return this.lastExtBytes;
  }

  /** Appends the replacement for src[a, b) (a plain relative path, printable ASCII, no `|`); its own extension is src[extA, extB) (empty: none). */
  write(out: ByteWriter, src: Uint8Array, a: number, b: number, extA: number, extB: number): void {
    const ext = this.extension(src, extA, extB);
    const { signer, baseDir, referer } = this.setup;
    let signature = '';
    if (signer) {
      const url = baseDir + Buffer.from(src.buffer, src.byteOffset + a, b - a).toString('latin1');
      try {
        signature = signer.sign(referer ? { url, referer } : { url });
      } catch {
        signature = '';
      }
      // encodeTarget refuses such a signature, and rewrite-for-base.ts then leaves the absolute URL.
      if (!SIG_RE.test(signature)) {
        out.text(url);
        return;
      }
    }
    const tail = this.tail;
    const n = this.carry + (b - a) + tail.length;
    if (n > this.scratch.length) {
      const next = new Uint8Array(n * 2);
      next.set(this.scratch.subarray(0, this.carry));
      this.scratch = next;
    }
    const scratch = this.scratch;
    let k = this.carry;
    for (let i = a; i < b; i++) scratch[k++] = src[i]!;
    for (let i = 0; i < tail.length; i++) scratch[k++] = tail[i]!;
    // 4 characters per started group of 3 bytes; integer arithmetic (a float here cost V8 a deoptimisation).
    out.ensure(this.lead.length + (((n + 2) / 3) | 0) * 4 + ext.length + (signature ? signature.length + 2 : 0));
    out.put(this.lead);
    encodeBase64Url(out, scratch, n);
    if (signature) {
      out.put(DOT_S);
      out.text(signature);
    }
    out.put(ext);
  }
}
