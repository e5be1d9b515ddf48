import { Worker } from 'node:worker_threads';
import type { RenderInput } from './rewrite-for-base.js';
import type { WorkerReply, WorkerSetup } from './render-worker.js';

/**
 * One lazily started worker thread for rewriting big playlists (render-playlist.ts decides which). One is
 * enough: the point is to keep the main thread's event loop free, not to rewrite several huge playlists at
 * once on a 2-core sidecar. The worker is unref'd, so it never keeps the process alive, and is terminated
 * on close. A worker that cannot start or dies rejects its pending jobs; render-playlist.ts then rewrites on
 * the main thread (running from TypeScript sources without a spawner, e.g. `tsx src/cli.ts`, ends up there).
 */

export interface RenderPool {
  run(input: RenderInput): Promise<Buffer>;
  close(): Promise<void>;
}

/** Starts the worker; tests running TypeScript sources pass one that loads render-worker.ts through tsx. */
export type WorkerSpawner = (setup: WorkerSetup) => Worker;

const spawnBuilt: WorkerSpawner = (setup) => new Worker(new URL('./render-worker.js', import.meta.url), { workerData: setup });

export function createRenderPool(setup: WorkerSetup, spawn: WorkerSpawner = spawnBuilt): RenderPool {
  let worker: Worker | undefined;
  let nextId = 1;
  const pending = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();

  function failAll(err: Error): void {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    worker = undefined;
  }

  function start(): Worker {
    const w = spawn(setup);
    w.unref();
    w.on('message', (reply: WorkerReply) => {
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      if ('error' in reply) p.reject(new Error(reply.error));
      else p.resolve(Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength));
    });
    w.on('error', (err) => failAll(err));
    w.on('exit', (code) => failAll(new Error(`render worker exited with ${code}`)));
    return w;
  }

  return {
    run(input) {
      worker ??= start();
      const id = nextId++;
      return new Promise<Buffer>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker!.postMessage({ id, input });
      });
    },
    async close() {
      const w = worker;
      worker = undefined;
      if (w) await w.terminate();
    },
  };
}
