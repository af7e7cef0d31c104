"""sparks_npm / sparks_gem states with the npm and gem commands mocked: idempotence and truthful test=True."""

from unittest.mock import MagicMock

import pytest

from tests.support.loadmod import load

sparks_npm = load("_states", "sparks_npm")
sparks_gem = load("_states", "sparks_gem")


@pytest.fixture
def configure_loader_modules():
    return {
        sparks_npm: {"__salt__": {}, "__opts__": {"test": False}},
        sparks_gem: {"__salt__": {}, "__opts__": {"test": False}},
    }


@pytest.fixture(autouse=True)
def binaries_present(monkeypatch):
    monkeypatch.setattr(sparks_npm.salt.utils.path, "which", lambda name: f"/usr/bin/{name}")


def npm_tree(**versions):
    import json

    return {
        "retcode": 0,
        "stderr": "",
        "stdout": json.dumps({"dependencies": {name: {"version": version} for name, version in versions.items()}}),
    }


def test_npm_present_at_wanted_version_changes_nothing():
    run_all = MagicMock(return_value=npm_tree(less="4.2.0"))
    sparks_npm.__salt__["cmd.run_all"] = run_all
    ret = sparks_npm.installed("less", version="4.2.0")
    assert ret["result"] is True and ret["changes"] == {}
    assert run_all.call_count == 1  # only the listing


def test_npm_test_mode_reports_without_installing():
    run_all = MagicMock(return_value=npm_tree(less="4.1.3"))
    sparks_npm.__salt__["cmd.run_all"] = run_all
    sparks_npm.__opts__["test"] = True
    ret = sparks_npm.installed("less", version="4.2.0")
    assert ret["result"] is None and ret["changes"] == {"less": {"old": "4.1.3", "new": "4.2.0"}}
    assert run_all.call_count == 1


def test_npm_install_failure_is_a_failure_with_the_error():
    sparks_npm.__salt__["cmd.run_all"] = MagicMock(
        side_effect=[npm_tree(), {"retcode": 1, "stdout": "", "stderr": "E404 not found"}]
    )
    ret = sparks_npm.installed("nosuchpkg", registry="http://127.0.0.1:4873/")
    assert ret["result"] is False and "E404 not found" in ret["comment"]


def test_gem_parsing_and_idempotence():
    listing = {"retcode": 0, "stderr": "", "stdout": "\n*** LOCAL GEMS ***\n\nrake (13.2.1, default: 13.0.6)\n"}
    sparks_gem.__salt__["cmd.run_all"] = MagicMock(return_value=listing)
    assert sparks_gem.installed_versions("rake") == ["13.2.1", "13.0.6"]
    assert sparks_gem.installed("rake", version="13.0.6")["changes"] == {}
    sparks_gem.__opts__["test"] = True
    assert sparks_gem.installed("rake", version="14.0")["result"] is None


def test_states_fail_clearly_when_the_binary_is_missing(monkeypatch):
    monkeypatch.setattr(sparks_npm.salt.utils.path, "which", lambda name: None)
    ret = sparks_npm.installed("less")
    assert ret["result"] is False and "npm is not installed" in ret["comment"]


def test_npm_removed_without_npm_is_done_unless_the_package_is_still_there(monkeypatch, tmp_path):
    """dev_web.clean removes npm after the packages: applied again, it must report nothing to do."""
    monkeypatch.setattr(sparks_npm.salt.utils.path, "which", lambda name: None)
    monkeypatch.setattr(sparks_npm, "GLOBAL_MODULES", str(tmp_path))
    assert sparks_npm.removed("less") == {
        "name": "less",
        "result": True,
        "changes": {},
        "comment": "less is not installed (nor is npm)",
    }
    (tmp_path / "less").mkdir()
    ret = sparks_npm.removed("less")
    assert ret["result"] is False and "cannot uninstall less" in ret["comment"]
