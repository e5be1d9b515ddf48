import type { Config } from '../config.js';
import type { HookRunner } from '../hooks.js';
import type { Signer } from '../signing.js';
import type { RenderPool } from './render-pool.js';
import { rewriteForBase, type RenderInput, type RewriteDeps } from './rewrite-for-base.js';

export type { RenderInput } from './rewrite-for-base.js';

/**
 * Turns an upstream playlist into the bytes a viewer receives (rewrite-for-base.ts). The result depends only
 * on the upstream text and the viewer's public base, so it is memoised per (playlist version, base), already
 * UTF-8 encoded: a thousand viewers of one live channel behind one front server cost one rewrite and one
 * encode per refresh, not a thousand.
 *
 * Playlists of OFFLOAD_CHARS and more are rewritten on a worker thread when a pool is given, so a
 * 100k-segment VOD playlist does not hold up the small live playlists other viewers are waiting for.
 * With hlsd hooks configured everything stays on the main thread (hooks are functions of the main realm).
 */

export const OFFLOAD_CHARS = 256 * 1024;

export interface Renderer {
  render(input: RenderInput): Promise<Buffer>;
  /**
   * For a result of render() whose memory is to go back to the render worker: the function to call once
   * the response no longer needs it (its socket closed, or nothing was written). undefined for any other.
   */
  releaser(result: Buffer): (() => void) | undefined;
}

export function createRenderer(
  config: Pick<Config, 'manifestExtension' | 'segmentExtension'>,
  deps: {
    signer?: Signer | undefined;
    hooks?: HookRunner | undefined;
    pool?: RenderPool | undefined;
    onPoolError?: (err: unknown) => void;
    maxEntries?: number;
    maxBytes?: number;
  },
): Renderer {
  const maxEntries = deps.maxEntries ?? 256;
  const maxBytes = deps.maxBytes ?? 64 * 1024 * 1024;
  const memo = new Map<string, Buffer>();
  const inflight = new Map<string, Promise<Buffer>>();
  let memoBytes = 0;
  const rewriteDeps: RewriteDeps = {
    extOptions: { manifestExtension: config.manifestExtension, segmentExtension: config.segmentExtension },
    signer: deps.signer,
    hooks: deps.hooks,
  };

  function remember(key: string, bytes: Buffer): void {
    if (bytes.length > maxBytes / 4) return;
    memo.set(key, bytes);
    memoBytes += bytes.length;
    // Map iteration order is insertion order: the first keys are the least recently used.
    for (const [k, v] of memo) {
      if (memo.size <= maxEntries && memoBytes <= maxBytes) break;
      memo.delete(k);
      memoBytes -= v.length;
    }
  }

  const onMainThread = (input: RenderInput): Buffer => Buffer.from(rewriteForBase(input, rewriteDeps), 'utf8');
  let pool = deps.pool;
  // Results of the worker that are not memoised, with the number of responses still writing each; at zero
  // the memory goes back to the worker (a WeakMap: a result nobody releases is simply collected).
  const lent = new WeakMap<Buffer, { users: number }>();
  // Versions rendered once by the worker. A big result is memoised at its second request, not its first:
  // a cold 100k-segment playlist is usually asked for once (another query, another viewer's token), and
  // its memory is better used for the next one than kept (page faults, render-pool.ts).
  const seenOnce = new Map<string, true>();

  async function rewrite(input: RenderInput): Promise<{ bytes: Buffer; pooled: boolean }> {
    if (!pool || deps.hooks || input.body.length < OFFLOAD_CHARS) return { bytes: onMainThread(input), pooled: false };
    try {
      return { bytes: await pool.run(input), pooled: true };
    } catch (err) {
      // The worker could not start or died: rewrite here from now on rather than fail viewers.
      pool = undefined;
      deps.onPoolError?.(err);
      return { bytes: onMainThread(input), pooled: false };
    }
  }

  function lend(bytes: Buffer): Buffer {
    const loan = lent.get(bytes);
    if (loan) loan.users++;
    return bytes;
  }

  /** The first render of a version by the worker is lent, not memoised; the second is memoised. */
  function firstTime(key: string): boolean {
    if (seenOnce.delete(key)) return false;
    seenOnce.set(key, true);
    if (seenOnce.size > maxEntries * 4) seenOnce.delete(seenOnce.keys().next().value!);
    return true;
  }

  return {
    async render(input) {
      // Signatures with an expiry differ per second, so a signed, expiring output is never memoised.
      if (!input.version || (deps.signer && deps.signer.expires)) {
        const { bytes, pooled } = await rewrite(input);
        if (pooled && pool?.recycle) lent.set(bytes, { users: 1 });
        return bytes;
      }
      const vars = input.target.vars ? JSON.stringify(input.target.vars) : '';
      const key = `${input.version}\n${input.publicBase}\n${input.target.referer ?? ''}\n${vars}`;
      const hit = memo.get(key);
      if (hit) {
        memo.delete(key);
        memo.set(key, hit);
        return hit;
      }
      // Viewers asking for a new version at once share one rewrite (a stampede of renders of a big live
      // playlist after each refresh kept a core busy in the bench).
      const pending = inflight.get(key);
      if (pending) return lend(await pending);
      const rendering = rewrite(input).then(({ bytes, pooled }) => {
        if (pooled && pool?.recycle && firstTime(key)) lent.set(bytes, { users: 0 });
        else remember(key, bytes);
        return bytes;
      });
      inflight.set(key, rendering);
      try {
        return lend(await rendering);
      } finally {
        inflight.delete(key);
      }
    },
    releaser(result) {
      const loan = lent.get(result);
      if (!loan) return undefined;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        if (--loan.users > 0) return;
        lent.delete(result);
        pool?.recycle?.(result);
      };
    },
  };
}
