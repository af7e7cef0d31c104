"""SLS and Python see the same settings: for every formula and every OS parameter set, the map an SLS file imports
equals what our Python modules get from ``salt/_utils/sparks_map.py`` (which renders that same map.jinja).

Both are computed in one minion (salt-factories Loaders) per OS, with the grains of that OS and pillar.example
as pillar; the SLS side goes through a real render (state.show_sls of a probe state file that dumps every map).
"""

import json

import pytest
import salt._logging.impl as salt_logging
from saltfactories.utils.functional import Loaders

from tests.support.render import OSES
from tests.support.saltrun import REPO_ROOT

# Every formula with a map.jinja; the Jinja library (formulas/sparks_lib) has no settings of its own.
FORMULAS = sorted(p.parent.name for p in (REPO_ROOT / "formulas").glob("*/map.jinja") if p.parent.name != "sparks_lib")
PROBE = """\
{%- for formula in formulas %}
{%-   import formula ~ "/map.jinja" as map %}
probe-{{ formula }}:
  test.nop:
    - settings: {{ map[formula] | json }}
{%- endfor %}
"""


@pytest.fixture(scope="module", params=list(OSES))
def os_loaders(request, salt_factories, tmp_path_factory):
    root = tmp_path_factory.mktemp("map-agreement")
    (root / "probe").mkdir()
    (root / "probe/sparks_map_probe.sls").write_text(PROBE.replace("formulas", json.dumps(FORMULAS)))
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


def test_sls_and_python_see_the_same_settings(os_loaders):
    shown = os_loaders.modules.state.show_sls("sparks_map_probe")
    assert isinstance(shown, dict), shown  # a list of render errors otherwise
    # The OS layers were applied (base's sudo group differs on macOS): the grains are this OS's.
    base = next(arg["settings"] for arg in shown["probe-base"]["test"] if isinstance(arg, dict))
    assert base["sudo"]["group"] == ("admin" if os_loaders.opts["grains"]["os"] == "MacOS" else "sudo")
    for formula in FORMULAS:
        in_sls = next(arg["settings"] for arg in shown[f"probe-{formula}"]["test"] if isinstance(arg, dict))
        in_python = os_loaders.utils.sparks_map.get(os_loaders.modules, formula)
        assert in_python == in_sls, formula
