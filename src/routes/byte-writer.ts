/**
 * A growable byte buffer for the render worker's output (rewrite-bytes.ts), whose memory is used again from
 * one big playlist to the next.
 *
 * Why: on the 2-core bench machine, writing into memory the process has not touched yet costs about 3 ms
 * per MB in page faults (an 8 MB fill: 23 ms fresh, 0.5 ms the second time), more than the rewrite of a
 * 100k-segment playlist itself. So a result is handed over in the writer's own buffer rather than copied
 * into a new one (take), and a result the main thread is done with comes back to be written into again
 * (adopt; render-pool.ts#recycle).
 */
export class ByteWriter {
  buf: Uint8Array;
  len = 0;
  /** One buffer given back (adopt) while this one was in use, for after the next take(). */
  private spare: Uint8Array | undefined;

  constructor(initialBytes = 64 * 1024) {
    this.buf = new Uint8Array(initialBytes);
  }

  reset(): void {
    this.len = 0;
  }

  /** Room for `extra` more bytes. Growth doubles (at least), so a playlist costs O(log n) copies. */
  ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    const next = new Uint8Array(Math.max(need, this.buf.length * 2));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Appends src[a, b). A loop for the short spans between URIs (a native call costs more than 16 bytes). */
  copy(src: Uint8Array, a: number, b: number): void {
    const n = b - a;
    if (n <= 0) return;
    this.ensure(n);
    const buf = this.buf;
    let o = this.len;
    if (n < 64) {
      for (let i = a; i < b; i++) buf[o++] = src[i]!;
    } else {
      buf.set(src.subarray(a, b), o);
      o += n;
    }
    this.len = o;
  }

  /** Appends bytes the caller made room for (ensure). */
  put(bytes: Uint8Array): void {
    const buf = this.buf;
    let o = this.len;
    for (let i = 0; i < bytes.length; i++) buf[o++] = bytes[i]!;
    this.len = o;
  }

  /** Appends a string as UTF-8. */
  text(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.ensure(n);
    Buffer.from(this.buf.buffer, this.buf.byteOffset, this.buf.length).write(s, this.len, n, 'utf8');
    this.len += n;
  }

  /**
   * The bytes written so far, in a buffer of their own (to be transferred or kept), and a fresh start.
   * Normally that is the writer's own buffer, not a copy (its pages are touched already; a copy would touch
   * as many new ones), and writing goes on in the spare one, if any. A buffer with much unused room is
   * copied instead, so that whoever keeps the result does not keep the room too.
   */
  take(): Buffer {
    const n = this.len;
    const buf = this.buf;
    this.len = 0;
    if (buf.length > n + (n >> 2) + 65536) {
      const out = Buffer.allocUnsafeSlow(n);
      out.set(buf.subarray(0, n));
      return out;
    }
    this.buf = this.spare ?? new Uint8Array(64 * 1024);
    this.spare = undefined;
    return Buffer.from(buf.buffer, buf.byteOffset, n);
  }

  /** A result's memory given back: written into next if bigger than what the writer has, else kept spare. */
  adopt(memory: ArrayBuffer): void {
    const bytes = new Uint8Array(memory);
    if (this.len === 0 && bytes.length > this.buf.length) {
      if (!this.spare || this.buf.length > this.spare.length) this.spare = this.buf;
      this.buf = bytes;
    } else if (!this.spare || bytes.length > this.spare.length) {
      this.spare = bytes;
    }
  }
}
