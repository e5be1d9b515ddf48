import { Worker } from 'node:worker_threads';
import type { RenderInput } from './rewrite-for-base.js';
import type { WorkerReply, WorkerSetup } from './render-worker.js';

/**
 * One lazily started worker thread for rewriting big playlists (render-playlist.ts decides which). One is
 * enough: the point is to keep the main thread's event loop free, not to rewrite several huge playlists at
 * once on a 2-core sidecar. The worker is unref'd, so it never keeps the process alive, and is terminated
 * on close.
 */

export interface RenderPool {
  run(input: RenderInput): Promise<Buffer>;
  close(): Promise<void>;
}

export function createRenderPool(setup: WorkerSetup): RenderPool {
  let worker: Worker | undefined;
  let nextId = 1;
  const pending = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();

  function failAll(err: Error): void {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    worker = undefined;
  }

  function start(): Worker {
    // Under tsx (tests, development) the entry is TypeScript: the worker registers the same loader first.
    const ts = import.meta.url.endsWith('.ts');
    const entry = new URL(`./render-worker.${ts ? 'ts' : 'js'}`, import.meta.url);
    const w = ts
      ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`, { eval: true, workerData: setup })
      : new Worker(entry, { workerData: setup });
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
