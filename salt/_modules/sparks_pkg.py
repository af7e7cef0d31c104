"""
Refresh or upgrade every package manager on a machine at once (sparks' ``sf.update`` / ``sf.upgrade``).

    salt-call sparks_pkg.refresh_all
    salt-call sparks_pkg.upgrade_all test=True      # what would be upgraded, per manager
    salt-call sparks_pkg.upgrade_all managers=apt,npm

Managers: apt, brew, npm (global packages), pip (the virtualenvs listed in pillar ``sparks:pkg:pip_venvs``) and
gem. One that is not installed is reported as skipped; one that fails is reported as failed with its error,
and the others still run. Any failure makes the call's exit code non-zero.

Each manager returns ``{"status": "ok"|"failed"|"skipped", "outdated": [{"name", "current", "latest"}],
"comment": str}``; after an upgrade, ``outdated`` lists what was upgraded.
"""

import json
import os
import re

import salt.utils.path
from salt.exceptions import SaltInvocationError

__virtualname__ = "sparks_pkg"
APT_INST = re.compile(r"^Inst (?P<name>\S+) \[(?P<current>[^\]]+)\] \((?P<latest>\S+)")
GEM_OUTDATED = re.compile(r"^(?P<name>\S+) \((?P<current>\S+) < (?P<latest>\S+)\)$")
NONINTERACTIVE = {"DEBIAN_FRONTEND": "noninteractive", "NPM_CONFIG_FUND": "false", "NPM_CONFIG_AUDIT": "false"}


def __virtual__():
    return __virtualname__


# ----------------------------------------------------------------------------------------------- parsers
def parse_apt_simulation(text):
    """Packages an ``apt-get -s upgrade`` would upgrade."""
    found = []
    for line in text.splitlines():
        match = APT_INST.match(line)
        if match:
            found.append(match.groupdict())
    return found


def parse_npm_outdated(text):
    """``npm outdated --global --json``: {name: {current, wanted, latest}} (empty output: nothing outdated)."""
    data = json.loads(text) if text.strip() else {}
    return [
        {"name": name, "current": info.get("current"), "latest": info.get("latest")}
        for name, info in sorted(data.items())
    ]


def parse_pip_outdated(text):
    """``pip list --outdated --format=json``."""
    return [
        {"name": item["name"], "current": item["version"], "latest": item["latest_version"]}
        for item in json.loads(text or "[]")
    ]


def parse_gem_outdated(text):
    """``gem outdated``: lines like ``rake (13.0.6 < 13.2.1)``."""
    found = []
    for line in text.splitlines():
        match = GEM_OUTDATED.match(line.strip())
        if match:
            found.append(match.groupdict())
    return found


def parse_brew_outdated(text):
    """``brew outdated --json=v2``: formulae and casks."""
    data = json.loads(text or "{}")
    found = []
    for kind in ("formulae", "casks"):
        for item in data.get(kind, []):
            found.append(
                {
                    "name": item["name"],
                    "current": ", ".join(item.get("installed_versions", [])),
                    "latest": item.get("current_version"),
                }
            )
    return found


# ----------------------------------------------------------------------------------------------- managers
def _run(cmd, ok_codes=(0,), env=None):
    result = __salt__["cmd.run_all"](
        cmd, python_shell=False, env=dict(NONINTERACTIVE, **(env or {})), ignore_retcode=True
    )
    if result["retcode"] not in ok_codes:
        raise RuntimeError(
            f"{' '.join(cmd)} exited {result['retcode']}: {(result['stderr'] or result['stdout'])[-2000:]}"
        )
    return result["stdout"]


def _pip_venvs():
    # Not pillar.get: Salt 3008 masks its answer outside templates (every path would be '**********').
    return [path for path in __utils__["sparks_pillar.get"](__pillar__, "sparks:pkg:pip_venvs") or [] if path]


class _Manager:
    """How one package manager refreshes, lists outdated packages and upgrades."""

    name = binary = ""

    def available(self):
        return bool(salt.utils.path.which(self.binary))

    def refresh(self):
        return "nothing to refresh"

    def outdated(self):
        raise NotImplementedError

    def upgrade(self, outdated):
        raise NotImplementedError


class _Apt(_Manager):
    name, binary = "apt", "apt-get"

    def refresh(self):
        _run(["apt-get", "update", "-q"])
        return "package lists refreshed"

    def outdated(self):
        return parse_apt_simulation(_run(["apt-get", "-s", "-q", "upgrade"]))

    def upgrade(self, outdated):
        # Keep local config files on conflicts (sysadmins' edits win), never prompt.
        _run(
            [
                "apt-get",
                "-y",
                "-q",
                "-o",
                "Dpkg::Options::=--force-confold",
                "-o",
                "Dpkg::Options::=--force-confdef",
                "upgrade",
            ]
        )


class _Brew(_Manager):
    name, binary = "brew", "brew"

    def refresh(self):
        _run(["brew", "update"])
        return "formulae refreshed"

    def outdated(self):
        return parse_brew_outdated(_run(["brew", "outdated", "--json=v2"]))

    def upgrade(self, outdated):
        _run(["brew", "upgrade"])


class _Npm(_Manager):
    name, binary = "npm", "npm"

    def outdated(self):
        # npm outdated exits 1 when something is outdated: that is an answer, not a failure.
        return parse_npm_outdated(_run(["npm", "outdated", "--global", "--json"], ok_codes=(0, 1)))

    def upgrade(self, outdated):
        if outdated:
            _run(["npm", "install", "--global", *[f"{item['name']}@{item['latest']}" for item in outdated]])


class _Pip(_Manager):
    name, binary = "pip", "pip"

    def available(self):
        return bool(_pip_venvs())

    def outdated(self):
        found = []
        for venv in _pip_venvs():
            pip = os.path.join(venv, "bin", "pip")
            for item in parse_pip_outdated(
                _run([pip, "list", "--outdated", "--format=json", "--disable-pip-version-check"])
            ):
                found.append(dict(item, venv=venv))
        return found

    def upgrade(self, outdated):
        for venv in sorted({item["venv"] for item in outdated}):
            names = [item["name"] for item in outdated if item["venv"] == venv]
            _run([os.path.join(venv, "bin", "pip"), "install", "--upgrade", "--disable-pip-version-check", *names])


class _Gem(_Manager):
    name, binary = "gem", "gem"

    def outdated(self):
        return parse_gem_outdated(_run(["gem", "outdated"]))

    def upgrade(self, outdated):
        if outdated:
            _run(["gem", "update", "--no-document", *[item["name"] for item in outdated]])


MANAGERS = {manager.name: manager for manager in (_Apt(), _Brew(), _Npm(), _Pip(), _Gem())}


# ----------------------------------------------------------------------------------------------- API
def _selected(managers):
    if managers is None:
        return list(MANAGERS.values())
    names = managers.split(",") if isinstance(managers, str) else list(managers)
    unknown = [name for name in names if name not in MANAGERS]
    if unknown:
        raise SaltInvocationError(f"unknown package manager(s): {', '.join(unknown)} (known: {', '.join(MANAGERS)})")
    return [MANAGERS[name] for name in names]


def _each(managers, action):
    results = {}
    for manager in _selected(managers):
        if not manager.available():
            results[manager.name] = {"status": "skipped", "outdated": [], "comment": f"{manager.binary} not found"}
            continue
        try:
            results[manager.name] = dict({"status": "ok", "outdated": [], "comment": ""}, **action(manager))
        except Exception as exc:  # pylint: disable=broad-except
            results[manager.name] = {"status": "failed", "outdated": [], "comment": str(exc)}
    if any(result["status"] == "failed" for result in results.values()):
        __context__["retcode"] = 1
    return results


def refresh_all(managers=None):
    """Refresh every manager's package index (apt-get update, brew update, ...)."""
    return _each(managers, lambda manager: {"comment": manager.refresh()})


def outdated(managers=None):
    """What each manager would upgrade."""
    return _each(managers, lambda manager: {"outdated": manager.outdated()})


def upgrade_all(managers=None, test=False):
    """Upgrade everything every manager has outdated; ``test=True`` only lists it."""

    def upgrade(manager):
        found = manager.outdated()
        if test:
            return {"outdated": found, "comment": f"{len(found)} package(s) would be upgraded"}
        if found:
            manager.upgrade(found)
        return {"outdated": found, "comment": f"{len(found)} package(s) upgraded"}

    return _each(managers, upgrade)
