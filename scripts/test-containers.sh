#!/usr/bin/env bash
# npm run test:containers (issue #14): the container image and the compose stack, run for real with podman.
#   1. installs podman, runc, catatonit, debootstrap and docker-compose with apt-get when missing (as root);
#   2. makes the stand-in base images (scripts/container-bases.sh; reused while present);
#   3. builds deploy/Dockerfile with `npm ci` inside it (this step needs the npm registry);
#   4. runs test/containers/ inside a loopback-only network namespace (unshare -n): the compose bridge
#      network, its containers and everything they reach live there, so nothing can leave the machine.
# Bounded: the whole run is killed after CONTAINERS_TIMEOUT seconds (default 600); containers of the
# suite's projects are removed at the end either way.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/podman-env.sh
[ "$(id -u)" = 0 ] || { echo "test-containers: needs root (podman's bridge networks and unshare -n)" >&2; exit 1; }
podman_require debootstrap docker-compose
command -v ffmpeg >/dev/null && command -v chromium >/dev/null && command -v unshare >/dev/null \
  || { echo "test-containers: run the README's test command once first (it installs ffmpeg and chromium)" >&2; exit 1; }
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error

bases=$(bash scripts/container-bases.sh)
export HLS_NODE_IMAGE=$(sed -n 2p <<<"$bases") HLS_NGINX_IMAGE=$(sed -n 3p <<<"$bases") HLS_REDIS_IMAGE=$(sed -n 4p <<<"$bases")
export HLS_SIDECAR_IMAGE=localhost/hls-sidecar:local

echo "test-containers: building $HLS_SIDECAR_IMAGE from deploy/Dockerfile (NODE_IMAGE=$HLS_NODE_IMAGE)" >&2
t0=$(date +%s)
podman build --quiet --network host --format docker --build-arg "NODE_IMAGE=$HLS_NODE_IMAGE" \
  -t "$HLS_SIDECAR_IMAGE" -f deploy/Dockerfile . >/dev/null
echo "test-containers: image built in $(( $(date +%s) - t0 )) s, $(podman image inspect --format '{{.Size}}' "$HLS_SIDECAR_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')" >&2
podman image prune -f >/dev/null 2>&1 || true

cleanup() {
  podman ps -a --format '{{.Names}}' | grep -E '^hlsct' | xargs -r podman rm -f -t 0 >/dev/null 2>&1 || true
  podman network ls --format '{{.Name}}' | grep -E '^hlsct' | xargs -r podman network rm -f >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
if [ "$#" -eq 0 ]; then set -- 'test/containers/**/*.test.ts'; fi
timeout --kill-after=10 "${CONTAINERS_TIMEOUT:-600}" \
  unshare -n sh -c 'ip link set lo up && exec "$@"' netns npx mocha --timeout 180000 "$@"
