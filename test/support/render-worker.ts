import { Worker } from 'node:worker_threads';
import type { WorkerSpawner } from '../../src/routes/render-pool.js';

/**
 * The render worker for tests, which run the TypeScript sources: the worker registers tsx before loading
 * src/routes/render-worker.ts (a worker does not inherit the main thread's loader hooks on Node 20).
 */
export const tsxRenderWorker: WorkerSpawner = (setup) => {
  const entry = new URL('../../src/routes/render-worker.ts', import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`, {
    eval: true,
    workerData: setup,
  });
};
