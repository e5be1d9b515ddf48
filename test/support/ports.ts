/**
 * Loopback port helpers for integration tests. Everything binds to 127.0.0.1 (never a routable address),
 * so tests cannot send traffic off the machine.
 */
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * An ephemeral port that was free a moment ago: listen on 127.0.0.1:0, read the port, close.
 * There is an unavoidable window before the caller binds it; callers that can bind port 0 themselves should.
 * Only external programs (nginx, redis-server) that need a port number in their config use this.
 */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('freePort: no TCP address');
  return address.port;
}

/** True when something accepts a TCP connection on 127.0.0.1:port right now. */
export function portAccepts(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.removeAllListeners();
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}

export interface WaitForPortOptions {
  host?: string;
  /** Checked between attempts: lets a caller give up at once when the server process already exited. */
  abortIf?: () => string | undefined;
}

/**
 * Polls until 127.0.0.1:port accepts a connection; rejects after timeoutMs (or as soon as abortIf returns a
 * reason). Readiness is observed, never assumed from elapsed time.
 */
export async function waitForPort(port: number, timeoutMs = 10_000, opts: WaitForPortOptions = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const reason = opts.abortIf?.();
    if (reason !== undefined) throw new Error(`waitForPort(${port}): ${reason}`);
    if (await portAccepts(port, opts.host)) return;
    if (Date.now() >= deadline) throw new Error(`waitForPort(${port}): nothing listening after ${timeoutMs} ms`);
    await delay(Math.min(25 * 2 ** Math.min(attempt, 3), 200));
  }
}
