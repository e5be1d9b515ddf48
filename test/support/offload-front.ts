/**
 * nginx in front of one proxy replica, built from the shipped templates (nginx/upstream.conf,
 * nginx/hls-proxy-location.conf, nginx/hls-proxy-offload.conf), for the offload tests (issue #16 §1).
 * Only the rows of the substitution tables change a template: the replica's port, the cache directories,
 * and whatever rows a test gives for the offload file (a CA to trust, shorter timeouts).
 *
 * `transparentFront` is the other shape: the suites' own requests (no /hls-proxy prefix, their own
 * X-Forwarded-* and X-Request-Id) passed to the proxy untouched, with only the offload announcement added
 * and the shipped offload file included as is. HLS_TEST_OFFLOAD=1 puts it in front of every proxy that
 * support/proxy.ts#startProxy starts, so the security, cache and core suites run with offload on.
 */
import { cacheDirRows, readRepoFile as read, substitute } from './deploy-kit.js';
import { startNginx, type Nginx } from './nginx.js';

export type Rows = ReadonlyArray<readonly [string, string]>;

async function upstreamConf(replicaPort: number, cacheDir?: string, serverRow?: readonly [string, string]): Promise<string> {
  // Default: inside the nginx's own prefix dir (support/nginx.ts substitutes __PREFIX__), removed with it.
  const dir = cacheDir ?? '__PREFIX__/cache';
  return substitute(read('nginx/upstream.conf'), [
    serverRow ?? ['server 127.0.0.1:8080 ', `server 127.0.0.1:${replicaPort} `],
    ['    server 127.0.0.1:8081 max_fails=1 fail_timeout=2s;\n', ''],
    ['    server 127.0.0.1:8082 max_fails=1 fail_timeout=2s;\n', ''],
    ...cacheDirRows(dir),
  ], 'upstream.conf');
}

const INCLUDE = 'include hls-sidecar/hls-proxy-offload.conf;';

/** The offload file with `rows` applied, in place of its include line (unchanged when there are none). */
function offloadInclude(rows: Rows): string {
  return rows.length === 0 ? INCLUDE : substitute(read('nginx/hls-proxy-offload.conf'), rows, 'hls-proxy-offload.conf');
}

export async function startTemplateFront(opts: { replicaPort: number; cacheDir?: string; offloadRows?: Rows }): Promise<Nginx> {
  const location = substitute(read('nginx/hls-proxy-location.conf'), [[INCLUDE, offloadInclude(opts.offloadRows ?? [])]], 'hls-proxy-location.conf');
  const conf = `${await upstreamConf(opts.replicaPort, opts.cacheDir)}\nserver {\n    listen 127.0.0.1:{{PORT}};\n    large_client_header_buffers 4 16k;\n${location}\n}\n`;
  return startNginx({ conf });
}

export async function transparentFront(replicaPort: number): Promise<Nginx> {
  // One replica that the suites make fail on purpose: never marked down (max_fails=0), or the next test's
  // requests would get nginx's 502 for 2 s.
  const server = ['server 127.0.0.1:8080 max_fails=1 fail_timeout=2s;', `server 127.0.0.1:${replicaPort} max_fails=0;`] as const;
  const conf = `${await upstreamConf(replicaPort, undefined, server)}
server {
    listen 127.0.0.1:{{PORT}};
    large_client_header_buffers 4 32k;
    client_max_body_size 0;
    location / {
        proxy_pass http://hls_sidecar;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-HLS-Sidecar-Offload /_hls_sidecar_offload/;
        proxy_set_header X-HLS-Sidecar-Stream "";
        proxy_buffering off;
        proxy_request_buffering off;
        proxy_redirect off;
        proxy_read_timeout 120s;
        proxy_next_upstream off;
    }
    ${INCLUDE}
}
`;
  return startNginx({ conf });
}
