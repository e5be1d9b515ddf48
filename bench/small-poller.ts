/**
 * The small-playlist poller of bench/cold-big-playlist.ts, run in a process of its own (fork): in the bench's
 * process its timings would include the time that process spends taking in 9 MB responses, which is the
 * client's delay, not the proxy's. On the message {url} it asks for `url` `rps` times a second, each request
 * timed, on a connection pool of its own; on the message 'stop' it sends back every request as
 * [sent at (ms since the epoch), latency (ms)] and exits.
 *
 *   node --import tsx bench/small-poller.ts <rps>     (forked by cold-big-playlist.ts)
 */
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';

const rps = Number(process.argv[2] ?? 200);
if (!process.send) throw new Error('small-poller: forked by bench/cold-big-playlist.ts');
const agent = new Agent({ connections: 16 });
const samples: Array<[number, number]> = [];
const inflight = new Set<Promise<void>>();
let timer: NodeJS.Timeout | undefined;

async function once(url: string): Promise<void> {
  const start = performance.now();
  const res = await request(url, { dispatcher: agent });
  await res.body.dump();
  if (res.statusCode === 200) samples.push([performance.timeOrigin + start, performance.now() - start]);
}

process.on('message', (message: { url: string } | 'stop') => {
  if (message === 'stop') {
    clearInterval(timer);
    void Promise.all(inflight).then(() => process.send!(samples, () => process.exit(0)));
    return;
  }
  timer = setInterval(() => {
    const p = once(message.url).catch(() => undefined);
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }, 1000 / rps);
});
process.send('ready');
