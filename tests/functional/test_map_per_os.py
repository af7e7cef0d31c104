"""Per-OS parameter layering of `base`, rendered by a real salt-call with the grains of each OS.

Rendering is all that can be checked for Ubuntu and macOS here (CI runs Debian only); Debian itself is applied
for real in tests/integration/test_base.py.
"""

import pytest

from tests.support.render import LINUX, OSES, arg, show_sls


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


# Every formula that installs packages, and the package states it renders (sparks_lib/packages.jinja).
PACKAGE_STATES = {
    "base": "base-packages-installed",
    "db_redis": "db-redis-package-installed",
    "db_postgres": "db-postgres-package-installed",
    "dev": "dev-packages-installed",
    "dev_mini": "dev-mini-packages-installed",
    "firewall": "firewall-package-installed",
    "lxc": "lxc-packages-installed",
}


@pytest.mark.parametrize("osname", LINUX)
def test_package_states_carry_their_formulas_options(tmp_path, osname):
    """One transaction per state, with the formula's install_recommends and index age (pillar wins over defaults);
    firewall sets no install_recommends (apt's own default), as before the shared macro."""
    pillar = {"sparks": {"db_redis": {"install_recommends": True, "package_index_max_age": 60}}}
    states = show_sls(tmp_path, ",".join(PACKAGE_STATES), OSES[osname], pillar)
    for formula, state_id in PACKAGE_STATES.items():
        pkg = states[state_id]["pkg"]
        assert "installed" in pkg and arg(states[state_id], "pkg", "pkgs"), formula
        assert arg(states[state_id], "pkg", "refresh") is True, formula
        if formula == "firewall":
            assert arg(states[state_id], "pkg", "pkgs") == ["nftables"]
            with pytest.raises(KeyError):
                arg(states[state_id], "pkg", "install_recommends")
    redis = states["db-redis-package-installed"]
    assert (arg(redis, "pkg", "install_recommends"), arg(redis, "pkg", "cache_valid_time")) == (True, 60)
    assert arg(states["dev-packages-installed"], "pkg", "install_recommends") is False
    assert arg(states["dev-packages-installed"], "pkg", "require") == [{"pkg": "dev-mini-packages-installed"}]
    assert arg(states["lxc-packages-installed"], "pkg", "cache_valid_time") == 21600
