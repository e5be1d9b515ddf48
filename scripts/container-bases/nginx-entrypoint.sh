#!/bin/sh
# The official nginx image's entrypoint, as far as docker-compose.yml uses it:
#   /docker-entrypoint.d/*.envsh   sourced in order (executable ones only), so what they export is seen below;
#   20-envsubst-on-templates       /etc/nginx/templates/*.template -> /etc/nginx/conf.d/*, substituting only
#                                  variables set in the environment (nginx's own $variables stay).
set -eu
if [ "$1" = nginx ]; then
  for f in /docker-entrypoint.d/*.envsh; do
    [ -x "$f" ] || continue
    echo "nginx-entrypoint: sourcing $f" >&2
    . "$f"
  done
  defined=$(printf '${%s} ' $(env | cut -d= -f1))
  for t in /etc/nginx/templates/*.template; do
    [ -f "$t" ] || continue
    out="/etc/nginx/conf.d/$(basename "$t" .template)"
    envsubst "$defined" < "$t" > "$out"
    echo "nginx-entrypoint: rendered $t into $out" >&2
  done
fi
exec "$@"
