#!/bin/sh
# Managed by sparks (django formula). Usage: sparks-nginx-check CANDIDATE_SITE_FILE
# Validates a candidate site with `nginx -t` in a throwaway nginx.conf that includes it (and mime types),
# so a broken site never replaces the live one. Exit status: nginx's.
set -eu
candidate=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/nginx.conf" <<CONF
pid $dir/nginx.pid;
error_log stderr;
events {}
http {
    include /etc/nginx/mime.types;
    access_log off;
    include $candidate;
}
CONF
exec nginx -t -q -c "$dir/nginx.conf"
