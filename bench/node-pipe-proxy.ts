/**
 * The bench's second yardstick (not a contender): the least a Node.js reverse proxy can do for a request —
 * node:http's http.request to the origin over a keep-alive agent, status and body headers copied, the
 * upstream response piped to the client (backpressure by pipe). No routing, token decoding, egress checks,
 * rewriting, cache, metrics or logs. hls-sidecar's segment path does all that on top of the same two steps,
 * so the gap between the two is what our own code costs, and this subject's figures are the floor for any
 * proxy that streams through Node.
 *
 * Usage: node --import tsx bench/node-pipe-proxy.ts <port> <origin-url>   (listens on 127.0.0.1 only)
 */
import http from 'node:http';

const [portArg, origin] = process.argv.slice(2);
const upstream = new URL(origin!);
const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 4000, maxSockets: 512 });
const PASSED = ['content-type', 'content-length', 'content-range', 'accept-ranges', 'last-modified', 'etag'];

const server = http.createServer((req, res) => {
  const headers: http.OutgoingHttpHeaders = {};
  if (req.headers.range) headers.range = req.headers.range;
  const up = http.request({ host: upstream.hostname, port: upstream.port, path: req.url ?? '/', method: 'GET', headers, agent }, (body) => {
    const out: http.OutgoingHttpHeaders = {};
    for (const h of PASSED) {
      const v = body.headers[h];
      if (typeof v === 'string') out[h] = v;
    }
    res.writeHead(body.statusCode ?? 502, out);
    body.pipe(res);
    body.once('error', () => res.destroy());
  });
  up.once('error', () => {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  res.once('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  up.end();
});
server.listen(Number(portArg), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  agent.destroy();
  process.exit(0);
});
