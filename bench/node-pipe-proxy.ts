/**
 * The bench's second yardstick (not a contender): the least a Node.js reverse proxy can do for a request —
 * undici to the origin over keep-alive, status and body headers copied, the body piped to the client with
 * backpressure. No routing, token decoding, egress checks, rewriting, cache, metrics or logs. hls-sidecar's
 * segment path does all that on top of the same two steps, so the gap between the two is what our own code
 * costs, and this subject's ratio to direct is the ceiling for any proxy that streams through Node.
 *
 * Usage: node --import tsx bench/node-pipe-proxy.ts <port> <origin-url>   (listens on 127.0.0.1 only)
 */
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Agent } from 'undici';

const [portArg, origin] = process.argv.slice(2);
const agent = new Agent({ keepAliveTimeout: 4000, connections: 512 });
const PASSED = ['content-type', 'content-length', 'content-range', 'accept-ranges', 'last-modified', 'etag'];

const server = http.createServer(async (req, res) => {
  const abort = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  try {
    const headers: Record<string, string> = {};
    if (req.headers.range) headers.range = req.headers.range;
    const up = await agent.request({ origin: origin!, path: req.url ?? '/', method: 'GET', headers, signal: abort.signal });
    const out: Record<string, string> = {};
    for (const h of PASSED) {
      const v = up.headers[h];
      if (typeof v === 'string') out[h] = v;
    }
    res.writeHead(up.statusCode, out);
    await pipeline(up.body, res);
  } catch {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  }
});
server.listen(Number(portArg), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void agent.close().finally(() => process.exit(0));
});
