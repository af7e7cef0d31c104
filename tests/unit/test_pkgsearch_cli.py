"""The `pkgsearch` command as a person runs it (a subprocess): bad input gives a clear message
and exit 2 (never a traceback), exit codes, formats, the TTY progress lines. No network: apt
reads a list folder the test writes; brew/pacman/dnf/pkg are the MOCKED stand-ins."""

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

from pkgsearch import cli  # noqa: E402
from tests.support.registries import fake_path  # noqa: E402


@pytest.fixture
def env(tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "x_Packages").write_text(
        "Package: htop\nVersion: 3.2.2-2\nDescription: interactive processes viewer\n\n"
        "Package: btop\nVersion: 1.2-1\nDescription: monitor like htop\n\n"
    )
    (tmp_path / "status").write_text("")
    return dict(
        os.environ,
        PATH=fake_path(),
        PYTHONPATH=str(ROOT),
        PKGSEARCH_APT_LISTS=str(lists),
        PKGSEARCH_DPKG_STATUS=str(tmp_path / "status"),
        PKGSEARCH_CACHE_DIR=str(tmp_path / "cache"),
        # Never the public registries from tests: closed loopback ports.
        PKGSEARCH_PYPI_INDEX="http://127.0.0.1:9/simple/",
        PKGSEARCH_NPM_REGISTRY="http://127.0.0.1:9/",
        PKGSEARCH_GEM_SOURCE="http://127.0.0.1:9/",
    )


def run(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "pkgsearch", *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "a search term is required"),
        ([""], "the search term is empty"),
        (["^ht.*p$"], "looks like a regular expression"),
        (["h\u00e9llo"], "non-ASCII"),
        (["\U0001f600"], "non-ASCII"),
        (["x" * 10240], "10240 characters long"),
        (["--managers", "apt,yum", "htop"], "unknown manager 'yum'"),
        (["--managers", "", "htop"], None),  # empty list means all: not an error
        (["--limit", "lots", "htop"], "--limit must be a number"),
        (["--limit", "0", "htop"], "--limit must be at least 1"),
        (["--timeout", "-3", "htop"], "--timeout must be at least"),
        (["--frobnicate", "htop"], "unrecognized arguments"),
        (["htop", "extra"], "unrecognized arguments"),
        (["--json", "--plain", "htop"], "not allowed with"),
    ],
)
def test_bad_input_exits_2_with_a_message(env, args, message):
    proc = run(env, "--managers=apt", *args) if args[:1] != ["--managers"] else run(env, *args)
    if message is None:
        assert proc.returncode in (0, 1, 3)
        return
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stdout == ""


def test_json_schema_and_exit_0(env):
    proc = run(env, "--managers", "apt,pacman", "--json", "htop")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data[0] == {
        "manager": "apt",
        "name": "htop",
        "version": "3.2.2-2",
        "summary": "interactive processes viewer",
        "installed": None,
    }
    assert all(list(row) == ["manager", "name", "version", "summary", "installed"] for row in data)
    assert [(r["manager"], r["name"]) for r in data][:2] == [("apt", "htop"), ("pacman", "htop")]


def test_exact_and_limit(env):
    data = json.loads(run(env, "-m", "apt,pacman,dnf", "--json", "--exact", "htop").stdout)
    assert {r["name"] for r in data} == {"htop"} and len(data) == 3
    data = json.loads(run(env, "-m", "apt,pacman,dnf", "--json", "--limit", "2", "htop").stdout)
    assert len(data) == 2


def test_nothing_found_exit_1(env):
    proc = run(env, "-m", "apt,pacman", "zzzzqq")
    assert proc.returncode == 1
    assert "nothing found for 'zzzzqq'" in proc.stderr


def test_skipped_manager_is_reported_and_all_skipped_exit_3(env):
    env = dict(env, PATH="/usr/bin:/bin")  # no stand-ins: brew is missing
    proc = run(env, "-m", "apt,brew", "htop")
    assert proc.returncode == 0
    assert "brew: skipped: brew not found on PATH" in proc.stderr
    proc = run(env, "-m", "brew,dnf", "htop")
    assert proc.returncode == 3
    assert "no package manager could answer" in proc.stderr


def test_failing_backend_reported_others_answer(env):
    proc = run(env, "-m", "apt,pypi,npm", "--plain", "htop")  # pypi and npm point at a closed port
    assert proc.returncode == 0
    assert "pypi: error: GET http://127.0.0.1:9/simple/" in proc.stderr
    assert "npm: error:" in proc.stderr
    assert proc.stdout.splitlines()[0] == "apt\thtop\t3.2.2-2\t-\tinteractive processes viewer"
    proc = run(env, "-m", "pypi,npm", "htop")
    assert proc.returncode == 3


def test_stream_format_prints_as_managers_answer(env):
    proc = run(env, "-m", "apt,pacman", "--stream", "htop")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert {line.split("\t")[0] for line in lines} == {"apt", "pacman"}


def test_terminal_gets_progress_lines_and_a_table(env):
    """On a TTY: one live line per manager on stderr, then the ranked table."""
    pid, fd = pty.fork()
    if pid == 0:  # child: stdout and stderr are the terminal
        os.environ.clear()
        os.environ.update(env, COLUMNS="100", LINES="40")
        os.execv(sys.executable, [sys.executable, "-m", "pkgsearch", "-m", "apt,pacman,brew", "htop"])
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0
    assert "searching" in screen
    assert "apt" in screen and "found" in screen
    assert "MANAGER  NAME" in screen
    assert "\x1b[3F" in screen  # the three progress lines were redrawn in place


def test_main_returns_codes_in_process(env, monkeypatch, capsys):
    for key in ("PATH", "PKGSEARCH_APT_LISTS", "PKGSEARCH_DPKG_STATUS", "PKGSEARCH_CACHE_DIR"):
        monkeypatch.setenv(key, env[key])
    assert cli.main(["-m", "apt", "--json", "htop"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == "htop"
    with pytest.raises(SystemExit) as exc:
        cli.main(["-m", "apt", "a[b"])
    assert exc.value.code == 2
