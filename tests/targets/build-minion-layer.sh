#!/usr/bin/env bash
# Build the layer that turns a target image into a salt-minion: Salt in a venv and a systemd unit.
#
#   build-minion-layer.sh IMAGE_DIR SALT_VERSION OUTPUT.tar.zst
#
# SALT_VERSION equal to the pin of requirements/constraints.txt installs with that file (every dependency as CI
# tested it), and leaves it where the salt_minion formula keeps it, so applying the formula changes nothing. Any
# other version (a 3007 minion, the start of the upgrade test) installs on its own: the pins are the pinned Salt's.
#
# The layer is an overlayfs upper directory over IMAGE_DIR, packed on its own; targets stack it on the image.
# The minion starts at boot when /etc/salt/minion.d/ has a config (the harness writes master and id there).
set -euo pipefail

image=${1:?usage: build-minion-layer.sh IMAGE_DIR SALT_VERSION OUTPUT.tar.zst}
salt_version=${2:?salt version}
out=${3:?output}
constraints=$(cd "$(dirname "$0")/../.." && pwd)/requirements/constraints.txt
pinned=$(sed -n 's/^salt==\([^[:space:];]*\)[[:space:]]*$/\1/p' "$constraints")
[ -n "$pinned" ] || { echo "no salt== line in $constraints" >&2; exit 1; }
work=$(mktemp -d /var/tmp/sparks-layer.XXXXXX)
mkdir -p "$work"/{upper,work,root}
cleanup() {
    for fs in proc sys dev/pts dev; do umount -l "$work/root/$fs" 2>/dev/null || true; done
    umount -l "$work/root" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

mount -t overlay overlay -o "lowerdir=$image,upperdir=$work/upper,workdir=$work/work" "$work/root"
root=$work/root
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# gcc and the headers: Salt 3008's dependency timelib is published as source only (as 1nstall.py and salt_minion do).
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    python3-venv gcc libc6-dev python3-dev >/dev/null
chroot "$root" python3 -m venv /opt/sparks/venv
pip=(/opt/sparks/venv/bin/pip install --quiet --disable-pip-version-check)
if [ "$salt_version" = "$pinned" ]; then
    # Where the salt_minion formula keeps it, with its "installed with these pins" stamp.
    cp "$constraints" "$root/opt/sparks/venv/sparks-constraints.txt"
    chroot "$root" "${pip[@]}" --constraint /opt/sparks/venv/sparks-constraints.txt "salt==$salt_version"
    cp "$constraints" "$root/opt/sparks/venv/sparks-constraints.txt.installed"
else
    chroot "$root" "${pip[@]}" "salt==$salt_version"
fi
cat >"$root/etc/systemd/system/salt-minion.service" <<UNIT
[Unit]
Description=Salt minion (sparks test layer)
After=network-online.target
ConditionDirectoryNotEmpty=/etc/salt/minion.d

[Service]
ExecStart=/opt/sparks/venv/bin/salt-minion
Restart=on-failure
KillMode=process

[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$root/etc/salt/minion.d"
chroot "$root" systemctl enable salt-minion.service >/dev/null 2>&1
chroot "$root" apt-get clean
rm -f "$root/usr/sbin/policy-rc.d"
: >"$root/etc/resolv.conf"
for fs in dev/pts dev sys proc; do umount "$root/$fs"; done
umount "$root"

tmp="$out.tmp.$$"
tar --zstd -C "$work/upper" --numeric-owner --xattrs -cf "$tmp" .
mv "$tmp" "$out"
