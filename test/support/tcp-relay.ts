/**
 * A TCP relay that adds delay, run as its own process inside a test host (issue #15: `tc netem` is not in
 * this kernel, so delay is made in userspace). Every chunk read from either side is written to the other
 * after `delay ± jitter` ms, in order (a chunk never overtakes the one before it), so the peer sees a slow
 * path, not reordering. SIGUSR1 turns the delay on, SIGUSR2 off; it starts off.
 *
 *   node --import tsx test/support/tcp-relay.ts <listen host:port> <target host:port> <delay ms> <jitter ms>
 */
import net from 'node:net';

function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

/**
 * One direction of a connection: chunks leave in order, each no earlier than its own due time. One queue
 * and one timer per direction: timers of different lengths that fall due together fire in no set order,
 * which would reorder the byte stream.
 */
function delayedPipe(from: net.Socket, to: net.Socket, delayMs: () => number): void {
  const queue: Array<{ due: number; chunk: Buffer | null }> = [];
  let timer: NodeJS.Timeout | undefined;
  const drain = (): void => {
    timer = undefined;
    while (queue.length > 0 && queue[0]!.due <= Date.now()) {
      const { chunk } = queue.shift()!;
      if (to.destroyed) continue;
      if (chunk === null) to.end();
      else to.write(chunk);
    }
    if (queue.length <= 16) from.resume();
    if (queue.length > 0) timer = setTimeout(drain, queue[0]!.due - Date.now());
  };
  const push = (chunk: Buffer | null): void => {
    const last = queue.at(-1)?.due ?? 0;
    queue.push({ due: Math.max(Date.now() + delayMs(), last), chunk });
    if (queue.length > 64) from.pause(); // bounded: at most 64 chunks held per direction
    if (timer === undefined) timer = setTimeout(drain, queue[0]!.due - Date.now());
  };
  from.on('data', (chunk: Buffer) => push(chunk));
  from.on('end', () => push(null));
  from.on('error', () => to.destroy());
  from.on('close', () => { if (queue.length === 0) to.destroy(); else push(null); });
}

export function startRelay(listen: string, target: string, delay: number, jitter: number): net.Server {
  let on = false;
  process.on('SIGUSR1', () => { on = true; });
  process.on('SIGUSR2', () => { on = false; });
  const delayMs = () => (on ? Math.max(0, delay + (Math.random() * 2 - 1) * jitter) : 0);
  const to = hostPort(target);
  const server = net.createServer((client) => {
    const upstream = net.connect(to);
    delayedPipe(client, upstream, delayMs);
    delayedPipe(upstream, client, delayMs);
  });
  const at = hostPort(listen);
  server.listen(at.port, at.host);
  return server;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [listen, target, delay, jitter] = process.argv.slice(2);
  startRelay(listen!, target!, Number(delay), Number(jitter));
}
