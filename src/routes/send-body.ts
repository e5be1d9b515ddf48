import type { ServerResponse } from 'node:http';

/**
 * Ends a response with `body`; a big one (a rewritten 100k-segment playlist is ~9 MB) in slices, each
 * written once the socket has taken the one before. One `end(body)` hands the kernel the whole body at once:
 * the loopback copy then ran on the main thread for ~40 ms at a stretch in the bench, and every small
 * playlist asked for meanwhile waited behind it. Slices let the event loop answer them in between.
 *
 * `done` runs once the response is closed (finished, or its connection gone): by then nothing reads `body`
 * any more, so its memory can be given back (render-playlist.ts#releaser).
 */

const SLICE_BYTES = 256 * 1024;

export function endWith(res: ServerResponse, body: Buffer | undefined, done?: () => void): void {
  if (done) res.once('close', done);
  if (!body || body.length <= 2 * SLICE_BYTES) {
    res.end(body);
    return;
  }
  let offset = 0;
  const next = (): void => {
    while (offset < body.length) {
      if (res.destroyed) return; // the viewer went away: nothing more to write
      const end = Math.min(body.length, offset + SLICE_BYTES);
      const more = res.write(body.subarray(offset, end));
      offset = end;
      if (!more && offset < body.length) {
        res.once('drain', next);
        return;
      }
    }
    res.end();
  };
  next();
}
