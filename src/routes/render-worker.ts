import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { createSigner } from '../signing.js';
import { ByteWriter } from './byte-writer.js';
import { WARMUP_ROUNDS, warmupInput } from './render-warmup.js';
import { rewriteBytes } from './rewrite-bytes.js';
import { rewriteForBase, type RenderInput, type RewriteDeps } from './rewrite-for-base.js';

/**
 * Worker-thread entry of render-pool.ts: rewrites big playlists off the main thread, so a 100k-segment
 * VOD playlist does not stall every other viewer's request while it is rewritten (issue #4).
 *
 * The playlist arrives as UTF-8 in a SharedArrayBuffer the pool reuses (no copy of a multi-MB string per
 * message) and is rewritten on its bytes (rewrite-bytes.ts) into a writer whose memory goes back and forth
 * between the threads: the result is transferred, not copied, and given back once it was sent (pages
 * already touched, see byte-writer.ts). A playlist the byte path leaves alone (multivariant, with
 * variables) is rewritten by rewriteForBase as on the main thread.
 */

export interface WorkerSetup {
  extOptions: RewriteDeps['extOptions'];
  signKeys: readonly string[];
  signTtlSec: number;
}

/**
 * `shared` holds the body as UTF-8 (then `input.body` is ''); `warm` asks for the start-up rewrite;
 * `recycle` gives back the memory of a result the main thread is done with (no reply).
 */
export type WorkerRequest =
  | { id: number; input: RenderInput; shared?: { buffer: SharedArrayBuffer; length: number } }
  | { id: number; warm: true }
  | { recycle: ArrayBuffer };
export type WorkerReply = { id: number; bytes: Uint8Array } | { id: number; error: string };

type Job = Extract<WorkerRequest, { input: RenderInput }>;

interface WorkerRenderer {
  render(req: Job): Buffer;
  /** The start-up rewrite, a round per turn of the event loop; `done` once over (with the error, if any). */
  warm(done: (err?: unknown) => void): void;
  adopt(memory: ArrayBuffer): void;
}

function createWorkerRenderer(setup: WorkerSetup): WorkerRenderer {
  const deps: RewriteDeps = {
    extOptions: setup.extOptions,
    signer: setup.signKeys.length ? createSigner(setup.signKeys, setup.signTtlSec, Date.now) : undefined,
  };
  // Small to start with: the warm-up grows it, so growing is a path V8 has seen before a viewer's playlist.
  const out = new ByteWriter(64 * 1024);
  let jobs = 0;

  const rewrite = (input: RenderInput, src: Uint8Array, n: number): Buffer => {
    if (rewriteBytes(src, n, input, deps, out)) return out.take();
    const body = input.body || Buffer.from(src.buffer, src.byteOffset, n).toString('utf8');
    return Buffer.from(rewriteForBase({ ...input, body }, deps), 'utf8');
  };

  return {
    render(req) {
      jobs++;
      if (req.shared) return rewrite(req.input, new Uint8Array(req.shared.buffer, 0, req.shared.length), req.shared.length);
      const src = Buffer.from(req.input.body, 'utf8');
      return rewrite(req.input, src, src.length);
    },

    warm(done) {
      // Results leave this thread transferred, which detaches their ArrayBuffer, and the first detach in a
      // thread makes V8 throw away all optimised code that touches typed arrays (it assumed none ever would).
      // Detaching one now, before the loops are compiled, keeps the warm-up's compiled code (measured: the
      // first playlist after the warm-up took 3x as long as the second, the optimised code discarded by the
      // warm-up's own reply).
      const detached = new ArrayBuffer(1);
      structuredClone(detached, { transfer: [detached] });
      // The sample arrives as real playlists do: cloned, and in shared memory.
      const input = structuredClone(warmupInput());
      const bytes = Buffer.from(input.body, 'utf8');
      const shared = new Uint8Array(new SharedArrayBuffer(bytes.length));
      shared.set(bytes);
      // One round per turn of the event loop, so a viewer's playlist arriving meanwhile is rewritten at the
      // next turn instead of after the whole warm-up (on a busy machine the rounds took 50 ms each); none
      // once one has been. Rounds go on until V8's optimised code is in use, which shows as a round taking
      // a tenth of the first one: a fixed count ended while the optimising compiler (a background thread,
      // 25-120 ms per function here) was still at work, and the first 100k-segment playlist then ran
      // unoptimised, 150-230 ms instead of 30.
      let round = 0;
      let first = 0;
      const next = (): void => {
        try {
          const start = performance.now();
          rewrite({ ...input, body: '' }, shared, shared.length);
          const took = performance.now() - start;
          if (round++ === 0) first = took;
          const optimised = round >= WARMUP_ROUNDS.min && took <= first / 10;
          if (jobs > 0 || optimised || round >= WARMUP_ROUNDS.max) {
            // The string path, for the big playlists the byte path declines (multivariant): loaded at least.
            rewriteForBase(warmupInput(100), deps);
            return done();
          }
        } catch (err) {
          return done(err);
        }
        setImmediate(next);
      };
      next();
    },

    adopt: (memory) => out.adopt(memory),
  };
}

const worker = createWorkerRenderer(workerData as WorkerSetup);

/** Transferred, not copied. Only a buffer under half of Buffer.poolSize can be a slice of Node's shared pool
 * (which must stay here): such a small one is copied. A bigger one's ArrayBuffer is its alone (byte-writer.ts#take
 * may leave unused room at its end). */
function reply(id: number, encoded: Buffer): void {
  const bytes = encoded.length < Buffer.poolSize >>> 1 ? Uint8Array.prototype.slice.call(encoded) : encoded;
  parentPort!.postMessage({ id, bytes } satisfies WorkerReply, [bytes.buffer as ArrayBuffer]);
}

function fail(id: number, err: unknown): void {
  parentPort!.postMessage({ id, error: String((err as Error)?.message ?? err) } satisfies WorkerReply);
}

parentPort!.on('message', (req: WorkerRequest) => {
  if ('recycle' in req) return worker.adopt(req.recycle);
  if ('warm' in req) return worker.warm((err) => (err === undefined ? reply(req.id, Buffer.alloc(0)) : fail(req.id, err)));
  try {
    reply(req.id, worker.render(req));
  } catch (err) {
    fail(req.id, err);
  }
});
