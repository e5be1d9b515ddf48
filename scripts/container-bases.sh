#!/usr/bin/env bash
# Makes local stand-ins for the official base images, for a machine with no container registry (issue #14):
#
#   localhost/hls-sidecar-stand-in/debian:bookworm   debootstrap --variant=minbase, imported with podman
#   localhost/hls-sidecar-stand-in/node:20           for deploy/Dockerfile's NODE_IMAGE (node:20-alpine)
#   localhost/hls-sidecar-stand-in/nginx:bookworm    for docker-compose.yml's nginx (nginx:1.28-alpine)
#   localhost/hls-sidecar-stand-in/redis:bookworm    for docker-compose.yml's redis (redis:7-alpine)
#
# All from Debian packages, plus this machine's Node.js binary and npm (Debian's own Node.js is older than
# 20). Each is built once and reused while present; FORCE=1 builds them again. Prints the four tags.
# With a registry, use the official images: the Dockerfile and the compose file name them by default.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/podman-env.sh
podman_require debootstrap

STAND_IN=localhost/hls-sidecar-stand-in
DEBIAN_TAG=$STAND_IN/debian:bookworm
FORCE=${FORCE:-0}
work=$(mktemp -d /var/tmp/hls-sidecar-bases.XXXXXX)
trap 'rm -rf "$work"' EXIT

present() { [ "$FORCE" != 1 ] && podman image exists "$1"; }

# The Debian mirror this machine's apt uses (deb822 or one-line sources), so debootstrap and apt inside the
# builds reach the same archive the host does.
mirror() {
  local m
  m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1 || true)
  [ -n "$m" ] || m=$(awk '$1=="deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "${m:-http://deb.debian.org/debian}"
}

if ! present "$DEBIAN_TAG"; then
  echo "container-bases: debootstrap bookworm (minbase)" >&2
  debootstrap --variant=minbase bookworm "$work/rootfs" "$(mirror)" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
  tar -C "$work/rootfs" -c . | podman import --change 'CMD ["/bin/sh"]' - "$DEBIAN_TAG" >/dev/null
fi

build() { # tag containerfile context
  present "$1" && return 0
  echo "container-bases: building $1" >&2
  podman build --quiet --network host --format docker --build-arg "DEBIAN_IMAGE=$DEBIAN_TAG" \
    -t "$1" -f "$2" "$3" >/dev/null
}

ctx="$work/ctx"
mkdir -p "$ctx"
cp scripts/container-bases/nginx-entrypoint.sh "$ctx/"
if ! present "$STAND_IN/node:20"; then
  node_bin=$(readlink -f "$(command -v node)")
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  [ "$("$node_bin" -p 'process.versions.node.split(".")[0]')" = 20 ] || { echo "container-bases: needs Node.js 20 on this machine" >&2; exit 1; }
  cp "$node_bin" "$ctx/node"
  cp -r "$npm_dir" "$ctx/npm"
  cp "${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}" "$ctx/ca-certificates.crt"
fi
build "$STAND_IN/node:20" scripts/container-bases/node.Containerfile "$ctx"
build "$STAND_IN/nginx:bookworm" scripts/container-bases/nginx.Containerfile "$ctx"
build "$STAND_IN/redis:bookworm" scripts/container-bases/redis.Containerfile "$ctx"
printf '%s\n' "$DEBIAN_TAG" "$STAND_IN/node:20" "$STAND_IN/nginx:bookworm" "$STAND_IN/redis:bookworm"
