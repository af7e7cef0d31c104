"""The `salt_minion` formula rendered by a real salt-call: Salt is installed as CI tested it (the one pin in
requirements/constraints.txt, with that file), or as another version on its own. Applied for real by
tests/integration/test_fleet.py.
"""

import json
import re

from tests.support.render import LINUX, arg, salt_call, show_sls
from tests.support.saltrun import REPO_ROOT

CONSTRAINTS = REPO_ROOT / "requirements" / "constraints.txt"
PINNED = re.search(r"^salt==(\S+)$", CONSTRAINTS.read_text(), re.MULTILINE).group(1)


def minion_pillar(**settings):
    return {"sparks": {"salt_minion": {"master": "10.0.0.1", **settings}}}


def test_default_is_the_pinned_salt_installed_with_the_constraints_file(tmp_path):
    states = show_sls(tmp_path, "salt_minion", LINUX["Debian-12"], minion_pillar())
    constraints, install = states["salt-minion-constraints-managed"], states["salt-minion-salt-installed"]
    assert arg(constraints, "file", "source") == "salt://salt_minion/files/constraints.txt"
    target = arg(constraints, "file", "name")
    assert target == "/opt/sparks/venv/sparks-constraints.txt"
    assert f"--constraint {target} 'salt=={PINNED}'" in arg(install, "cmd", "name")
    # Installed = the pinned version runs and the venv was installed with these very constraints.
    assert f"grep -qF 'salt-minion {PINNED} '" in arg(install, "cmd", "unless")
    assert f"cmp -s {target} {target}.installed" in arg(install, "cmd", "unless")
    assert {"file": "salt-minion-constraints-managed"} in arg(install, "cmd", "require")
    # Salt 3008's dependency timelib is source only on PyPI: pip needs a compiler and Python's headers.
    packages = arg(states["salt-minion-prerequisites-installed"], "pkg", "pkgs")
    assert {"python3-venv", "gcc", "libc6-dev", "python3-dev"} <= set(packages)


def test_another_version_installs_on_its_own(tmp_path):
    """Another version than the pin must not get the pinned version's dependency pins."""
    states = show_sls(tmp_path, "salt_minion", LINUX["Debian-12"], minion_pillar(version="3008.1"))
    assert "salt-minion-constraints-managed" not in states
    command = arg(states["salt-minion-salt-installed"], "cmd", "name")
    assert "'salt==3008.1'" in command and "--constraint" not in command
    assert "grep -qF 'salt-minion 3008.1 '" in arg(states["salt-minion-salt-installed"], "cmd", "unless")
    (tmp_path / "wildcard").mkdir()
    wildcard = show_sls(tmp_path / "wildcard", "salt_minion", LINUX["Debian-12"], minion_pillar(version="3008.*"))
    assert "grep -qF 'salt-minion 3008.'" in arg(wildcard["salt-minion-salt-installed"], "cmd", "unless")


def test_3008_0_is_refused(tmp_path):
    proc = salt_call(tmp_path, minion_pillar(version="3008.0"), "state.show_sls", "salt_minion")
    assert proc.returncode != 0
    assert "installs without its dependencies" in proc.stdout + proc.stderr


def test_the_file_server_serves_the_constraints_file_itself(tmp_path):
    """files/constraints.txt is a link to requirements/constraints.txt: the file server must follow it."""
    proc = salt_call(tmp_path, {}, "cp.get_file_str", "salt://salt_minion/files/constraints.txt")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["local"] == CONSTRAINTS.read_text()


def test_a_running_minion_is_restarted_by_systemd_after_the_run_never_inside_it(tmp_path):
    """Through a master, the run is the minion's own job: a restart inside it would cut it off before it returns."""
    states = show_sls(tmp_path, "salt_minion", LINUX["Debian-12"], minion_pillar())
    restart, running = states["salt-minion-service-restart-scheduled"], states["salt-minion-service-running"]
    command = arg(restart, "cmd", "name")
    assert command.startswith("systemd-run --on-active=") and "systemctl restart salt-minion" in command
    assert arg(restart, "cmd", "onlyif") == "systemctl is-active --quiet salt-minion"
    assert {"cmd": "salt-minion-salt-installed"} in arg(restart, "cmd", "onchanges")
    # The service state only starts a minion that is not running (a first install), after the check above.
    assert not any(isinstance(item, dict) and "watch" in item for item in running["service"])
    assert {"cmd": "salt-minion-service-restart-scheduled"} in arg(running, "service", "require")
