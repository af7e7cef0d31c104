"""dnf (Fedora, RHEL): `dnf search` matches names and summaries; the best hits (up to
--limit) then get versions from `dnf repoquery` and installed versions from `rpm -q`. Not
available on this project's Debian machines: the tests replay recorded output through fake
`dnf` and `rpm` on PATH."""

import re

from ..core import Package, rank_packages
from .base import Backend as _Base
from .base import run

# dnf4: "htop.x86_64 : Interactive process viewer"; dnf5: " htop.x86_64\tInteractive process viewer"
_LINE = re.compile(r"^\s*([^\s:]+)\.([A-Za-z0-9_]+)\s*(?::\s|\t)\s*(.*)$")


def parse_search(text):
    found = {}
    for line in text.splitlines():
        if line.startswith(("=", "Last metadata", "Matched fields", "Updating")):
            continue
        m = _LINE.match(line)
        if m:
            found.setdefault(m.group(1), m.group(3).strip())
    return found


def parse_tabbed(text):
    rows = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0]:
            rows[parts[0]] = parts[1]
    return rows


class Backend(_Base):
    name = "dnf"
    tools = ("dnf",)
    spawns = True

    def search(self, term, options):
        out, _ = run(["dnf", "--quiet", "search", term], options, ok_codes=(0, 1))
        found = parse_search(out)
        top = rank_packages(term, [Package("dnf", n, None, s) for n, s in found.items()], options.exact)
        top = top[: options.limit]
        if not top:
            return []
        names = [p.name for p in top]
        versions, _ = run(
            ["dnf", "--quiet", "repoquery", "--latest-limit", "1", "--queryformat", "%{name}\t%{evr}\n", *names],
            options,
        )
        versions = parse_tabbed(versions)
        installed = {}
        try:
            rpm_out, _ = run(
                ["rpm", "-q", "--queryformat", "%{NAME}\t%{VERSION}-%{RELEASE}\n", *names], options, ok_codes=range(256)
            )
            installed = parse_tabbed(rpm_out)
        except Exception:  # no rpm: installed stays unknown
            pass
        for pkg in top:
            pkg.version = versions.get(pkg.name)
            pkg.installed = installed.get(pkg.name)
        return top
