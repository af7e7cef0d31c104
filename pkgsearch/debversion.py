"""Debian version comparison (epoch:upstream-revision, with '~' sorting before everything),
as described in deb-version(7). Used to keep the newest of several apt list entries."""

import re

_EPOCH = re.compile(r"^(\d+):")


def _order(ch):
    if ch == "~":
        return -1
    if ch.isdigit():
        return 0
    if ch.isalpha():
        return ord(ch)
    return ord(ch) + 256


def _compare_part(a, b):
    i = j = 0
    while i < len(a) or j < len(b):
        # Non-digit run, compared character by character with the ordering above.
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ca = _order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            cb = _order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ca != cb:
                return -1 if ca < cb else 1
            if i < len(a) and not a[i].isdigit():
                i += 1
            if j < len(b) and not b[j].isdigit():
                j += 1
        # Digit run, compared as numbers.
        si = i
        while i < len(a) and a[i].isdigit():
            i += 1
        sj = j
        while j < len(b) and b[j].isdigit():
            j += 1
        na = int(a[si:i] or 0)
        nb = int(b[sj:j] or 0)
        if na != nb:
            return -1 if na < nb else 1
    return 0


def _split(version):
    epoch = 0
    m = _EPOCH.match(version)
    if m:
        epoch = int(m.group(1))
        version = version[m.end() :]
    if "-" in version:
        upstream, revision = version.rsplit("-", 1)
    else:
        upstream, revision = version, "0"
    return epoch, upstream, revision


def compare(a, b):
    """-1, 0 or 1 as Debian version a is older than, equal to or newer than b."""
    ea, ua, ra = _split(a)
    eb, ub, rb = _split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _compare_part(ua, ub) or _compare_part(ra, rb)
