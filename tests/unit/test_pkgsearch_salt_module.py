"""salt/_modules/pkgsearch.py with plain mocks for the loader dunders (no minion, no network),
and the bundle that carries the package to minions and salt-ssh targets."""

import importlib.util
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from salt.exceptions import SaltInvocationError

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pkgsearch import bundle  # noqa: E402
from tests.support.loadmod import load  # noqa: E402


PKGSEARCH_MODULE = load("_modules", "pkgsearch")
# Salt's import-time handler on the root logger would replay these records at exit, onto a stream pytest has
# closed: keep the module's log lines local to the tests.
_QUIET = logging.getLogger("tests.pkgsearch.salt_module")
_QUIET.propagate = False
_QUIET.addHandler(logging.NullHandler())


@pytest.fixture
def config():
    """What the module's ``config.get`` answers: a test may set ``config["pkgsearch"]``."""
    return {"pkgsearch": {}}


@pytest.fixture
def configure_loader_modules(config, monkeypatch):
    monkeypatch.setattr(PKGSEARCH_MODULE, "log", _QUIET)
    return {
        PKGSEARCH_MODULE: {
            "__salt__": {"config.get": lambda key, default=None: config.get(key, default)},
            "__opts__": {},
            "__context__": {},
        }
    }


@pytest.fixture
def mod(tmp_path, monkeypatch, config):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "x_Packages").write_text(
        "Package: htop\nVersion: 3.2.2-2\nDescription: interactive processes viewer\n\n"
        "Package: htop-doc\nVersion: 3.2.2-2\nDescription: docs\n\n"
    )
    monkeypatch.setenv("PKGSEARCH_APT_LISTS", str(lists))
    monkeypatch.setenv("PKGSEARCH_DPKG_STATUS", str(tmp_path / "status"))
    monkeypatch.setenv("PKGSEARCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(PKGSEARCH_MODULE, "config", config, raising=False)
    return PKGSEARCH_MODULE


def test_search_returns_the_cli_schema(mod):
    assert mod.search("htop", managers="apt") == [
        {
            "manager": "apt",
            "name": "htop",
            "version": "3.2.2-2",
            "summary": "interactive processes viewer",
            "installed": None,
        },
        {"manager": "apt", "name": "htop-doc", "version": "3.2.2-2", "summary": "docs", "installed": None},
    ]
    assert [r["name"] for r in mod.search("htop", managers=["apt"], exact=True)] == ["htop"]
    assert len(mod.search("htop", managers="apt", limit=1)) == 1


def test_search_uses_the_bundle_shipped_beside_the_module(mod):
    mod.search("htop", managers="apt")
    where = mod.implementation()
    assert where["origin"].endswith("salt/_utils/pkgsearch_bundle.py")
    assert where["module"].startswith("_sparks_pkgsearch_")


def test_bad_input_raises_salt_invocation_error(mod):
    for term, msg in [("", "empty"), ("a(b", "regular expression"), ("caf\u00e9", "non-ASCII"), ("x" * 10240, "long")]:
        with pytest.raises(SaltInvocationError, match=msg):
            mod.search(term, managers="apt")
    with pytest.raises(SaltInvocationError, match="unknown manager"):
        mod.search("htop", managers="apt,emerge")
    with pytest.raises(SaltInvocationError, match="unknown argument"):
        mod.search("htop", managers="apt", colour="red")


def test_salt_cli_dunder_kwargs_and_numeric_terms_are_accepted(mod):
    assert mod.search(7, managers="apt", __pub_fun="pkgsearch.search") == []


def test_details_and_retcode_when_nothing_can_answer(mod, monkeypatch, tmp_path):
    out = mod.search("htop", managers="apt,brew", details=True)
    assert out["exit_code"] == 0
    assert {b["manager"]: b["status"] for b in out["backends"]}["apt"] == "ok"
    monkeypatch.setenv("PATH", str(tmp_path))  # no brew
    assert mod.search("htop", managers="brew") == []
    assert mod.__context__["retcode"] == 3


def test_settings_from_minion_config(mod, monkeypatch):
    mod.config["pkgsearch"] = {"pypi_index": "http://127.0.0.1:9/simple/"}
    out = mod.search("htop", managers="pypi", details=True)
    assert "127.0.0.1:9/simple/" in out["backends"][0]["message"]


def test_managers_function(mod):
    info = mod.managers()
    assert list(info) == ["apt", "brew", "pypi", "npm", "gem", "pacman", "dnf", "pkgng"]
    assert info["apt"] == {"available": True, "reason": ""}


def test_bundle_is_up_to_date():
    """salt/_utils/pkgsearch_bundle.py must embed exactly the current package sources."""
    proc = subprocess.run(
        [sys.executable, "-m", "pkgsearch.bundle", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, "run `python -m pkgsearch.bundle` and commit: " + proc.stderr


def test_bundle_loads_the_same_code_under_a_private_name():
    spec = importlib.util.spec_from_file_location("bundle_under_test", ROOT / "salt" / "_utils" / "pkgsearch_bundle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    pkg = module.load()
    assert pkg.__name__ == module.NAME and "pkgsearch" not in pkg.__name__.split(".")
    sources, _ = bundle.collect()
    assert module.SOURCES == sources
    core = importlib.import_module(pkg.__name__ + ".core")
    apt = importlib.import_module(pkg.__name__ + ".backends.apt")
    assert core.FIELDS == ("manager", "name", "version", "summary", "installed")
    assert apt.Backend.name == "apt"
    assert module.load() is pkg  # loading twice reuses the same modules
    json.dumps(module.PACKAGES)
