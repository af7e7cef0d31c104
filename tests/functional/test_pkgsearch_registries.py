"""pkgsearch against real servers on loopback and the real apt of this Debian.

* PyPI: a PEP 691 JSON simple index the test writes and serves on 127.0.0.1 (PyPIIndex).
* npm: a real verdaccio on 127.0.0.1 with packages published by `npm publish`
  (skipped if verdaccio cannot be installed from the npm registry).
* gem: a static gem source built with `gem build` + `gem generate_index`, served on 127.0.0.1
  (skipped without ruby's `gem`).
* apt: the machine's own package lists, compared with `apt-cache search`.

Nothing here reaches a public registry.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

from pkgsearch import core  # noqa: E402
from tests.support.registries import GemSource, PyPIIndex, Unavailable, Verdaccio, generated_names  # noqa: E402

PYPI_PROJECTS = {
    "htop-py": ("1.2.0", "htop written in Python"),
    "pyhtop": ("0.4", "Another htop"),
    "Flask": ("3.0.3", "A simple framework for building complex web applications."),
    "flask_login": ("0.6.3", "User session management for Flask"),
    "requests": ("2.32.3", "Python HTTP for Humans."),
}
NPM_PACKAGES = [
    ("htop-node", "1.0.0", "htop for node"),
    ("@sparks/htop", "2.1.0", "scoped htop"),
    ("top-stats", "0.1.0", "process stats like htop"),
]
GEMS = [("htop", "0.3.0", "htop in ruby"), ("htopish", "1.0.0", "a htop-like gem"), ("rake-extra", "0.1.0", "x")]


@pytest.fixture(scope="module")
def pypi_server():
    with PyPIIndex(PYPI_PROJECTS) as server:
        yield server


@pytest.fixture(scope="module")
def npm_registry():
    try:
        with Verdaccio(NPM_PACKAGES) as registry:
            yield registry
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def gem_source():
    try:
        with GemSource(GEMS) as source:
            yield source
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PKGSEARCH_CACHE_DIR", str(tmp_path / "cache"))
    # Anything not pointed at a loopback server below points at a closed loopback port.
    for var in ("PKGSEARCH_PYPI_INDEX", "PKGSEARCH_NPM_REGISTRY", "PKGSEARCH_GEM_SOURCE"):
        monkeypatch.setenv(var, "http://127.0.0.1:9/simple/")
    return tmp_path / "cache"


def _ok(report, manager):
    outcome = {o.manager: o for o in report.outcomes}[manager]
    assert outcome.status == "ok", outcome.message
    return [p for p in report.packages if p.manager == manager]


# ------------------------------------------------------------------------------------------ PyPI


def test_pypi_search_ranks_names_and_fetches_details(pypi_server, cache):
    report = core.search("htop", managers="pypi", pypi_index=pypi_server.url)
    found = _ok(report, "pypi")
    assert [(p.name, p.version, p.summary) for p in found] == [
        ("htop-py", "1.2.0", "htop written in Python"),
        ("pyhtop", "0.4", "Another htop"),
    ]
    # PEP 503 normalization: flask-login finds flask_login; exact works on normalized names.
    found = _ok(core.search("flask-login", managers="pypi", pypi_index=pypi_server.url, exact=True), "pypi")
    assert [p.name for p in found] == ["flask_login"]


def test_pypi_installed_version_comes_from_this_python(pypi_server, cache):
    found = _ok(core.search("requests", managers="pypi", pypi_index=pypi_server.url, exact=True), "pypi")
    import importlib.metadata

    try:
        expected = importlib.metadata.version("requests")
    except importlib.metadata.PackageNotFoundError:
        expected = None
    assert found[0].installed == expected


def test_pypi_cache_refresh_uses_conditional_requests(cache):
    with PyPIIndex({"alpha": ("1", "a")}) as server:
        opts = {"managers": "pypi", "pypi_index": server.url}
        core.search("alpha", **opts)
        assert server.root_requests() == [200]
        core.search("alpha", **opts)  # fresh cache: no request at all
        assert server.root_requests() == [200]
        core.search("alpha", refresh=True, **opts)  # --refresh: revalidate, unchanged -> 304
        assert server.root_requests() == [200, 304]
        os.environ["PKGSEARCH_PYPI_MAX_AGE"] = "0"  # always stale: revalidate every time
        try:
            server.add("alphabet", "2", "new")
            found = _ok(core.search("alpha", **opts), "pypi")
            assert server.root_requests() == [200, 304, 200]
            assert [p.name for p in found] == ["alpha", "alphabet"]
        finally:
            del os.environ["PKGSEARCH_PYPI_MAX_AGE"]
        conditional = [h for h in server.hits if h[0] == "/simple/"]
        assert len(conditional) == 3
    # The index is gone: the cached list still answers (details too, from their cache).
    found = _ok(core.search("alpha", refresh=True, **opts), "pypi")
    assert [p.name for p in found] == ["alpha", "alphabet"]


def test_pypi_unreachable_without_cache_is_an_error(cache):
    report = core.search("alpha", managers="pypi", pypi_index="http://127.0.0.1:9/simple/")
    assert report.outcomes[0].status == "error"
    assert report.exit_code == 3


def test_pypi_html_index_and_no_json_api(cache, monkeypatch):
    with PyPIIndex({"alpha-tool": ("3.1", "x")}, json_api=False) as server:
        # An index that only speaks PEP 503 HTML: simulate by asking without the JSON type.
        from pkgsearch.backends import pypi

        monkeypatch.setattr(pypi, "ACCEPT", "text/html")
        found = _ok(core.search("alpha", managers="pypi", pypi_index=server.url), "pypi")
        # No /pypi/<name>/json: the version comes from the project's simple page, no summary.
        assert [(p.name, p.version, p.summary) for p in found] == [("alpha-tool", "3.1", "")]


def test_pypi_over_100k_generated_names(cache):
    names = generated_names(100_000)
    projects = {n: ("1.0", f"generated {i}") for i, n in enumerate(names)}
    projects["redis-tool"] = ("4.0", "the one we look for")
    with PyPIIndex(projects) as server:
        opts = {"managers": "pypi", "pypi_index": server.url, "limit": 10}
        cold = core.search("redis-tool", **opts)
        assert _ok(cold, "pypi")[0].name == "redis-tool"
        warm = core.search("redis", **opts)
        found = _ok(warm, "pypi")
        assert len(found) == 10 and found[0].name == "redis-tool"  # prefix matches, shortest name first
        assert all("redis" in p.name.lower() for p in found)
        assert server.root_requests() == [200]  # warm: the 100k list came from the cache


# ------------------------------------------------------------------------------------------ npm


def test_npm_against_verdaccio(npm_registry, cache, tmp_path, monkeypatch):
    # A global install of an older @sparks/htop, as `npm install -g` leaves it under the prefix.
    pkg_dir = tmp_path / "prefix" / "lib" / "node_modules" / "@sparks" / "htop"
    pkg_dir.mkdir(parents=True)
    (pkg_dir / "package.json").write_text('{"name": "@sparks/htop", "version": "2.0.0"}')
    monkeypatch.setenv("npm_config_prefix", str(tmp_path / "prefix"))
    report = core.search("htop", managers="npm", npm_registry=npm_registry.url)
    found = _ok(report, "npm")
    assert [(p.name, p.version, p.summary, p.installed) for p in found] == [
        ("htop-node", "1.0.0", "htop for node", None),
        ("@sparks/htop", "2.1.0", "scoped htop", "2.0.0"),
        ("top-stats", "0.1.0", "process stats like htop", None),
    ]
    assert [
        p.name for p in _ok(core.search("htop-node", managers="npm", npm_registry=npm_registry.url, exact=True), "npm")
    ] == ["htop-node"]


# ------------------------------------------------------------------------------------------ gem


def test_gem_static_source_through_the_real_gem(gem_source, cache):
    report = core.search("htop", managers="gem", gem_source=gem_source.url)
    found = _ok(report, "gem")
    assert [(p.name, p.version) for p in found] == [("htop", "0.3.0"), ("htopish", "1.0.0")]
    # The source has no search API; that is remembered, and the second search asks gem directly.
    assert list((cache / "gem").glob("*.static"))
    again = _ok(core.search("htop", managers="gem", gem_source=gem_source.url), "gem")
    assert [(p.name, p.version) for p in again] == [("htop", "0.3.0"), ("htopish", "1.0.0")]


def test_gem_installed_versions_from_gem_home(gem_source, cache, tmp_path, monkeypatch):
    specs = tmp_path / "gemhome" / "specifications"
    specs.mkdir(parents=True)
    (specs / "htopish-0.9.0.gemspec").write_text("# a gemspec\n")
    monkeypatch.setenv("GEM_HOME", str(tmp_path / "gemhome"))
    found = _ok(core.search("htopish", managers="gem", gem_source=gem_source.url), "gem")
    assert [(p.name, p.version, p.installed) for p in found] == [("htopish", "1.0.0", "0.9.0")]


def test_gem_source_with_the_search_api(cache):
    """RECORDED: a source speaking the RubyGems search API (GET /api/v1/search.json), answered
    by a loopback server with a response written in that API's shape (name, version, info)."""
    if not shutil.which("gem"):
        pytest.skip("gem not installed (the backend is skipped without it)")
    import http.server
    import threading

    answer = json.dumps(
        [
            {"name": "htop-rb", "version": "1.1.0", "info": "A recorded API answer"},
            {"name": "htop", "version": "0.3.0", "info": "htop"},
        ]
    ).encode()
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append(self.path)
            status, body = (200, answer) if self.path.startswith("/api/v1/search.json?query=htop") else (404, b"")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d/" % server.server_address[1]
        found = _ok(core.search("htop", managers="gem", gem_source=url), "gem")
        assert [(p.name, p.version, p.summary) for p in found] == [
            ("htop", "0.3.0", "htop"),
            ("htop-rb", "1.1.0", "A recorded API answer"),
        ]
        assert seen == ["/api/v1/search.json?query=htop"]
        assert not list((cache / "gem").glob("*.static"))  # an API source is not marked static
    finally:
        server.shutdown()
        server.server_close()


def test_gem_unreachable_source_is_an_error(cache):
    if not shutil.which("gem"):
        pytest.skip("gem not installed")
    report = core.search("htop", managers="gem", gem_source="http://127.0.0.1:9/")
    assert report.outcomes[0].status == "error"


# ------------------------------------------------------------------------------------------ apt


def _apt_lists():
    from pkgsearch.backends import apt

    return apt.list_files("/var/lib/apt/lists")


@pytest.mark.skipif(not shutil.which("apt-cache"), reason="no apt here")
def test_real_apt_agrees_with_apt_cache(cache):
    if not _apt_lists():
        pytest.skip("apt has no package lists: run apt-get update")
    for term in ("htop", "redis"):
        proc = subprocess.run(["apt-cache", "search", term], capture_output=True, text=True, check=True)
        theirs = {line.split(" - ")[0] for line in proc.stdout.splitlines()}
        ours = {p.name for p in _ok(core.search(term, managers="apt", limit=100000), "apt")}
        assert ours == theirs


# ------------------------------------------------------------------------------------------ all


def test_all_local_backends_together_via_the_cli(pypi_server, npm_registry, gem_source, cache):
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        PKGSEARCH_PYPI_INDEX=pypi_server.url,
        PKGSEARCH_NPM_REGISTRY=npm_registry.url,
        PKGSEARCH_GEM_SOURCE=gem_source.url,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pkgsearch", "--json", "htop"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    managers = {row["manager"] for row in data}
    assert {"pypi", "npm", "gem"} <= managers
    exact = [row for row in data if row["name"] == "htop"]
    assert data[: len(exact)] == exact  # exact name matches first, whatever the manager
    for name in ("brew", "pacman", "dnf", "pkgng"):
        if not shutil.which({"pkgng": "pkg"}.get(name, name)):
            assert f"{name}: skipped" in proc.stderr
