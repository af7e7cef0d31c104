"""Per-OS parameter layering of `base`, rendered by a real salt-call with the grains of each OS.

Rendering is all that can be checked for Ubuntu and macOS here (CI runs Debian only); Debian itself is applied
for real in tests/integration/test_base.py.
"""

import pytest

from tests.support.render import OSES, arg, show_sls


@pytest.mark.parametrize("osname", OSES)
def test_layers_per_os(tmp_path, osname):
    states = show_sls(tmp_path, "base", OSES[osname])
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
    states = show_sls(
        tmp_path,
        "base",
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
    # The states' own needs (unattended-upgrades, locales, timesyncd, needrestart) join the one transaction; no
    # fail2ban, no journal module.
    assert arg(states["base-packages-installed"], "pkg", "pkgs") == [
        "htop",
        "unattended-upgrades",
        "locales",
        "systemd-timesyncd",
        "needrestart",
    ]
    assert arg(states["base-packages-useless-purged"], "pkg", "pkgs") == ["apport"]
    assert arg(states["base-sudo-dropin-managed"], "file", "context")["sudo"]["group"] == "wheel"
