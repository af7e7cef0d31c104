"""Fixtures of the functional tests: salt-factories `Loaders` with our modules, and a cached venv per Django line."""

import shutil
import tempfile
from pathlib import Path

import pytest
import salt._logging.impl as salt_logging
from saltfactories.utils.functional import Loaders

from tests.support.django_projects import DJANGO_SPECS, REPO_ROOT, django_minion_opts, django_venv, django_wheelhouse


@pytest.fixture(scope="module")
def minion_opts(salt_factories):
    return django_minion_opts(salt_factories, REPO_ROOT)


@pytest.fixture(scope="module")
def loaders(minion_opts):  # pylint: disable=redefined-outer-name
    yield Loaders(minion_opts)
    # Salt buffers warnings in a deferred stderr handler that it flushes at interpreter exit, when
    # pytest has already closed that stream ("--- Logging error ---" noise after the summary line).
    # Flushing it here hands the records to the live handlers instead.
    salt_logging.shutdown_temp_handler()


@pytest.fixture
def reset_loaders_state(loaders):  # pylint: disable=redefined-outer-name
    """Each test starts from fresh loader state (the django modules' tests use it: ``pytestmark``)."""
    try:
        yield
    finally:
        loaders.reset_state()


@pytest.fixture(scope="module", params=list(DJANGO_SPECS))
def django_install(request):
    """A cached virtualenv per Django line: ``{venv, version, label, wheelhouse}``."""
    venv, version = django_venv(request.param)
    wheelhouse, _ = django_wheelhouse(request.param)
    return {"venv": str(venv), "version": version, "label": request.param, "wheelhouse": str(wheelhouse)}


@pytest.fixture
def runas_base():
    """A directory `nobody` can reach, outside pytest's root-only temporary tree: opening that tree up does not
    last (any pytest session starting on the machine sets /tmp/pytest-of-root back to 0700)."""
    base = Path(tempfile.mkdtemp(prefix="sparks-runas-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)
