"""Per-OS parameter layering of `base`, rendered by a real salt-call with the grains of each OS.

Rendering is all that can be checked for Ubuntu and macOS here (CI runs Debian only); Debian itself is applied
for real in tests/integration/test_base.py.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.saltrun import repo_config

SALT_CALL = str(Path(sys.executable).parent / "salt-call")
OSES = {
    "Debian-12": {"os_family": "Debian", "os": "Debian", "osfinger": "Debian-12"},
    "Ubuntu-24.04": {"os_family": "Debian", "os": "Ubuntu", "osfinger": "Ubuntu-24.04"},
    "macOS": {"os_family": "MacOS", "os": "MacOS", "osfinger": "MacOS-14"},
}


def render(tmp_path, grains, pillar=None):
    conf = repo_config(tmp_path, tmp_path / "pillar")
    conf.update(file_client="local", grains=grains)
    (tmp_path / "pillar").mkdir(exist_ok=True)
    (tmp_path / "pillar/local.sls").write_text(yaml.safe_dump(pillar or {}))
    (tmp_path / "minion").write_text(yaml.safe_dump(conf))
    proc = subprocess.run(
        [SALT_CALL, "--local", "-c", str(tmp_path), "--out=json", "state.show_sls", "base"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)["local"]


def arg(state, module, key):
    for item in state[module]:
        if isinstance(item, dict) and key in item:
            return item[key]
    raise KeyError(key)


@pytest.mark.parametrize("osname", OSES)
def test_layers_per_os(tmp_path, osname):
    states = render(tmp_path, OSES[osname])
    packages = arg(states["base-packages-installed"], "pkg", "pkgs")
    sudo = arg(states["base-sudo-dropin-managed"], "file", "context")["sudo"]
    if osname == "macOS":
        assert "fail2ban" not in packages and sudo["group"] == "admin"
        assert "base-unattended-upgrades-periodic-managed" not in states
        assert "base-fail2ban-service-running" not in states
    else:
        assert {"htop", "byobu", "fail2ban", "sudo"} <= set(packages)
        assert sudo["group"] == "sudo"
    purged = states.get("base-packages-useless-purged")
    assert (purged is not None) == (osname == "Ubuntu-24.04")


def test_pillar_wins_over_os_layers_and_replaces_lists(tmp_path):
    states = render(
        tmp_path,
        OSES["Ubuntu-24.04"],
        {
            "sparks": {
                "base": {
                    "packages": ["htop"],
                    "admin_packages": [],
                    "useless_packages": ["apport"],
                    "sudo": {"group": "wheel"},
                }
            }
        },
    )
    # The states' own needs (unattended-upgrades, locales) join the one transaction; no fail2ban, no journal module.
    assert arg(states["base-packages-installed"], "pkg", "pkgs") == ["htop", "unattended-upgrades", "locales"]
    assert arg(states["base-packages-useless-purged"], "pkg", "pkgs") == ["apport"]
    assert arg(states["base-sudo-dropin-managed"], "file", "context")["sudo"]["group"] == "wheel"
