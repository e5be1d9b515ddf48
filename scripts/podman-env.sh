# Sourced by the container scripts: podman with this project's settings (scripts/podman/containers.conf).
# Installs podman and runc with apt-get when missing and running as root; otherwise names what is missing.
podman_env_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CONTAINERS_CONF="$podman_env_dir/podman/containers.conf"

podman_require() {
  local missing=() c
  for c in podman runc "$@"; do
    command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || missing+=("$c")
  done
  # compose's `init: true` (and podman run --init) runs podman's catatonit.
  [ -x /usr/libexec/podman/catatonit ] || missing+=(catatonit)
  [ "${#missing[@]}" -eq 0 ] && return 0
  local pkgs=() p
  for p in "${missing[@]}"; do
    case "$p" in
      runc) pkgs+=(runc) ;;
      podman) pkgs+=(podman containernetworking-plugins golang-github-containernetworking-plugin-dnsname) ;;
      debootstrap) pkgs+=(debootstrap) ;;
      docker-compose) pkgs+=(docker-compose) ;;
      *) pkgs+=("$p") ;;
    esac
  done
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "podman-env: installing ${pkgs[*]} with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  else
    echo "podman-env: missing: ${pkgs[*]} (sudo apt-get install ${pkgs[*]}); the container tests run as root" >&2
    return 1
  fi
}
