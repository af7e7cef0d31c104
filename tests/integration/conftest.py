"""Fixtures for real throwaway targets (see tests/support/targets.py) and salt-ssh against them.

Every test that uses the ``platform`` fixture (directly or through ``boot`` or a module fixture) runs once per
Debian release in ``PLATFORMS``, Debian 13 first; ``@pytest.mark.platforms("debian13")`` narrows a test to the
releases it names. Each (module, platform) pair is one xdist group: a module's shared targets stay on one worker,
and the two releases of one module can run on two workers at once.
"""

import pytest

from tests.support import leaks
from tests.support.saltrun import SaltSSH
from tests.support.targets import PLATFORMS, TargetRun


def pytest_generate_tests(metafunc):
    if "platform" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("platforms")
        names = marker.args if marker else tuple(PLATFORMS)
        unknown = set(names) - set(PLATFORMS)
        if unknown:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: unknown platform(s) {sorted(unknown)}")
        metafunc.parametrize("platform", names, scope="module")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        platform = getattr(item, "callspec", None) and item.callspec.params.get("platform")
        item.add_marker(pytest.mark.xdist_group(f"{item.module.__name__}:{platform or '-'}"))


@pytest.fixture(scope="session")
def target_run():
    """The session's bridge, SSH key and images; every target booted through it is torn down at the end."""
    with TargetRun() as run:
        yield run


@pytest.fixture(scope="session")
def salt_ssh(target_run, tmp_path_factory):
    """salt-ssh with the repository's configuration; its roster always lists every live target."""
    ssh = SaltSSH(tmp_path_factory.mktemp("salt-ssh"))
    original_run = ssh.run

    def run(*args, **kwargs):
        ssh.set_roster(target_run.roster())
        return original_run(*args, **kwargs)

    ssh.run = run
    yield ssh


@pytest.fixture
def boot(target_run, salt_ssh, platform):
    """Boot targets of this test's platform: ``a, b = boot("a1", "b1")``; they are shut down after the test."""
    booted = []

    def _boot(*names):
        targets = target_run.boot(*names, platform=platform)
        booted.extend(targets)
        return targets

    yield _boot
    salt_ssh.set_pillar({})
    target_run.shutdown(*booted)


@pytest.fixture(scope="module", autouse=True)
def leak_check(request, salt_ssh):
    """The module's leak check (tests/support/leaks.py): it fails the module's last test when a declared secret of
    the pillar it used shows up in salt output, a process's command line, a target's Salt caches, logs or journal,
    or salt-ssh's and the masters' working directories here."""
    check = leaks.start(request.module.__name__)
    yield check
    check.pillar_files(salt_ssh.pillar_dir)
    findings = check.finish([(salt_ssh.work_dir, (salt_ssh.pillar_dir,))])
    leaks.stop()
    watch = check.watch
    assert findings == [], (
        f"declared secrets where they must not be ({watch.events} processes watched, {watch.missed} gone before "
        f"their command line could be read): {findings}"
    )
