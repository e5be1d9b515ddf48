import { parentPort, workerData } from 'node:worker_threads';
import { createSigner } from '../signing.js';
import { rewriteForBase, type RenderInput, type RewriteDeps } from './rewrite-for-base.js';

/**
 * Worker-thread entry of render-pool.ts: rewrites big playlists off the main thread, so a 100k-segment
 * VOD playlist does not stall every other viewer's request for the ~100 ms its rewrite takes (issue #4).
 * The result goes back as a transferred buffer: no copy of the (often 10+ MB) output.
 */

export interface WorkerSetup {
  extOptions: RewriteDeps['extOptions'];
  signKeys: readonly string[];
  signTtlSec: number;
}

export type WorkerRequest = { id: number; input: RenderInput };
export type WorkerReply = { id: number; bytes: Uint8Array } | { id: number; error: string };

const setup = workerData as WorkerSetup;
const deps: RewriteDeps = {
  extOptions: setup.extOptions,
  signer: setup.signKeys.length ? createSigner(setup.signKeys, setup.signTtlSec, Date.now) : undefined,
};

parentPort!.on('message', ({ id, input }: WorkerRequest) => {
  try {
    const encoded = Buffer.from(rewriteForBase(input, deps), 'utf8');
    // A buffer that owns its whole ArrayBuffer can be transferred; a pooled slice is copied first.
    const bytes = encoded.byteOffset === 0 && encoded.buffer.byteLength === encoded.length ? encoded : Uint8Array.prototype.slice.call(encoded);
    parentPort!.postMessage({ id, bytes } satisfies WorkerReply, [bytes.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage({ id, error: String((err as Error)?.message ?? err) } satisfies WorkerReply);
  }
});
