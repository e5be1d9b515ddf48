/**
 * The two nginx roles in the bench: the origin (static files, sendfile) and the load balancer in front of
 * the two Redis-backed sidecar replicas. Both run through test/support/nginx.ts (own prefix dir, managed
 * process), with a full config so worker_connections can hold 1000 viewers plus upstream sockets.
 *
 * Access logging is off except where the bench counts requests: `live/` (playlist fetches reaching the
 * origin during the viewer runs) and the 20 MB range file (bytes the origin actually sent for a Range).
 */
import { open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { startNginx, wrapNginxConf, type Nginx } from '../test/support/nginx.js';

/** Full nginx.conf around a server block, sized for the viewer runs. */
export function benchNginxConf(server: string): string {
  return wrapNginxConf(server, '__PREFIX__')
    .replace(/worker_connections \d+;/, 'worker_connections 8192; multi_accept on;')
    .replace('worker_processes 1;', 'worker_processes 1;\nworker_rlimit_nofile 20000;');
}

const TYPES = `types {
    application/vnd.apple.mpegurl m3u8;
    video/mp2t ts;
    video/mp4 mp4 m4s;
    audio/mp4 m4a;
    application/octet-stream bin key;
  }`;

export interface BenchOrigin {
  nginx: Nginx;
  url: string;
  /** nginx 'combined' access log of live/ requests. */
  liveLog: string;
  /** nginx 'combined' access log of the range file. */
  rangeLog: string;
  close(): Promise<void>;
}

export async function startOriginNginx(root: string): Promise<BenchOrigin> {
  const server = `server {
  listen 127.0.0.1:__PORT__ backlog=4096;
  root ${root};
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  ${TYPES}
  location /live/ {
    access_log __PREFIX__/live.log combined;
    # Live playlists change every target duration; live segments never change (as a packager serves them).
    location ~ \.m3u8$ {
      add_header Cache-Control "no-cache";
    }
  }
  location = /big/file-20m.bin {
    access_log __PREFIX__/range.log combined;
  }
}`;
  const nginx = await startNginx({ conf: benchNginxConf(server) });
  return {
    nginx,
    url: nginx.url,
    liveLog: path.join(nginx.prefixDir, 'live.log'),
    rangeLog: path.join(nginx.prefixDir, 'range.log'),
    close: () => nginx.close(),
  };
}

/** nginx as a plain reverse proxy to the origin, with nginx's default proxy buffering (bench reference). */
export async function startProxyNginx(originUrl: string): Promise<Nginx> {
  const conf = benchNginxConf(`upstream origin {
    server ${new URL(originUrl).host};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:__PORT__ backlog=4096;
    access_log off;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_max_temp_file_size 0;
    }
  }`);
  return startNginx({ conf });
}

/**
 * The templates' own `include hls-sidecar/<file>;` lines (nginx/ is installed as /etc/nginx/hls-sidecar/)
 * replaced by that file of nginx/, so the bench's nginx, whose prefix is a temp dir, reads the same text.
 */
export async function inlineIncludes(text: string, templatesDir: string, depth = 0): Promise<string> {
  const include = /^[ \t]*include\s+hls-sidecar\/([\w.-]+);[ \t]*$/gm;
  const names = [...text.matchAll(include)].map((m) => m[1]!);
  if (!names.length || depth > 4) return text;
  const files = new Map<string, string>();
  for (const name of new Set(names)) files.set(name, await inlineIncludes(await readFile(path.join(templatesDir, name), 'utf8'), templatesDir, depth + 1));
  return text.replace(include, (_line, name: string) => files.get(name)!);
}

/**
 * The front nginx for the Redis replicas, built from the shipped templates (nginx/upstream.conf and
 * nginx/hls-proxy-location.conf) so the bench measures the recommended deployment: only the `server` lines
 * are replaced by the replicas, and `$host` by `$http_host` (the templates' own advice for a non-default
 * port, which every bench port is). Without the templates, a minimal equivalent is used.
 * Returns the nginx and the public prefix the replicas are reached under.
 */
export async function startFrontNginx(repoRoot: string, upstreamPorts: number[], frontCache: boolean): Promise<{ nginx: Nginx; prefix: string }> {
  const servers = upstreamPorts.map((p) => `    server 127.0.0.1:${p} max_fails=3 fail_timeout=10s;`).join('\n');
  const upstreamTpl = await readFile(path.join(repoRoot, 'nginx/upstream.conf'), 'utf8').catch(() => undefined);
  const locationTpl = await readFile(path.join(repoRoot, 'nginx/hls-proxy-location.conf'), 'utf8').catch(() => undefined);
  if (upstreamTpl && locationTpl && /upstream\s+hls_sidecar\s*\{/.test(upstreamTpl) && /location \/hls-proxy\//.test(locationTpl)) {
    const upstream = upstreamTpl
      .replace(/^\s*server\s+[^;]+;\s*$/gm, '')
      .replace(/(upstream\s+hls_sidecar\s*\{)/, `$1\n${servers}`)
      .replace(/(proxy_cache_path\s+)\S+\/([^/\s]+)/g, '$1__PREFIX__/$2');
    let location = (await inlineIncludes(locationTpl, path.join(repoRoot, 'nginx'))).replace(/\$host;/g, '$http_host;');
    if (!frontCache) location = location.replace(/proxy_cache\s+hls_sidecar_\w+;/g, 'proxy_cache off;');
    // sendfile and tcp_nopush as the http {} of Debian's nginx.conf sets them (the templates are included
    // into that http {}): nginx sends micro-cache copies with sendfile, and the template turns tcp_nopush off
    // for them (hls-proxy-location.conf says why).
    const conf = benchNginxConf(`${upstream}\nserver {\n  listen 127.0.0.1:__PORT__ backlog=4096;\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 1000000;\n${location}\n}`);
    return { nginx: await startNginx({ conf }), prefix: '/hls-proxy' };
  }
  const conf = benchNginxConf(`upstream sidecars {
${servers}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:__PORT__ backlog=4096;
    access_log off;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://sidecars;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
    }
  }`);
  return { nginx: await startNginx({ conf }), prefix: '' };
}

/** Byte offset of the end of a log file now (0 when it does not exist yet). */
export async function logMark(file: string): Promise<number> {
  return (await stat(file).catch(() => ({ size: 0 }))).size;
}

/** Lines appended to `file` since `mark`. nginx writes each access-log line with one write(2). */
export async function linesSince(file: string, mark: number): Promise<string[]> {
  const fh = await open(file, 'r').catch(() => undefined);
  if (!fh) return [];
  try {
    const { size } = await fh.stat();
    if (size <= mark) return [];
    const buf = Buffer.alloc(size - mark);
    await fh.read(buf, 0, buf.length, mark);
    return buf.toString('latin1').split('\n').filter((l) => l.length > 0);
  } finally {
    await fh.close();
  }
}

/** status and body_bytes_sent of a 'combined' log line. */
export function parseCombined(line: string): { request: string; status: number; bytes: number } | undefined {
  const m = /"([^"]*)" (\d{3}) (\d+|-)/.exec(line);
  if (!m) return undefined;
  return { request: m[1]!, status: Number(m[2]), bytes: m[3] === '-' ? 0 : Number(m[3]) };
}
