#!/bin/bash
# Managed by sparks (formula `backup`): run by sparks-backup.service (its timer), or by hand as root.
#
# 1. dumps into a fresh spool directory: pg_dump -Fc of each database, roles without passwords, Redis' RDB;
# 2. duply sends the spool, the Django media and the paths from pillar to the destination, encrypted;
# 3. duply deletes the full backups beyond the retention.
# Any failure stops it with a non-zero status: the unit fails (systemctl --failed) and, with a mail address in
# pillar, its OnFailure= unit mails the log. What to back up: /etc/sparks/backup.conf.
set -euo pipefail
umask 077
cd /  # commands run as postgres must not start in root's home
SPOOL=/var/backups/sparks PROFILE=sparks CLUSTER="" REDIS_PORT="" REDIS_CONF="" DATABASES=() PATHS=() MEDIA=()
# shellcheck source=/dev/null
. /etc/sparks/backup.conf

step() { printf 'sparks-backup: %s\n' "$*"; }
started=$SECONDS

for path in "${PATHS[@]}" "${MEDIA[@]}"; do
    [ -e "$path" ] || { step "$path (sparks:backup) does not exist"; exit 1; }
done

new="$SPOOL/spool.new"
rm -rf "$new"
mkdir -p "$new"
if [ "${#DATABASES[@]}" -gt 0 ]; then
    mkdir "$new/postgres"
    # Roles come back from pillar (db_postgres) on a new machine; their definitions are kept for reference only.
    runuser -u postgres -- pg_dumpall --cluster "$CLUSTER" --globals-only --no-role-passwords >"$new/postgres/globals.sql"
    for database in "${DATABASES[@]}"; do
        t=$SECONDS
        runuser -u postgres -- pg_dump --cluster "$CLUSTER" --format=custom "$database" >"$new/postgres/$database.dump"
        step "postgres $database: $(stat -c %s "$new/postgres/$database.dump") bytes in $((SECONDS - t)) s"
    done
fi
if [ -n "$REDIS_PORT" ]; then
    mkdir "$new/redis"
    t=$SECONDS
    # The password is read where db_redis keeps it (written quoted: \\ and \" escaped) and handed over in the
    # environment, never in a command line.
    password=$(sed -n 's/^requirepass "\(.*\)"$/\1/p' "$REDIS_CONF" 2>/dev/null | tail -n 1)
    if [ -n "$password" ]; then
        password=${password//\\\"/\"}
        export REDISCLI_AUTH=${password//\\\\/\\}
    fi
    unset password
    # A fresh snapshot over the replication protocol: consistent, whatever Redis' own save settings.
    redis-cli -p "$REDIS_PORT" --rdb "$new/redis/dump.rdb" >/dev/null
    step "redis: $(stat -c %s "$new/redis/dump.rdb") bytes in $((SECONDS - t)) s"
fi
# The spool holds exactly this run's dumps.
rm -rf "$SPOOL/spool.old"
if [ -d "$SPOOL/spool" ]; then mv "$SPOOL/spool" "$SPOOL/spool.old"; fi
mv "$new" "$SPOOL/spool"
rm -rf "$SPOOL/spool.old"

t=$SECONDS
duply "$PROFILE" backup
step "sent in $((SECONDS - t)) s"
duply "$PROFILE" purgeFull --force
step "done in $((SECONDS - started)) s"
