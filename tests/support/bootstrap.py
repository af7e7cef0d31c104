"""bootstrap/1nstall.py loaded as a module, for the tests that call its functions instead of running it."""

import importlib.util

from tests.support.saltrun import REPO_ROOT

SCRIPT = REPO_ROOT / "bootstrap" / "1nstall.py"
# The machine's stored pillar before a test offers a new one (its password must survive every refusal).
GOOD_PILLAR = "sparks:\n  db_redis:\n    port: 6380\n    settings:\n      requirepass: Old-s3cret\n"


def load_script():
    spec = importlib.util.spec_from_file_location("bootstrap_install", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
