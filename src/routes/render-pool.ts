import { Worker } from 'node:worker_threads';
import type { RenderInput } from './rewrite-for-base.js';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './render-worker.js';

/**
 * One worker thread for rewriting big playlists (render-playlist.ts decides which). One is enough: the point
 * is to keep the main thread's event loop free, not to rewrite several huge playlists at once on a 2-core
 * sidecar. The server starts and warms it before it opens its port (warm(), server.ts#WARM_WAIT_MS), so the first
 * big playlist does not wait for a thread to start and its code to be compiled (measured: 590 ms for the first cold
 * 100k-segment playlist against 270 ms for the next ones). The worker is unref'd, so it never keeps the
 * process alive, and is terminated on close. A worker that cannot start or dies rejects its pending jobs;
 * render-playlist.ts then rewrites on the main thread.
 *
 * Memory is used again rather than allocated per playlist, because touching fresh pages is what costs most
 * here (byte-writer.ts): the playlist goes to the worker as UTF-8 in a SharedArrayBuffer kept for the next
 * one (writing a 3 MB string into memory already touched costs ~0.3 ms of the main thread, cloning it into
 * a message ~9 ms), and a result comes back transferred, and goes back to the worker by recycle() once it
 * has been sent (render-playlist.ts decides when).
 */

export interface RenderPool {
  run(input: RenderInput): Promise<Buffer>;
  /** Gives a result of run() back once nothing reads it any more (the buffer is unusable afterwards). */
  recycle?(result: Buffer): void;
  close(): Promise<void>;
}

export interface WorkerPool extends RenderPool {
  /** Starts the worker and has it rewrite a sample playlist; false when closed first. Rejects when it cannot start. */
  warm(): Promise<boolean>;
  /** A worker thread is up (started and not terminated). */
  running(): boolean;
  /** Playlists the worker rewrote (the warm-up not counted). */
  jobs(): number;
}

/** Starts the worker; tests running TypeScript sources pass one that loads render-worker.ts through tsx. */
export type WorkerSpawner = (setup: WorkerSetup) => Worker;

/**
 * The worker next to this module: render-worker.js when built. Running the TypeScript sources
 * (`node --import tsx src/cli.ts`, the integration tests) a worker does not inherit the loader hooks on
 * Node 20, so it registers tsx itself before loading render-worker.ts; tsx is then present by definition.
 */
export const spawnRenderWorker: WorkerSpawner = (setup) => {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./render-worker.js', import.meta.url), { workerData: setup });
  const entry = new URL('./render-worker.ts', import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`, { eval: true, workerData: setup });
};

/** Shared input buffers are sized in steps of 1 MiB, so playlists that grow a little reuse the same one. */
const SHARED_STEP = 1024 * 1024;

export function createRenderPool(setup: WorkerSetup, spawn: WorkerSpawner = spawnRenderWorker): WorkerPool {
  // recycle() detaches ArrayBuffers on this thread, and the first detach in a thread makes V8 throw away
  // the optimised code of everything that touches typed arrays (the HTTP parser, Buffer, undici...), to be
  // compiled again while viewers wait. One detach now, before that code is hot, costs nothing.
  const early = new ArrayBuffer(1);
  structuredClone(early, { transfer: [early] });
  let worker: Worker | undefined;
  let nextId = 1;
  let done = 0;
  let closed = false;
  const pending = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();
  // The one input buffer kept between jobs (a job holds it while the worker reads it).
  let spare: SharedArrayBuffer | undefined;

  function failAll(err: Error): void {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    worker = undefined;
  }
  /** Only the current worker's end fails the jobs: a crashed one's late 'exit' must not fail its successor's. */
  const ended = (w: Worker) => (err: Error) => {
    if (worker === w) failAll(err);
  };

  function start(): Worker {
    const w = spawn(setup);
    w.unref();
    worker = w;
    w.on('message', (reply: WorkerReply) => {
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      if ('error' in reply) p.reject(new Error(reply.error));
      else p.resolve(Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength));
    });
    w.on('error', ended(w));
    w.on('exit', (code) => ended(w)(new Error(`render worker exited with ${code}`)));
    return w;
  }

  function post(req: Exclude<WorkerRequest, { recycle: ArrayBuffer }>): Promise<Buffer> {
    if (closed) return Promise.reject(new Error('render worker closed'));
    const w = worker ?? start();
    return new Promise<Buffer>((resolve, reject) => {
      pending.set(req.id, { resolve, reject });
      w.postMessage(req);
    });
  }

  function takeShared(bytes: number): SharedArrayBuffer {
    const sab = spare && spare.byteLength >= bytes ? spare : new SharedArrayBuffer(Math.ceil(bytes / SHARED_STEP) * SHARED_STEP);
    if (sab === spare) spare = undefined;
    return sab;
  }

  return {
    async run(input) {
      const sab = takeShared(Buffer.byteLength(input.body, 'utf8'));
      const length = Buffer.from(sab).write(input.body, 0, 'utf8');
      try {
        const out = await post({ id: nextId++, input: { ...input, body: '' }, shared: { buffer: sab, length } });
        done++;
        return out;
      } finally {
        if (!closed && (!spare || spare.byteLength < sab.byteLength)) spare = sab;
      }
    },
    async warm() {
      try {
        await post({ id: nextId++, warm: true });
        return true;
      } catch (err) {
        if (closed) return false;
        throw err;
      }
    },
    recycle(result) {
      // Transferred back (this side's view of it is emptied): the worker writes its next result there.
      const memory = result.buffer;
      if (worker && memory instanceof ArrayBuffer && memory.byteLength > 0) worker.postMessage({ recycle: memory } satisfies WorkerRequest, [memory]);
    },
    running: () => worker !== undefined,
    jobs: () => done,
    async close() {
      closed = true;
      spare = undefined;
      const w = worker;
      failAll(new Error('render worker closed'));
      if (w) await w.terminate();
    },
  };
}
