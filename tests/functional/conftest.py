"""Fixtures of the functional tests: salt-factories `Loaders` with our modules (one per OS for the map agreement
test), and a cached venv per Django line."""

import json
import shutil
import tempfile
from pathlib import Path

import pytest
import salt._logging.impl as salt_logging
from saltfactories.utils.functional import Loaders

from tests.support.django_projects import DJANGO_SPECS, REPO_ROOT, django_minion_opts, django_venv, django_wheelhouse
from tests.support.render import OSES


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


@pytest.fixture(scope="module")
def django_module(loaders):  # pylint: disable=redefined-outer-name
    """The sparks_django execution module, loaded by Salt's loader with the repository's modules."""
    return loaders.modules.sparks_django


@pytest.fixture(scope="module")
def django_states(loaders):  # pylint: disable=redefined-outer-name
    """The sparks_django state module, loaded the same way."""
    return loaders.states.sparks_django


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


# Every formula with a map.jinja; the Jinja library (formulas/sparks_lib) has no settings of its own.
MAP_FORMULAS = sorted(
    path.parent.name for path in (REPO_ROOT / "formulas").glob("*/map.jinja") if path.parent.name != "sparks_lib"
)
PROBE = """\
{%- for formula in formulas %}
{%-   import formula ~ "/map.jinja" as map %}
probe-{{ formula }}:
  test.nop:
    - settings: {{ map[formula] | json }}
{%- endfor %}
"""


@pytest.fixture(scope="session")
def map_formulas():
    return MAP_FORMULAS


@pytest.fixture(scope="module", params=list(OSES))
def os_loaders(request, salt_factories, tmp_path_factory):
    """Loaders of a minion with one OS's grains, pillar.example as pillar and a probe state dumping every map."""
    root = tmp_path_factory.mktemp("map-agreement")
    (root / "probe").mkdir()
    (root / "probe/sparks_map_probe.sls").write_text(PROBE.replace("formulas", json.dumps(MAP_FORMULAS)))
    (root / "pillar").mkdir()
    (root / "pillar/top.sls").write_text("base:\n  '*':\n    - example\n")
    (root / "pillar/example.sls").write_text((REPO_ROOT / "pillar.example").read_text())
    factory = salt_factories.salt_minion_daemon(
        f"sparks-map-{request.param.lower()}",
        overrides={
            "file_client": "local",
            "grains": OSES[request.param],
            "pillar_roots": {"base": [str(root / "pillar")]},
            "file_roots": {"base": [str(REPO_ROOT / "formulas"), str(root / "probe")]},
            "module_dirs": [str(REPO_ROOT / "salt" / "_modules")],
            "states_dirs": [str(REPO_ROOT / "salt" / "_states")],
            "utils_dirs": [str(REPO_ROOT / "salt" / "_utils")],
        },
    )
    yield Loaders(factory.config.copy())
    salt_logging.shutdown_temp_handler()  # flush Salt's deferred log records (see conftest.py's loaders)
