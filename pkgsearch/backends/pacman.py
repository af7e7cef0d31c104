"""pacman (Arch Linux): `pacman -Ss TERM` searches names and descriptions of the sync
databases and marks installed packages. Not available on this project's Debian machines: the
tests replay recorded output through a fake `pacman` on PATH."""

import re

from ..core import Package
from .base import Backend as _Base
from .base import run

_HEAD = re.compile(r"^(\S+)/(\S+) (\S+)(?: \([^)]*\))?(?: \[installed(?:: ([^\]]+))?\])?")


def parse(text):
    found = []
    current = None
    for line in text.splitlines():
        m = _HEAD.match(line)
        if m and not line.startswith(" "):
            _repo, name, version, other = m.groups()
            installed = other or (version if "[installed" in line else None)
            current = Package("pacman", name, version, "", installed)
            found.append(current)
        elif current is not None and line.startswith(" "):
            current.summary = (current.summary + " " + line.strip()).strip()
    return found


class Backend(_Base):
    name = "pacman"
    tools = ("pacman",)
    spawns = True

    def search(self, term, options):
        # pacman takes a POSIX regex: escape the two regex characters a name may hold.
        pattern = re.sub(r"([.+])", r"\\\1", term)
        out, _code = run(["pacman", "-Ss", pattern], options, ok_codes=(0, 1))
        return parse(out)
