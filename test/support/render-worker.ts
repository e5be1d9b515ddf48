import { spawnRenderWorker, type WorkerSpawner } from '../../src/routes/render-pool.js';

/**
 * The render worker for tests, which run the TypeScript sources: render-pool.ts's own spawner registers tsx
 * in the worker before loading src/routes/render-worker.ts (a worker does not inherit the main thread's
 * loader hooks on Node 20). Kept as a name of its own so tests say which worker they start.
 */
export const tsxRenderWorker: WorkerSpawner = spawnRenderWorker;
