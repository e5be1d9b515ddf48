#!/usr/bin/env bash
# npm run test:faults (issue #15): the fault harness, test/faults/, inside a loopback-only network namespace
# (unshare -n) in which it builds its own test hosts (network namespaces linked by veth to one bridge), so
# nothing can leave the machine even when the code under test is broken. Needs root (ip netns, nftables).
# Bounded: killed after FAULTS_TIMEOUT seconds (default 600). FAULT_SECONDS sets the fault windows.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test-faults: needs root (ip netns, nftables)" >&2; exit 1; }
missing=()
command -v nft >/dev/null 2>&1 || missing+=(nftables)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test-faults: installing ${missing[*]} with apt-get" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
# The replicas run the built CLI (node dist/src/cli.js), as users run it.
npm run build --silent
# Namespaces a killed run left behind (their names start with hlsf).
ip netns list 2>/dev/null | awk '/^hlsf/ {print $1}' | xargs -r -n1 ip netns delete 2>/dev/null || true
if [ "$#" -eq 0 ]; then set -- 'test/faults/**/*.test.ts'; fi
exec timeout --kill-after=10 "${FAULTS_TIMEOUT:-600}" \
  unshare -n sh -c 'ip link set lo up && exec "$@"' netns npx mocha --timeout 600000 "$@"
