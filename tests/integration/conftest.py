"""Fixtures for real throwaway targets (see tests/support/targets.py) and salt-ssh against them."""

import pytest

from tests.support.saltrun import SaltSSH
from tests.support.targets import TargetRun


@pytest.fixture(scope="session")
def target_run():
    """The session's bridge, SSH key and image; every target booted through it is torn down at the end."""
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
def boot(target_run, salt_ssh):
    """Boot targets for one test: ``a, b = boot("a1", "b1")``; they are shut down after the test."""
    booted = []

    def _boot(*names):
        targets = target_run.boot(*names)
        booted.extend(targets)
        return targets

    yield _boot
    salt_ssh.set_pillar({})
    target_run.shutdown(*booted)
