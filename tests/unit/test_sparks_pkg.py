"""sparks_pkg: output parsers and per-manager error handling, with commands mocked.

brew and gem outputs below are recorded samples (no brew on Linux; no gem index reachable here).
"""

import json
from unittest.mock import MagicMock

import pytest

from tests.support.loadmod import load

sparks_pkg = load("_modules", "sparks_pkg")

APT_SIMULATION = """Reading package lists...
Building dependency tree...
The following packages will be upgraded:
  bash libssl3
Inst bash [5.2.15-2+b2] (5.2.15-2+b7 Debian:12.9/stable [amd64])
Inst libssl3 [3.0.15-1~deb12u1] (3.0.17-1~deb12u2 Debian-Security:12/stable-security [amd64])
Conf bash (5.2.15-2+b7 Debian:12.9/stable [amd64])
"""
BREW_OUTDATED = json.dumps(
    {
        "formulae": [{"name": "htop", "installed_versions": ["3.2.1"], "current_version": "3.3.0"}],
        "casks": [{"name": "firefox", "installed_versions": ["120.0"], "current_version": "121.0"}],
    }
)


@pytest.fixture
def configure_loader_modules():
    return {
        sparks_pkg: {
            "__salt__": {},
            "__context__": {},
            "__opts__": {"test": False},
            "__pillar__": {},
            "__utils__": {"sparks_pillar.get": load("_utils", "sparks_pillar").get},
        }
    }


def test_parsers():
    assert sparks_pkg.parse_apt_simulation(APT_SIMULATION) == [
        {"name": "bash", "current": "5.2.15-2+b2", "latest": "5.2.15-2+b7"},
        {"name": "libssl3", "current": "3.0.15-1~deb12u1", "latest": "3.0.17-1~deb12u2"},
    ]
    assert sparks_pkg.parse_npm_outdated('{"less": {"current": "4.1.3", "wanted": "4.1.3", "latest": "4.2.0"}}') == [
        {"name": "less", "current": "4.1.3", "latest": "4.2.0"}
    ]
    assert sparks_pkg.parse_npm_outdated("") == []
    assert sparks_pkg.parse_pip_outdated('[{"name": "salt", "version": "3008.1", "latest_version": "3008.4"}]') == [
        {"name": "salt", "current": "3008.1", "latest": "3008.4"}
    ]
    assert sparks_pkg.parse_gem_outdated("rake (13.0.6 < 13.2.1)\nbundler (2.4.1 < 2.5.0)\n") == [
        {"name": "rake", "current": "13.0.6", "latest": "13.2.1"},
        {"name": "bundler", "current": "2.4.1", "latest": "2.5.0"},
    ]
    assert [item["name"] for item in sparks_pkg.parse_brew_outdated(BREW_OUTDATED)] == ["htop", "firefox"]


def test_one_failing_manager_does_not_stop_the_others(monkeypatch):
    def run_all(cmd, **kwargs):
        if cmd[0] == "npm":
            return {"retcode": 254, "stdout": "", "stderr": "npm ERR! registry unreachable"}
        return {"retcode": 0, "stdout": APT_SIMULATION, "stderr": ""}

    sparks_pkg.__salt__["cmd.run_all"] = MagicMock(side_effect=run_all)
    monkeypatch.setattr(sparks_pkg.salt.utils.path, "which", lambda name: f"/usr/bin/{name}")
    result = sparks_pkg.upgrade_all(managers="apt,npm", test=True)
    assert result["apt"]["status"] == "ok" and len(result["apt"]["outdated"]) == 2
    assert result["npm"]["status"] == "failed" and "registry unreachable" in result["npm"]["comment"]
    assert sparks_pkg.__context__["retcode"] == 1
    # test=True ran only apt's simulation (-s) and npm's listing: nothing that upgrades.
    commands = [call.args[0] for call in sparks_pkg.__salt__["cmd.run_all"].call_args_list]
    assert commands == [["apt-get", "-s", "-q", "upgrade"], ["npm", "outdated", "--global", "--json"]]


def test_missing_managers_are_skipped_and_unknown_ones_refused(monkeypatch):
    monkeypatch.setattr(sparks_pkg.salt.utils.path, "which", lambda name: None)
    result = sparks_pkg.refresh_all()
    assert {name: r["status"] for name, r in result.items()} == {
        "apt": "skipped",
        "brew": "skipped",
        "npm": "skipped",
        "pip": "skipped",
        "gem": "skipped",
    }
    with pytest.raises(sparks_pkg.SaltInvocationError, match="unknown package manager"):
        sparks_pkg.refresh_all(managers="apt,yum")
