#!/usr/bin/env bash
# Build the Debian 12 image that every throwaway test target boots from, packed as tar.zst.
#
#   build-image.sh OUTPUT.tar.zst
#
# The image is a debootstrap minbase with systemd, sshd and python3: the least a freshly installed
# Debian server has. The harness caches the result under /var/cache/sparks keyed by a hash of this
# file, so editing this script is what triggers a rebuild.
set -euo pipefail

out=${1:?usage: build-image.sh OUTPUT.tar.zst}
mirror=${SPARKS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
root=$(mktemp -d /var/tmp/sparks-image.XXXXXX)
cleanup() {
    for fs in proc sys dev/pts dev; do umount -l "$root/$fs" 2>/dev/null || true; done
    rm -rf "$root"
}
trap cleanup EXIT

debootstrap --variant=minbase "$suite" "$root" "$mirror" >/dev/null

# Services must not start inside the build chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
# Extra CA certificates of this machine (a TLS-inspecting proxy): targets need them to reach PyPI.
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    systemd systemd-sysv dbus openssh-server python3 iproute2 procps sudo ca-certificates >/dev/null
chroot "$root" update-ca-certificates >/dev/null 2>&1 || true
# A fresh Debian install also follows bookworm-updates and the security archive (unattended-upgrades needs it).
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${mirror%/debian}/debian-security $suite-security main
SOURCES
chroot "$root" apt-get clean
for fs in dev/pts dev sys proc; do umount "$root/$fs"; done
rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/ssh/ssh_host_"*
# Host keys are made per target at first boot; sftp is needed by salt-ssh (without it, endless thin redeploys).
chroot "$root" systemctl enable ssh systemd-networkd >/dev/null 2>&1
mkdir -p "$root/etc/systemd/system/ssh.service.d"
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' \
    >"$root/etc/systemd/system/ssh.service.d/hostkeys.conf"
grep -q '^Subsystem' "$root/etc/ssh/sshd_config" ||
    echo 'Subsystem sftp /usr/lib/openssh/sftp-server' >>"$root/etc/ssh/sshd_config"
# A target's console and journal are noise in the test log.
chroot "$root" systemctl mask getty@tty1.service console-getty.service systemd-timesyncd.service >/dev/null 2>&1 || true
: >"$root/etc/machine-id"

tmp="$out.tmp.$$"
tar --zstd -C "$root" --numeric-owner --xattrs -cf "$tmp" .
mv "$tmp" "$out"
