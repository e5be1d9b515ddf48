#!/usr/bin/env bash
# Self-signed TLS certificate for trying hls-sidecar locally (docker-compose.yml mounts deploy/certs into
# nginx). NOT for production: browsers warn, and players refuse it unless you trust it explicitly.
#
#   deploy/make-dev-cert.sh [output-dir] [host-name]
#     output-dir  default: deploy/certs next to this script   -> dev.crt, dev.key
#     host-name   default: localhost (also valid for 127.0.0.1 and ::1)
#
# Re-running replaces the pair. Validate: openssl x509 -in deploy/certs/dev.crt -noout -subject -ext subjectAltName
set -euo pipefail

out_dir="${1:-$(cd "$(dirname "$0")" && pwd)/certs}"
host="${2:-localhost}"
days="${DEV_CERT_DAYS:-30}"

command -v openssl >/dev/null 2>&1 || { echo "make-dev-cert.sh: openssl is required" >&2; exit 1; }
if ! [[ "$host" =~ ^[A-Za-z0-9.-]+$ ]]; then
  echo "make-dev-cert.sh: host name must be letters, digits, dots and hyphens" >&2
  exit 2
fi

mkdir -p "$out_dir"
# Never commit these: the directory ignores its own contents.
printf '*\n' > "$out_dir/.gitignore"

umask 077
# Browsers ignore the CN and match subjectAltName only (RFC 6125 section 6.4.4), so both are set.
# -addext needs OpenSSL 1.1.1 or later.
# openssl prints key-generation progress on stderr: keep it quiet unless something fails.
if ! log="$(openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days "$days" \
  -subj "/CN=$host" \
  -addext "subjectAltName=DNS:$host,DNS:localhost,IP:127.0.0.1,IP:::1" \
  -addext "keyUsage=digitalSignature,keyEncipherment" \
  -addext "extendedKeyUsage=serverAuth" \
  -keyout "$out_dir/dev.key" -out "$out_dir/dev.crt" 2>&1)"; then
  printf '%s\n' "$log" >&2
  echo "make-dev-cert.sh: openssl failed" >&2
  exit 1
fi
# The certificate is public; the key stays owner-only (nginx's master process reads it as root).
chmod 644 "$out_dir/dev.crt"

echo "make-dev-cert.sh: wrote $out_dir/dev.crt and $out_dir/dev.key for $host, valid $days days"
