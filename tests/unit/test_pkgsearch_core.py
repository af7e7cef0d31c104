"""pkgsearch engine: input validation, ranking, options, version order, the concurrent run.
No network, no root: backends are replaced by stubs or fed fixed text."""

import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pkgsearch import backends, core, debversion, output  # noqa: E402
from pkgsearch.core import DESCRIPTION, EXACT, PREFIX, SUBSTRING, Package, UsageError  # noqa: E402


@pytest.mark.parametrize(
    "term, fragment",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("^htop$", "regular expression"),
        ("ht.*p", "regular expression"),
        ("a|b", "regular expression"),
        ("[abc]", "regular expression"),
        ("h\u00e9llo", "non-ASCII"),
        ("\u0440\u0435\u0434\u0438\u0441", "non-ASCII"),
        ("x" * 10240, "characters long"),
        ("two words", "not a package name"),
        ("-rf", "not a package name"),
        ("semi;colon", "not a package name"),
        (None, "required"),
    ],
)
def test_bad_terms_are_usage_errors(term, fragment):
    with pytest.raises(UsageError, match=fragment):
        core.validate_term(term)


@pytest.mark.parametrize("term", ["htop", "g++", "python3.11", "@types/node", "libstdc++6", "foo_bar-baz", " redis "])
def test_good_terms(term):
    assert core.validate_term(term) == term.strip()


def test_managers_parsing():
    assert core.parse_managers(None) == backends.names()
    assert core.parse_managers("npm,apt") == ["apt", "npm"]  # registry order
    assert core.parse_managers(["PyPI", "apt,gem"]) == ["apt", "pypi", "gem"]
    with pytest.raises(UsageError, match="unknown manager 'yum'.*known managers: apt"):
        core.parse_managers("apt,yum")
    with pytest.raises(UsageError, match="at least one"):
        core.parse_managers(" , ")


def test_options_validation():
    with pytest.raises(UsageError, match="--limit must be a number"):
        core.Options(limit="many")
    with pytest.raises(UsageError, match="--limit must be at least 1"):
        core.Options(limit=0)
    with pytest.raises(UsageError, match="--timeout must be at least"):
        core.Options(timeout="-1")
    with pytest.raises(UsageError, match="--timeout"):
        core.Options(timeout="nan")
    with pytest.raises(UsageError, match="unknown setting"):
        core.Options(colour="red")


def test_options_environment_and_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("PKGSEARCH_PYPI_INDEX", "http://127.0.0.1:1/simple/")
    monkeypatch.setenv("PKGSEARCH_CACHE_DIR", str(tmp_path))
    opts = core.Options()
    assert opts.pypi_index == "http://127.0.0.1:1/simple/"
    assert opts.cache_dir == str(tmp_path)
    assert core.Options(pypi_index="http://127.0.0.1:2/simple/").pypi_index.endswith(":2/simple/")


def test_rank_order():
    assert core.rank("htop", "htop") == EXACT
    assert core.rank("htop", "HTop") == EXACT
    assert core.rank("foo-bar", "Foo_Bar") == EXACT  # PEP 503 normalization
    assert core.rank("htop", "htop-vim") == PREFIX
    assert core.rank("node", "@types/node") == PREFIX
    assert core.rank("htop", "bashtop") == SUBSTRING
    assert core.rank("htop", "btop", "like htop") == DESCRIPTION
    assert core.rank("htop", "btop", "", description_matched=True) == DESCRIPTION
    assert core.rank("htop", "btop", "", description_matched=False) is None


def test_rank_packages_sorting_and_exact():
    pkgs = [
        Package("apt", "btop", summary="like htop"),
        Package("apt", "bashtop"),
        Package("apt", "htop-vim"),
        Package("apt", "htop"),
        Package("apt", "htopx"),
    ]
    ranked = core.rank_packages("htop", pkgs)
    assert [p.name for p in ranked] == ["htop", "htopx", "htop-vim", "bashtop", "btop"]
    assert [p.name for p in core.rank_packages("htop", pkgs, exact=True)] == ["htop"]


def test_package_schema():
    p = Package("npm", "x", "", "  two\n lines ", None)
    assert p.as_dict() == {"manager": "npm", "name": "x", "version": None, "summary": "two lines", "installed": None}
    assert tuple(p.as_dict()) == core.FIELDS


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("1.0", "1.0", 0),
        ("1.0-1", "1.0-2", -1),
        ("1:0.9", "2.0", 1),
        ("1.0~rc1", "1.0", -1),
        ("3.2.2-2", "3.2.2-2+deb12u1", -1),
        ("5:7.0.15-1~deb12u10", "5:7.0.15-1~deb12u9", 1),
        ("2.10", "2.9", 1),
        ("1.0a", "1.0", 1),
    ],
)
def test_debian_version_compare(a, b, expected):
    assert debversion.compare(a, b) == expected
    assert debversion.compare(b, a) == -expected


class _Stub:
    def __init__(self, name, result=None, delay=0.0, error=None, missing=""):
        self.name, self.result, self.delay, self.error, self._missing = name, result or [], delay, error, missing

    def missing(self, options):
        return self._missing

    def search(self, term, options):
        time.sleep(self.delay)
        if self.error:
            raise self.error
        return [Package(self.name, n, "1.0", s) for n, s in self.result]


@pytest.fixture
def stubs(monkeypatch):
    table = {}
    monkeypatch.setattr(backends, "get", lambda name: table[name])
    return table


def test_search_runs_backends_concurrently_and_ranks_across_them(stubs):
    stubs["apt"] = _Stub("apt", [("htop", "viewer"), ("bashtop", "")], delay=0.4)
    stubs["pypi"] = _Stub("pypi", [("htop-py", "")], delay=0.4)
    stubs["npm"] = _Stub("npm", [("top", "a htop clone"), ("htop", "")], delay=0.4)
    started = time.monotonic()
    report = core.search("htop", managers="apt,pypi,npm")
    took = time.monotonic() - started
    assert took < 3 * 0.4, "three 0.4 s backends must overlap, not run one after another"
    assert [(p.manager, p.name) for p in report.packages] == [
        ("apt", "htop"),
        ("npm", "htop"),
        ("pypi", "htop-py"),
        ("apt", "bashtop"),
        ("npm", "top"),
    ]
    assert report.exit_code == 0


def test_timeout_failure_and_skip_are_reported_per_backend(stubs):
    stubs["apt"] = _Stub("apt", [("htop", "")])
    stubs["pypi"] = _Stub("pypi", delay=5)
    stubs["npm"] = _Stub("npm", error=core.BackendError("registry said 500"))
    stubs["brew"] = _Stub("brew", missing="brew not found on PATH")
    seen = []
    report = core.search("htop", managers="apt,brew,pypi,npm", timeout=0.5, on_outcome=seen.append)
    status = {o.manager: (o.status, o.message) for o in report.outcomes}
    assert status["apt"] == ("ok", "")
    assert status["pypi"][0] == "timeout"
    assert status["npm"] == ("error", "registry said 500")
    assert status["brew"] == ("skipped", "brew not found on PATH")
    assert sorted(o.manager for o in seen) == ["apt", "brew", "npm", "pypi"]
    assert report.exit_code == 0


def test_exit_codes(stubs):
    stubs["apt"] = _Stub("apt")
    stubs["npm"] = _Stub("npm", error=core.BackendError("down"))
    stubs["brew"] = _Stub("brew", missing="no brew")
    assert core.search("zzz", managers="apt,npm").exit_code == 1
    assert core.search("zzz", managers="npm").exit_code == 3
    assert core.search("zzz", managers="brew,npm").exit_code == 3


def test_unexpected_backend_exception_is_contained(stubs):
    stubs["apt"] = _Stub("apt", error=KeyError("boom"))
    report = core.search("htop", managers="apt")
    assert report.outcomes[0].status == "error" and "KeyError" in report.outcomes[0].message
    assert report.exit_code == 3


def test_limit_applies_after_global_ranking(stubs):
    stubs["apt"] = _Stub("apt", [(f"htop{i}", "") for i in range(30)])
    stubs["npm"] = _Stub("npm", [("htop", "")])
    report = core.search("htop", managers="apt,npm", limit=3)
    assert [p.name for p in report.packages] == ["htop", "htop0", "htop1"]


def test_output_formats():
    pkgs = [Package("apt", "htop", "3.2", "interactive processes viewer", "3.2"), Package("npm", "htop-x")]
    table = output.table(pkgs, width=60)
    assert table.splitlines()[0].split() == ["MANAGER", "NAME", "VERSION", "INSTALLED", "SUMMARY"]
    assert all(len(line) <= 60 for line in table.splitlines())
    assert output.plain(pkgs) == "apt\thtop\t3.2\t3.2\tinteractive processes viewer\nnpm\thtop-x\t-\t-\t\n"
    import json

    assert json.loads(output.as_json(pkgs))[1] == {
        "manager": "npm",
        "name": "htop-x",
        "version": None,
        "summary": "",
        "installed": None,
    }


def test_every_registered_backend_module_defines_a_backend():
    for name in backends.names():
        backend = backends.get(name)
        assert callable(backend.search) and isinstance(backend.missing(core.Options()), str)
