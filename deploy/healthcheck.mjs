#!/usr/bin/env node
// hls-sidecar health probe for containers: `node deploy/healthcheck.mjs [healthz|readyz]`.
// Used by deploy/Dockerfile (HEALTHCHECK) and docker-compose.yml, so the image needs no curl or wget.
//
// It reads the same environment the proxy reads (HLS_SIDECAR_PORT, _BIND, _PREFIX, _TLS) to find the
// endpoint, asks <prefix>/healthz (default; liveness) or <prefix>/readyz, and exits 0 on 200, 1 otherwise,
// printing one line that Docker keeps in `docker inspect` health logs. /readyz answers 200 "degraded"
// when Redis is unreachable: still serving, so still healthy.
import http from 'node:http';
import https from 'node:https';

const TIMEOUT_MS = 3000;
const env = process.env;

const endpoint = process.argv[2] === 'readyz' ? 'readyz' : 'healthz';
const port = Number(env.HLS_SIDECAR_PORT || 8080);
// Same spelling the proxy accepts for booleans: true or 1.
const tls = /^(true|1)$/.test(env.HLS_SIDECAR_TLS ?? '');

// Listening on all interfaces (empty, 0.0.0.0, ::) is reachable on loopback; a specific address is not.
const bind = (env.HLS_SIDECAR_BIND ?? '').trim();
const host = bind === '' || bind === '0.0.0.0' ? '127.0.0.1' : bind === '::' ? '::1' : bind;

// --prefix is normalised by the proxy to '' or '/a/b' (no trailing slash); do the same here.
const rawPrefix = (env.HLS_SIDECAR_PREFIX ?? '').trim();
const prefix = rawPrefix === '' || rawPrefix === '/' ? '' : `/${rawPrefix.replace(/^\/+|\/+$/g, '')}`;

const request = (tls ? https : http).request(
  {
    host,
    port,
    path: `${prefix}/${endpoint}`,
    method: 'GET',
    timeout: TIMEOUT_MS,
    // The probe talks to this very process on loopback; its certificate names the public host.
    rejectUnauthorized: false,
  },
  (res) => {
    res.resume();
    const ok = res.statusCode === 200;
    (ok ? console.log : console.error)(`${endpoint}: HTTP ${res.statusCode}`);
    process.exitCode = ok ? 0 : 1;
  },
);
request.on('timeout', () => request.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
request.on('error', (err) => {
  console.error(`${endpoint}: ${err.message}`);
  process.exitCode = 1;
});
request.end();
