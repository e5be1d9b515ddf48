/**
 * Runs INSIDE a loopback-only network namespace (security-netns.test.ts starts it with
 * runInLoopbackNetns): starts two local origins and the proxies described on stdin, sends each case through
 * its proxy, and prints one JSON line with the results. Cases name non-loopback upstreams (169.254.169.254,
 * 10.x, public names), which is why this runs where no route leads anywhere: a broken refusal can only
 * fail with ENETUNREACH here, never reach a real host.
 *
 * stdin: { dns: {name: [addresses]}, proxies: {name: options}, cases: [{proxy, url, ext?}] }
 *   In option values and URLs, {port} is the allowed origin's port and {other} the secret origin's port.
 *   An origin path `/redirect?to=<url-encoded target>` answers 302 to the target.
 * stdout: { interfaces: string[], results: [{status, body, asked, originHits, secretHits}] }
 */
import { networkInterfaces } from 'node:os';
import { text } from 'node:stream/consumers';
import { request } from 'undici';
import { startOrigin } from './origin.js';
import { startProxy, type RunningProxy } from './proxy.js';
import { makeSecurityRoot, tableResolver, tokenPath } from './security-kit.js';

interface ProbeInput {
  dns: Record<string, string[]>;
  proxies: Record<string, Record<string, unknown>>;
  cases: Array<{ proxy: string; url: string; ext?: string }>;
}

const input = JSON.parse(await text(process.stdin)) as ProbeInput;
const root = makeSecurityRoot();
const origin = await startOrigin({ root });
const secret = await startOrigin({ root });
for (const o of [origin, secret]) {
  o.override(/^\/redirect\?/, (req, res) => {
    const to = new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('to') ?? '/';
    res.writeHead(302, { location: to }).end();
  });
}
const fill = (s: string): string => s.replaceAll('{port}', String(origin.port)).replaceAll('{other}', String(secret.port));
const fillDeep = (v: unknown): unknown => (typeof v === 'string' ? fill(v) : Array.isArray(v) ? v.map(fillDeep) : v);

const resolver = tableResolver(input.dns);
const proxies: Record<string, RunningProxy> = {};
for (const [name, options] of Object.entries(input.proxies)) {
  const filled = Object.fromEntries(Object.entries(options).map(([k, v]) => [k, fillDeep(v)]));
  proxies[name] = await startProxy(filled, { resolveHost: resolver });
}

const results = [];
for (const c of input.cases) {
  const proxy = proxies[c.proxy];
  if (!proxy) throw new Error(`no proxy named ${c.proxy}`);
  resolver.asked.length = 0;
  const before = [origin.countRequests(), secret.countRequests()];
  const res = await request(`${proxy.url}${tokenPath(fill(c.url), c.ext ?? 'm3u8')}`);
  const body = await res.body.text();
  results.push({
    status: res.statusCode,
    body,
    asked: [...resolver.asked],
    originHits: origin.countRequests() - before[0]!,
    secretHits: secret.countRequests() - before[1]!,
  });
}

for (const p of Object.values(proxies)) await p.close();
await origin.close();
await secret.close();
process.stdout.write(`${JSON.stringify({ interfaces: Object.keys(networkInterfaces()), results })}\n`);
process.exit(0);
