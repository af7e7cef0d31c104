"""The integration suite relies on pytest-xdist's ``--dist loadgroup`` keeping each (module, Debian release) group on
one worker: its module fixtures boot one target per group. A pytest/xdist pair that ignores the groups (pytest 9 with
xdist 3.8 does, silently) would boot a target per test and multiply CI time; this runs a tiny suite to catch it."""

import subprocess
import sys
import textwrap

CONFTEST = textwrap.dedent(
    """
    import pytest

    def pytest_generate_tests(metafunc):
        if "platform" in metafunc.fixturenames:
            metafunc.parametrize("platform", ["a", "b"], scope="module")

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(items):
        for item in items:
            item.add_marker(pytest.mark.xdist_group(f"{item.module.__name__}:{item.callspec.params['platform']}"))
    """
)
TESTS = textwrap.dedent(
    """
    import os, pytest

    @pytest.mark.parametrize("n", range(4))
    def test_records_its_worker(platform, n):
        with open("workers.log", "a") as log:
            log.write(f"{platform} {os.environ['PYTEST_XDIST_WORKER']}\\n")
    """
)


def test_loadgroup_keeps_a_module_and_platform_on_one_worker(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_groups.py").write_text(TESTS)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "3", "--dist", "loadgroup", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    workers = {}
    for line in (tmp_path / "workers.log").read_text().splitlines():
        platform, worker = line.split()
        workers.setdefault(platform, set()).add(worker)
    assert sorted(workers) == ["a", "b"]
    assert all(len(used) == 1 for used in workers.values()), f"a group's tests ran on several workers: {workers}"
