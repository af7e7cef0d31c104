#!/usr/bin/env bash
# Build the Debian image that throwaway test targets of one release boot from, packed as tar.zst.
#
#   build-image.sh SUITE OUTPUT.tar.zst        (SUITE: bookworm = Debian 12, trixie = Debian 13)
#
# The image is a debootstrap minbase with systemd, sshd and python3: the least a freshly installed
# Debian server has. The harness caches the result under $SPARKS_CACHE_DIR/images keyed by a hash of this
# file and the suite, so editing this script is what triggers a rebuild.
set -euo pipefail

suite=${1:?usage: build-image.sh SUITE OUTPUT.tar.zst}
out=${2:?usage: build-image.sh SUITE OUTPUT.tar.zst}
mirror=${SPARKS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
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
# A fresh Debian install also follows <suite>-updates and the security archive (unattended-upgrades needs it),
# in the format its installer writes: one-line sources.list up to Debian 12, deb822 from Debian 13 on.
if [ "$suite" = bookworm ]; then
    cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${mirror%/debian}/debian-security $suite-security main
SOURCES
else
    : >"$root/etc/apt/sources.list"
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi
# Test machines only: dpkg skips fsync (a throwaway target never survives a power cut); nothing else differs.
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/sparks-tests-unsafe-io"
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
