#!/bin/bash
# Managed by sparks (formula `backup`). Usage, as root:
#
#   sparks-restore database NAME [AGE]     the dump of NAME, restored into the database NAME
#   sparks-restore directory PATH [AGE]    PATH (a directory or file: Django media, a path from pillar)
#
# AGE: as duplicity takes it (3D, 2024-05-01...); default the latest backup. Called by `state.apply backup.restore`.
# The database: its other connections are closed, then pg_restore --clean replaces its content in one
# transaction (all or nothing). A path: fetched next to itself, then swapped in; what was there is kept as
# PATH.before-restore-<time>.
set -euo pipefail
umask 077
cd /  # commands run as postgres must not start in root's home
SPOOL=/var/backups/sparks PROFILE=sparks CLUSTER=""
# shellcheck source=/dev/null
. /etc/sparks/backup.conf
kind=${1:-}
what=${2:-}
age=${3:-}
scratch=$(mktemp -d "$SPOOL/restore.XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM

fetch() {  # fetch ABSOLUTE_PATH DESTINATION: one path out of the backup (its paths are relative to /)
    duply "$PROFILE" fetch "${1#/}" "$2" ${age:+"$age"}
}

case "$kind" in
database)
    fetch "$SPOOL/spool/postgres/$what.dump" "$scratch/$what.dump"
    # psql interpolates :'db' (quoted for SQL) only in what it reads, not in -c.
    echo "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :'db' AND pid <> pg_backend_pid()" |
        runuser -u postgres -- psql --cluster "$CLUSTER" -d postgres -v ON_ERROR_STOP=1 -qAt -v db="$what" >/dev/null
    # Read by root and handed over on stdin: the spool is root's only.
    runuser -u postgres -- pg_restore --cluster "$CLUSTER" --clean --if-exists --single-transaction \
        --exit-on-error -d "$what" <"$scratch/$what.dump"
    echo "sparks-restore: database $what restored"
    ;;
directory)
    path=${what%/}
    parent=$(dirname "$path")
    mkdir -p "$parent"
    incoming="$parent/.$(basename "$path").restoring.$$"
    rm -rf "$incoming"
    fetch "$path" "$incoming"
    if [ -e "$path" ]; then
        mv "$path" "$path.before-restore-$(date +%Y%m%d-%H%M%S)"
    fi
    mv "$incoming" "$path"
    echo "sparks-restore: $path restored"
    ;;
*)
    echo "usage: sparks-restore database NAME [AGE] | directory PATH [AGE]" >&2
    exit 2
    ;;
esac
