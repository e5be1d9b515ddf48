#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine with Node 20 (README quick start, .ci/run).
# Installs what the tests need: npm packages, and redis-server, nginx, ffmpeg, chromium, docker-compose (only
# `docker-compose config`: no engine needed), gettext-base (envsubst, as the nginx image renders the compose
# template) through apt-get when
# missing and running as root; otherwise stops naming what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_cmds=(redis-server nginx ffmpeg ffprobe chromium unshare ip openssl docker-compose envsubst)
pkg_for() {
  case "$1" in
    redis-server) echo redis-server ;;
    nginx) echo nginx-light ;;
    ffmpeg|ffprobe) echo ffmpeg ;;
    chromium) echo chromium ;;
    unshare) echo util-linux ;;
    ip) echo iproute2 ;;
    openssl) echo openssl ;;
    docker-compose) echo docker-compose ;;
    envsubst) echo gettext-base ;;
  esac
}
missing=()
for c in "${need_cmds[@]}"; do
  command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || missing+=("$(pkg_for "$c")")
done
if [ "${#missing[@]}" -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${missing[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "test.sh: missing system packages: ${missing[*]}" >&2
    echo "test.sh: install them (sudo apt-get install ${missing[*]}) and run again" >&2
    exit 1
  fi
fi

# npm packages: install when node_modules is absent or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "test.sh: installing npm packages" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "test.sh: type-checking" >&2
npx tsc -p tsconfig.json --noEmit
if [ "$#" -eq 0 ]; then set -- "test/unit/**/*.test.ts" "test/integration/**/*.test.ts"; fi
exec npx mocha "$@"
