#!/bin/sh
# Managed by sparks (formula `db_postgres`). Usage: pg-hba-check VERSION CANDIDATE_FILE
#
# Exit 0 when PostgreSQL VERSION parses every line of CANDIDATE_FILE as a pg_hba.conf rule; else print the bad
# lines and exit 1. The running cluster is not touched: the candidate is read by a throwaway single-user
# PostgreSQL on a scratch data directory (about a second), through the server's own parser (the view
# pg_hba_file_rules reads the file named by hba_file, which a single-user server takes on its command line).
set -eu
version=$1
candidate=$2
bin=/usr/lib/postgresql/$version/bin
scratch=$(mktemp -d /tmp/sparks-pg-hba-check.XXXXXX)
trap 'rm -rf "$scratch"' EXIT INT TERM
chown postgres "$scratch"
install -o postgres -m 0600 "$candidate" "$scratch/pg_hba.conf"

runuser -u postgres -- "$bin/initdb" --pgdata="$scratch/data" --auth=trust --no-sync --locale=C \
    --username=postgres >"$scratch/initdb.log" 2>&1 || { cat "$scratch/initdb.log" >&2; exit 2; }

# Single-user mode ends a statement at a newline, and prints each row as ` 1: problem = "..."`; the
# header line proves the query ran.
query="SELECT format('line %s: %s', line_number, error) AS problem FROM pg_hba_file_rules WHERE error IS NOT NULL;"
output=$(echo "$query" |
    runuser -u postgres -- "$bin/postgres" --single -D "$scratch/data" -c hba_file="$scratch/pg_hba.conf" \
        -c log_min_messages=warning -c log_checkpoints=off postgres 2>&1) || true
if ! printf '%s\n' "$output" | grep -q '1: problem.*typeid'; then
    printf 'pg-hba-check: the check itself failed:\n%s\n' "$output" >&2
    exit 2
fi
problems=$(printf '%s\n' "$output" | sed -n 's/^[[:space:]]*1: problem = "\(.*\)"[[:space:]]*(typeid.*$/\1/p')
if [ -n "$problems" ]; then
    printf 'invalid pg_hba.conf (old file kept):\n%s\n' "$problems"
    exit 1
fi
