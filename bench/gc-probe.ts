/**
 * Memory of a Node process after a full garbage collection, for the leak check. RSS and heap-used sampled
 * at an arbitrary moment mostly show where V8 is in its GC cycle (tens of MB of garbage come and go under
 * load); after a forced full GC, what remains is what the process actually holds.
 *
 * The proxy is started with `--inspect-port=127.0.0.1:<free port>`, which opens nothing by itself; SIGUSR1
 * (Node's documented way to activate the inspector at run time) opens it on that loopback port only when
 * the probe runs, after the measurements that it could disturb. The Chrome DevTools Protocol then asks for
 * HeapProfiler.collectGarbage and evaluates process.memoryUsage().
 */
import { setTimeout as delay } from 'node:timers/promises';
import { request, WebSocket } from 'undici';
import { portAccepts } from '../test/support/ports.js';

export interface AfterGc {
  heapUsedMB: number;
  rssMB: number;
}

async function inspectorUrl(pid: number, port: number): Promise<string> {
  if (!(await portAccepts(port))) {
    process.kill(pid, 'SIGUSR1');
    for (let i = 0; i < 50 && !(await portAccepts(port)); i++) await delay(100);
  }
  const res = await request(`http://127.0.0.1:${port}/json/list`);
  const list = (await res.body.json()) as Array<{ webSocketDebuggerUrl?: string }>;
  const url = list[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`inspector of pid ${pid} on port ${port}: no debugger URL`);
  return url;
}

/** Sends CDP commands in order over one connection; resolves with each command's result. */
async function cdp(url: string, commands: Array<{ method: string; params?: Record<string, unknown> }>): Promise<unknown[]> {
  const ws = new WebSocket(url);
  const pending = new Map<number, (result: unknown) => void>();
  ws.addEventListener('message', (ev) => {
    const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.error ? { error: msg.error } : msg.result);
  });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error(`cannot open ${url}`)), { once: true });
  });
  try {
    const results: unknown[] = [];
    for (const [i, cmd] of commands.entries()) {
      const done = new Promise<unknown>((resolve) => pending.set(i + 1, resolve));
      ws.send(JSON.stringify({ id: i + 1, ...cmd }));
      results.push(await Promise.race([done, delay(30_000).then(() => ({ error: 'timeout' }))]));
    }
    return results;
  } finally {
    ws.close();
  }
}

/** Full GC (twice: the first may only schedule finalisation work), then process.memoryUsage(). */
export async function memoryAfterGc(pid: number, inspectPort: number): Promise<AfterGc> {
  try {
    const url = await inspectorUrl(pid, inspectPort);
    const results = await cdp(url, [
      { method: 'HeapProfiler.collectGarbage' },
      { method: 'HeapProfiler.collectGarbage' },
      { method: 'Runtime.evaluate', params: { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true } },
    ]);
    const value = (results[2] as { result?: { value?: string } } | undefined)?.result?.value;
    const mem = JSON.parse(value ?? '{}') as { heapUsed?: number; rss?: number };
    return { heapUsedMB: (mem.heapUsed ?? NaN) / 2 ** 20, rssMB: (mem.rss ?? NaN) / 2 ** 20 };
  } catch {
    return { heapUsedMB: NaN, rssMB: NaN };
  }
}
