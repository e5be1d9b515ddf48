#!/usr/bin/env bash
# npm run bench — the side-by-side table of issue #16 §4 (not part of npm test).
#
# Builds hls-sidecar (dist/, so the proxy runs as it does in production), then runs bench/run.ts: origin
# nginx, hls-sidecar alone, hls-sidecar ×2 with Redis behind the shipped nginx templates, hlsd 3.6.6, a bare
# Node.js pipe and nginx proxy_pass, with wrk as the load generator in a process of its own (installed here
# with apt-get when missing and running as root, as scripts/test.sh installs the tests' packages; without it
# the bench falls back to autocannon inside its own process and says so). Results: bench/results/latest.md
# and latest.json, and the markdown on stdout.
#
# Knobs (environment):
#   BENCH_QUICK=1            one run each, 3 s loads, 10 s viewers (checks the harness, ~4 minutes)
#   BENCH_RUNS=3             measured runs per subject and row (medians reported)
#   BENCH_SECONDS=5          seconds per load run;  BENCH_WARMUP_SECONDS=1
#   BENCH_CONNECTIONS=50     playlist load connections;  BENCH_SEGMENT_CONNECTIONS=10
#   BENCH_VIEWERS=200,1000   live viewer counts;  BENCH_VIEWER_SECONDS=20;  BENCH_VIEWER_RUNS=1
#   BENCH_FANOUT_VIEWERS=200 BENCH_FANOUT_SPREAD_MS=2000 BENCH_FANOUT_ROUNDS=2   viewers of one new live segment
#   BENCH_LIVE_TARGET=2      live segment seconds;  BENCH_LEAK_SECONDS=0 (60: add the leak check, ~3 minutes)
#   BENCH_SUBJECTS=direct,sidecar-mem,sidecar-redis,hlsd,node-pipe,nginx-proxy
#   BENCH_LOADER=wrk|autocannon   force a load generator;  BENCH_WRK_THREADS=1;  BENCH_WRK_CPUS=1 (taskset -c list)
#   BENCH_FRONT_CACHE=off    the templates' nginx without its playlist and segment caches
#   BENCH_RUNNER=dist|tsx    tsx runs src/cli.ts without building;  BENCH_NO_BUILD=1 skips the build
#   BENCH_SIDECAR_ARGS="--log-level info"   extra hls-sidecar flags (default: --log-level warn, no access log)
#   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"   extra Node.js flags for hls-sidecar (profiling)
#   BENCH_RESULTS_DIR=bench/results;  BENCH_CORPUS=test/fixtures/conformance
#
# After a change to the report only: node --import tsx bench/render.ts re-renders latest.md from latest.json.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for c in nginx redis-server ffmpeg; do
  command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || missing+=("$c")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bench.sh: missing ${missing[*]} (Debian/Ubuntu: apt-get install nginx-light redis-server ffmpeg)" >&2
  exit 1
fi
if ! command -v wrk >/dev/null 2>&1 && [ "${BENCH_LOADER:-}" != autocannon ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench.sh: installing wrk with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null; }; then
      echo "bench.sh: apt-get could not install wrk; the bench falls back to autocannon" >&2
    fi
  else
    echo "bench.sh: wrk not installed (sudo apt-get install wrk); the bench falls back to autocannon in its own process" >&2
  fi
fi
if [ ! -f node_modules/@warren-bank/hls-proxy/hls-proxy/bin/hlsd.js ] || [ ! -d node_modules/autocannon ]; then
  echo "bench.sh: npm packages missing; run npm ci first" >&2
  exit 1
fi

if [ "${BENCH_RUNNER:-dist}" = dist ] && [ "${BENCH_NO_BUILD:-}" != 1 ]; then
  echo "bench.sh: building (npm run build)" >&2
  if ! npm run --silent build >&2; then
    # tsc still emits JavaScript when it reports type errors elsewhere in the tree; run.ts falls back to
    # tsx when dist/src/cli.js is absent.
    echo "bench.sh: npm run build reported errors; using whatever dist/ was emitted" >&2
  fi
fi

exec node --import tsx bench/run.ts
