"""brew: formulae and casks. `brew search TERM` lists matching names (in "==> Formulae" and
"==> Casks" sections); the best hits (up to --limit) then get versions, descriptions and
installed versions from `brew info --json=v2`. Homebrew does not run on this project's Linux
machines: the tests replay recorded output through a fake `brew` on PATH."""

import json

from ..core import Package, rank_packages
from .base import Backend as _Base
from .base import BackendError, run


def parse_search(text):
    """{"formula": [names], "cask": [names]} from `brew search` output."""
    found = {"formula": [], "cask": []}
    section = "formula"
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("Error:", "Warning:", "If you meant")):
            continue
        if line.startswith("==>"):
            section = "cask" if "cask" in line.lower() else "formula"
            continue
        for name in line.replace("\u2714", " ").split():  # brew marks installed ones with a tick
            found[section].append(name)
    return found


def parse_info(text):
    """[(kind, name, version, desc, installed)] from `brew info --json=v2` output."""
    try:
        data = json.loads(text)
    except ValueError:
        raise BackendError("brew info did not answer JSON") from None
    rows = []
    for f in data.get("formulae", []):
        installed = [i.get("version") for i in f.get("installed") or [] if i.get("version")]
        stable = (f.get("versions") or {}).get("stable")
        rows.append(("formula", f.get("name"), stable, f.get("desc") or "", installed[-1] if installed else None))
    for c in data.get("casks", []):
        rows.append(("cask", c.get("token"), c.get("version"), c.get("desc") or "", c.get("installed")))
    return rows


class Backend(_Base):
    name = "brew"
    tools = ("brew",)
    spawns = True

    def search(self, term, options):
        # brew exits 1 (with "No formulae or casks found" on stderr) when nothing matches.
        out, _code = run(["brew", "search", term], options, ok_codes=(0, 1))
        found = parse_search(out)
        candidates = [Package("brew", n) for kind in ("formula", "cask") for n in found[kind]]
        kinds = {n: kind for kind in ("formula", "cask") for n in found[kind]}
        top = rank_packages(term, candidates, options.exact, False)[: options.limit]
        details = {}
        for kind in ("formula", "cask"):
            names = [p.name for p in top if kinds[p.name] == kind]
            if names:
                info, _ = run(["brew", "info", "--json=v2", f"--{kind}", *names], options)
                for _kind, name, version, desc, installed in parse_info(info):
                    details[name] = (version, desc, installed)
        for pkg in top:
            version, desc, installed = details.get(pkg.name, (None, "", None))
            pkg.version, pkg.installed = version, installed
            pkg.summary = ("(cask) " if kinds[pkg.name] == "cask" else "") + " ".join(desc.split())
        return top
