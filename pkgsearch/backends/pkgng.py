"""pkgng (FreeBSD `pkg`): `pkg rquery -a '%n\t%v\t%c'` prints the local copy of the remote
catalogue (name, version, comment) from pkg's own SQLite database, which we filter on names
and comments; installed versions come from `pkg query -a '%n\t%v'`. Not available on this
project's Debian machines: the tests replay recorded output through a fake `pkg` on PATH."""

from ..core import Package
from .base import Backend as _Base
from .base import run


class Backend(_Base):
    name = "pkgng"
    tools = ("pkg",)
    spawns = True

    def search(self, term, options):
        out, _ = run(["pkg", "rquery", "-a", "%n\t%v\t%c"], options)
        needle = term.lower()
        installed = {}
        inst_out, _ = run(["pkg", "query", "-a", "%n\t%v"], options, ok_codes=(0, 1, 70))
        for line in inst_out.splitlines():
            name, _, version = line.partition("\t")
            installed[name] = version
        found = []
        for line in out.splitlines():
            parts = line.split("\t", 2)
            if len(parts) == 3 and (needle in parts[0].lower() or needle in parts[2].lower()):
                found.append(Package("pkgng", parts[0], parts[1], parts[2], installed.get(parts[0])))
        return found
