"""bootstrap/1nstall.py behaviour that needs no root and changes nothing."""

import subprocess
import sys

from tests.support.saltrun import REPO_ROOT

SCRIPT = REPO_ROOT / "bootstrap" / "1nstall.py"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False)


def test_list_names_every_state_with_its_description():
    out = run("--list").stdout
    for sls in (REPO_ROOT / "formulas").rglob("*.sls"):
        first = sls.read_text().splitlines()[0]
        assert first.startswith("# "), f"{sls} must start with a one-line description comment"
        assert first[2:] in out, sls
    assert "Roles" in out and "\n  base " in out


def test_unknown_role_and_bad_version_are_usage_errors():
    bad_role = run("--roles", "base,nope")
    assert bad_role.returncode == 2 and "unknown role(s) nope" in bad_role.stderr
    bad_version = run("--salt-version", "latest")
    assert bad_version.returncode == 2 and "is not a version" in bad_version.stderr


def test_requirements_come_from_pyproject_with_salt_pinned_to_3007():
    sys.path.insert(0, str(SCRIPT.parent))
    import importlib.util

    spec = importlib.util.spec_from_file_location("bootstrap_install", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "salt==3007.*" in module.pinned_requirements(None)
    assert "salt==3008.4" in module.pinned_requirements("3008.4")
