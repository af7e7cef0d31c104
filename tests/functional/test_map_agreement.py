"""SLS and Python see the same settings: for every formula and every OS parameter set, the map an SLS file imports
equals what our Python modules get from ``salt/_utils/sparks_map.py`` (which renders that same map.jinja).

Both are computed in one minion per OS (conftest.py: os_loaders, with the grains of that OS and pillar.example as
pillar); the SLS side goes through a real render (state.show_sls of a probe state file that dumps every map).
"""


def test_sls_and_python_see_the_same_settings(os_loaders, map_formulas):
    shown = os_loaders.modules.state.show_sls("sparks_map_probe")
    assert isinstance(shown, dict), shown  # a list of render errors otherwise
    # The OS layers were applied (base's sudo group differs on macOS): the grains are this OS's.
    base = next(arg["settings"] for arg in shown["probe-base"]["test"] if isinstance(arg, dict))
    assert base["sudo"]["group"] == ("admin" if os_loaders.opts["grains"]["os"] == "MacOS" else "sudo")
    for formula in map_formulas:
        in_sls = next(arg["settings"] for arg in shown[f"probe-{formula}"]["test"] if isinstance(arg, dict))
        in_python = os_loaders.utils.sparks_map.get(os_loaders.modules, formula)
        assert in_python == in_sls, formula
