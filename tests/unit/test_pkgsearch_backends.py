"""pkgsearch backends without network or root: apt over a package-list folder the test writes
(rebuild on change, compression, installed versions), and the output parsers of the tools.

brew, pacman, dnf and pkg output: MOCKED (hand-written in those tools' formats; they do not
run on Debian). See tests/support/registries/fakebin/README."""

import gzip
import lzma
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

from pkgsearch import core  # noqa: E402
from pkgsearch.backends import brew, dnf, gem, pacman, pypi  # noqa: E402
from tests.support.registries import fake_path  # noqa: E402

PACKAGES = """Package: htop
Version: 3.2.2-2
Architecture: amd64
Description: interactive processes viewer
Description-md5: 1111

Package: htop
Version: 3.2.1-1
Architecture: amd64
Description: older interactive processes viewer

Package: btop
Version: 1.2.13-1
Provides: resource-monitor
Description: Modern and colorful command line resource monitor
 that shows usage and stats like htop.

Package: libhtop-dev
Version: 1:0.1-1
Description: library for HTOP clones

"""

UPDATES = """Package: htop
Version: 3.2.2-2+deb12u1
Description: interactive processes viewer (security update)

Package: newtop
Version: 0.1-1
Description: a new htop-like viewer

"""

TRANSLATION = """Package: htop
Description-md5: 1111
Description-en: interactive processes viewer
 Htop is an ncursed-based process viewer similar to top, but it
 allows one to scroll the list vertically and horizontally.

"""

STATUS = """Package: htop
Status: install ok installed
Version: 3.2.2-2

Package: btop
Status: deinstall ok config-files
Version: 1.2.13-1

"""


@pytest.fixture
def lists(tmp_path, monkeypatch):
    folder = tmp_path / "lists"
    folder.mkdir()
    (folder / "deb.example_dists_x_main_binary-amd64_Packages").write_text(PACKAGES)
    with gzip.open(folder / "deb.example_dists_x_main_i18n_Translation-en.gz", "wt") as fh:
        fh.write(TRANSLATION)
    (folder / "deb.example_dists_x_InRelease").write_text("not a list\n")
    status = tmp_path / "status"
    status.write_text(STATUS)
    monkeypatch.setenv("PKGSEARCH_APT_LISTS", str(folder))
    monkeypatch.setenv("PKGSEARCH_DPKG_STATUS", str(status))
    monkeypatch.setenv("PKGSEARCH_CACHE_DIR", str(tmp_path / "cache"))
    return folder


def _search(term, **kw):
    report = core.search(term, managers="apt", **kw)
    assert report.outcomes[0].status == "ok", report.outcomes[0].message
    return report.packages


def test_apt_index_ranks_and_reads_installed(lists):
    found = _search("htop")
    assert [(p.name, p.version, p.installed) for p in found] == [
        ("htop", "3.2.2-2", "3.2.2-2"),  # newest version kept, installed from dpkg status
        ("libhtop-dev", "1:0.1-1", None),  # matched case-insensitively
        ("btop", "1.2.13-1", None),  # long description match; config-files only is not installed
    ]
    assert found[0].summary == "interactive processes viewer"


def test_apt_matches_translations_and_provides(lists):
    assert [p.name for p in _search("ncursed")] == ["htop"]  # long description from Translation-en.gz
    assert [p.name for p in _search("resource-monitor")] == ["btop"]  # a virtual package it provides


def test_apt_index_rebuilds_when_lists_change(lists, tmp_path):
    assert [p.name for p in _search("newtop")] == []
    index_files = list((tmp_path / "cache" / "apt").iterdir())
    assert len(index_files) == 1
    built = index_files[0].stat().st_mtime_ns
    # Warm: the index is not rebuilt while the lists are unchanged.
    _search("htop")
    assert index_files[0].stat().st_mtime_ns == built
    # `apt-get update` brings a new list file (xz, as apt may store it): rebuilt at once.
    with lzma.open(lists / "deb.example_dists_x-updates_main_binary-amd64_Packages.xz", "wt") as fh:
        fh.write(UPDATES)
    found = _search("htop")
    assert found[0].name == "htop" and found[0].version == "3.2.2-2+deb12u1"
    assert [p.name for p in _search("newtop")] == ["newtop"]
    # An existing list rewritten in place (same name, new content/mtime) also triggers a rebuild.
    main = lists / "deb.example_dists_x_main_binary-amd64_Packages"
    main.write_text(PACKAGES.replace("library for HTOP clones", "library for TOP clones"))
    os.utime(main, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert "TOP clones" in [p.summary for p in _search("libhtop")][0]


def test_apt_rebuilds_when_a_list_is_renamed_into_place_with_same_size_and_mtime(lists):
    """apt moves each downloaded list into place and copies the server's Last-Modified to it."""
    main = lists / "deb.example_dists_x_main_binary-amd64_Packages"
    _search("htop")
    st = main.stat()
    new = PACKAGES.replace("library for HTOP clones", "library for HTOP tools!")
    assert len(new) == len(PACKAGES)
    partial = lists / "partial-download"
    partial.write_text(new)
    os.utime(partial, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(partial, main)
    assert main.stat().st_size == st.st_size and main.stat().st_mtime_ns == st.st_mtime_ns
    assert [p.summary for p in _search("libhtop")] == ["library for HTOP tools!"]


def test_apt_refresh_forces_rebuild(lists, tmp_path):
    _search("htop")
    index = next((tmp_path / "cache" / "apt").iterdir())
    index.write_bytes(index.read_bytes().split(b"\n", 1)[0] + b"\nbogus\t0\tstale entry\t\t\n")
    assert [p.name for p in _search("bogus")] == ["bogus"]  # the header matches: trusted
    assert [p.name for p in _search("bogus", refresh=True)] == []


def test_apt_unwritable_cache_still_answers(lists, monkeypatch, tmp_path):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("")
    monkeypatch.setenv("PKGSEARCH_CACHE_DIR", str(blocker / "cache"))
    assert [p.name for p in _search("htop", exact=True)] == ["htop"]


def test_apt_skipped_without_lists(tmp_path, monkeypatch):
    monkeypatch.setenv("PKGSEARCH_APT_LISTS", str(tmp_path / "none"))
    report = core.search("htop", managers="apt")
    assert report.outcomes[0].status == "skipped"
    assert report.exit_code == 3


@pytest.mark.skipif(not shutil.which("lz4"), reason="lz4 not installed")
def test_apt_reads_lz4_lists(lists):
    src = lists / "upd_Packages"
    src.write_text(UPDATES)
    subprocess.run(
        ["lz4", "-q", str(src), str(lists / "deb.example_dists_x-updates_main_binary-amd64_Packages.lz4")], check=True
    )
    src.unlink()
    assert [p.name for p in _search("newtop")] == ["newtop"]


def test_brew_parsers():
    text = "==> Formulae\nhtop\nhtop-osx \u2714\n\n==> Casks\nhtop-monitor\n"
    assert brew.parse_search(text) == {"formula": ["htop", "htop-osx"], "cask": ["htop-monitor"]}
    info = (
        '{"formulae":[{"name":"htop","desc":"d","versions":{"stable":"3.3.0"},"installed":[{"version":"3.2"}]}],'
        '"casks":[{"token":"c","desc":"x","version":"1","installed":null}]}'
    )
    assert brew.parse_info(info) == [("formula", "htop", "3.3.0", "d", "3.2"), ("cask", "c", "1", "x", None)]


def test_pacman_parser():
    text = (
        "extra/htop 3.3.0-1 [installed]\n    Interactive process viewer\n"
        "extra/htop-vim 3.3.0-1 (editors) [installed: 3.2.2-1]\n    With vim keys\n"
        "extra/bashtop 0.9-3\n    Monitor\n"
    )
    got = [(p.name, p.version, p.installed, p.summary) for p in pacman.parse(text)]
    assert got == [
        ("htop", "3.3.0-1", "3.3.0-1", "Interactive process viewer"),
        ("htop-vim", "3.3.0-1", "3.2.2-1", "With vim keys"),
        ("bashtop", "0.9-3", None, "Monitor"),
    ]


def test_dnf_parser_dnf4_and_dnf5():
    dnf4 = "=== Name Exactly Matched: htop ===\nhtop.x86_64 : Interactive process viewer\n"
    dnf5 = "Matched fields: name (exact)\n htop.x86_64\tInteractive process viewer\n"
    assert dnf.parse_search(dnf4) == {"htop": "Interactive process viewer"}
    assert dnf.parse_search(dnf5) == {"htop": "Interactive process viewer"}


def test_gem_search_parser():
    assert gem.parse_gem_search("\n*** REMOTE GEMS ***\n\nhtop (0.3.0)\nrake (13.0.6, 12.3.3)\n") == [
        ("htop", ["0.3.0"]),
        ("rake", ["13.0.6", "12.3.3"]),
    ]


def test_pypi_project_list_parsers_and_matching():
    json_body = b'{"meta":{"api-version":"1.1"},"projects":[{"name":"Foo_Bar"},{"name":"htop"}]}'
    assert pypi.parse_project_list(json_body, "application/vnd.pypi.simple.v1+json") == ["Foo_Bar", "htop"]
    html = b'<html><body><a href="/simple/foo-bar/">Foo_Bar</a>\n<a href="/simple/x/">x</a></body></html>'
    assert pypi.parse_project_list(html, "text/html") == ["Foo_Bar", "x"]
    with pytest.raises(core.BackendError):
        pypi.parse_project_list(b"{}", "application/json")
    data = b"Foo_Bar\nfoo.bar.baz\nfoobar\nhtop\n"
    assert sorted(pypi.match_names(data, "foo-bar")) == ["Foo_Bar", "foo.bar.baz"]
    assert sorted(pypi.match_names(data, "FOO")) == ["Foo_Bar", "foo.bar.baz", "foobar"]


def test_pypi_version_from_simple_page():
    page = {
        "files": [
            {"filename": "x-1.0.tar.gz"},
            {"filename": "x-1.10-py3-none-any.whl"},
            {"filename": "x-2.0rc1.tar.gz"},
            {"filename": "x-1.9.tar.gz"},
        ]
    }
    assert pypi.details_from_simple(page) == "1.10"
    assert pypi.details_from_simple({"versions": ["0.1", "0.2"], "files": []}) == "0.2"
    assert pypi.details_from_simple({"files": []}) is None


# ------------------------------------------------------------------------------------------
# The tools' stand-ins (MOCKED output) through the real subprocess path


@pytest.fixture
def fakes(monkeypatch):
    monkeypatch.setenv("PATH", fake_path())


def test_mocked_brew_pacman_dnf_pkgng(fakes):
    report = core.search("htop", managers="brew,pacman,dnf,pkgng")
    assert {o.manager: o.status for o in report.outcomes} == dict.fromkeys(["brew", "pacman", "dnf", "pkgng"], "ok")
    rows = {(p.manager, p.name): (p.version, p.installed) for p in report.packages}
    assert rows[("brew", "htop")] == ("3.3.0", "3.2.2")
    assert rows[("brew", "htop-monitor")] == ("1.4.2", None)
    assert rows[("pacman", "htop-vim")] == ("3.3.0-1", "3.2.2-1")
    assert rows[("dnf", "htop")] == ("3.3.0-1.fc39", "3.2.2-2.fc39")
    assert rows[("pkgng", "btop")] == ("1.3.0", None)
    assert [p.name for p in report.packages[:4]] == ["htop"] * 4


def test_mocked_tools_nothing_found_and_failure(fakes, monkeypatch):
    report = core.search("zzzz", managers="brew,pacman,dnf,pkgng")
    assert report.exit_code == 1 and all(o.status == "ok" for o in report.outcomes)
    monkeypatch.setenv("PKGSEARCH_FAKE_FAIL", "pacman")
    report = core.search("htop", managers="pacman,pkgng")
    status = {o.manager: o for o in report.outcomes}
    assert status["pacman"].status == "error" and "recorded failure" in status["pacman"].message
    assert status["pkgng"].status == "ok" and report.exit_code == 0


def test_slow_tool_is_killed_at_the_timeout(fakes, monkeypatch):
    monkeypatch.setenv("PKGSEARCH_FAKE_SLEEP", "5")
    started = time.monotonic()
    report = core.search("htop", managers="pacman,pkgng", timeout=0.5)
    assert time.monotonic() - started < 5, "the search must not wait for the 5 s tools"
    assert {o.status for o in report.outcomes} <= {"error", "timeout"}
    assert report.exit_code == 3
