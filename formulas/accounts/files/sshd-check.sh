#!/bin/sh
# Managed by sparks (formula `accounts`). Usage: sshd-check DROPIN CANDIDATE
#
# Exit 0 when sshd, reading its configuration with CANDIDATE in place of DROPIN, accepts it (sshd -t) and ends
# up with the values CANDIDATE sets for the login keywords (sshd -T): an earlier drop-in, or a sshd_config that
# does not include sshd_config.d, would otherwise override them silently. Nothing in /etc/ssh is touched: the
# configuration is copied to a scratch directory with CANDIDATE in its place.
set -eu
dropin=$1
candidate=$2
scratch=$(mktemp -d /tmp/sparks-sshd-check.XXXXXX)
trap 'rm -rf "$scratch"' EXIT INT TERM
mkdir "$scratch/sshd_config.d"
for file in /etc/ssh/sshd_config.d/*.conf; do
    [ -e "$file" ] && cp "$file" "$scratch/sshd_config.d/"
done
cp "$candidate" "$scratch/sshd_config.d/$(basename "$dropin")"
sed "s#/etc/ssh/sshd_config\.d/#$scratch/sshd_config.d/#g" /etc/ssh/sshd_config >"$scratch/sshd_config"

if ! /usr/sbin/sshd -t -f "$scratch/sshd_config" 2>"$scratch/errors"; then
    echo "sshd refuses this configuration (old file kept):"
    sed "s#$scratch/sshd_config.d/#/etc/ssh/sshd_config.d/#g; s#$scratch/#/etc/ssh/#g" "$scratch/errors"
    exit 1
fi

# The effective value of each login keyword the candidate sets (sshd -T prints lower-case keywords).
/usr/sbin/sshd -T -f "$scratch/sshd_config" >"$scratch/effective"
status=0
for keyword in passwordauthentication kbdinteractiveauthentication permitrootlogin; do
    wanted=$(awk -v k="$keyword" 'tolower($1) == k { print tolower($2); exit }' "$candidate")
    [ -n "$wanted" ] || continue
    actual=$(awk -v k="$keyword" '$1 == k { print $2; exit }' "$scratch/effective")
    # OpenSSH prints prohibit-password under its old name.
    [ "$wanted" = prohibit-password ] && wanted=without-password
    [ "$actual" = prohibit-password ] && actual=without-password
    if [ "$wanted" != "$actual" ]; then
        echo "$keyword would be $actual, not $wanted: a file sshd reads before $dropin sets it (old file kept)"
        status=1
    fi
done
exit $status
