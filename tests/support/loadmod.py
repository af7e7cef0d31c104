"""Import one of our Salt modules (salt/_modules, salt/_states, salt/_pillar) as a plain Python module (unit tests)."""

import importlib.util
import sys

from tests.support.saltrun import REPO_ROOT


def load(kind, name):
    """``load("_states", "sparks_npm")`` -> the module, registered as ``sparks_<kind>_<name>`` in sys.modules."""
    qualified = f"sparks{kind}_{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, REPO_ROOT / "salt" / kind / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module
