"""The `lxc` formula rendered by a real salt-call with pillar.example's section (applied for real in
tests/integration/test_lxc.py), its clean state, the pillar checker on its keys, and our roster module.
"""

import json

import pytest
import yaml

from tests.support.render import LINUX, salt_call, show_sls
from tests.support.saltrun import REPO_ROOT

EXAMPLE = yaml.safe_load((REPO_ROOT / "pillar.example").read_text())["sparks"]


def test_lxc_renders_net_before_packages_and_one_state_per_guest(tmp_path):
    states = show_sls(tmp_path, "lxc", LINUX["Debian-12"], {"sparks": {"lxc": EXAMPLE["lxc"]}})
    assert set(states) == {
        "lxc-net-config-file-managed",
        "lxc-packages-installed",
        "lxc-net-bridge-running",
        *(f"lxc-guest-{name}-present" for name in EXAMPLE["lxc"]["guests"]),
    }
    pkg = states["lxc-packages-installed"]["pkg"]
    assert {"require": [{"file": "lxc-net-config-file-managed"}]} in pkg
    web1 = {
        k: v
        for item in states["lxc-guest-web1-present"]["sparks_lxc"]
        if isinstance(item, dict)
        for k, v in item.items()
    }
    assert web1["address"] == "10.213.77.11/24"
    assert web1["gateway"] == "10.213.77.1"
    assert web1["memory_limit"] == "512M"
    assert web1["packages"] == ["python3", "openssh-server"]


@pytest.mark.parametrize(
    ("subnet", "netmask"),
    [("10.213.77.0/24", "255.255.255.0"), ("172.20.0.0/14", "255.252.0.0"), ("192.168.8.128/25", "255.255.255.128")],
)
def test_lxc_net_file_gets_the_netmask_of_the_subnet(tmp_path, subnet, netmask):
    """Worked out in the template (an execution function would cost salt-ssh a round trip per render)."""
    section = {**EXAMPLE["lxc"], "net": {**EXAMPLE["lxc"]["net"], "subnet": subnet}}
    states = show_sls(tmp_path, "lxc", LINUX["Debian-12"], {"sparks": {"lxc": section}})
    context = next(i["context"] for i in states["lxc-net-config-file-managed"]["file"] if "context" in i)
    assert context["netmask"] == netmask


def test_lxc_default_subnet_is_not_lxcs_own():
    defaults = yaml.safe_load((REPO_ROOT / "formulas/lxc/parameters/defaults.yaml").read_text())
    assert not defaults["net"]["subnet"].startswith("10.0.3.")
    assert not EXAMPLE["lxc"]["net"]["subnet"].startswith("10.0.3.")


def test_lxc_clean_renders(tmp_path):
    states = show_sls(tmp_path, "lxc.clean", LINUX["Debian-12"], {"sparks": {"lxc": EXAMPLE["lxc"]}})
    assert {
        "lxc-clean-net-bridge-dead",
        "lxc-clean-net-config-disabled",
        "lxc-clean-packages-removed",
        "lxc-clean-guest-web1-absent",
        "lxc-clean-guest-db1-absent",
    } == set(states)


def test_roster_module_lists_the_declared_guests(tmp_path):
    roster_file = tmp_path / "roster"
    proc = salt_call(
        tmp_path,
        {"sparks": {"lxc": EXAMPLE["lxc"]}},
        "sparks_lxc.roster",
        "priv=/root/.ssh/id_ed25519",
        f"path={roster_file}",
    )
    assert proc.returncode == 0, proc.stderr
    expected = {
        name: {"host": guest["address"], "user": "root", "priv": "/root/.ssh/id_ed25519"}
        for name, guest in EXAMPLE["lxc"]["guests"].items()
    }
    assert json.loads(proc.stdout)["local"] == expected
    assert yaml.safe_load(roster_file.read_text()) == expected
    assert roster_file.stat().st_mode & 0o777 == 0o600


def test_guests_module_reports_the_guests_the_formula_builds(tmp_path):
    """sparks_lxc.guests reads lxc/map.jinja, so a guest without a template in pillar is the `debian` one the
    state creates (guest_defaults in parameters/defaults.yaml), not None."""
    pillar = {"sparks": {"lxc": EXAMPLE["lxc"]}}
    proc = salt_call(tmp_path, pillar, "sparks_lxc.guests", grains=LINUX["Debian-12"])
    assert proc.returncode == 0, proc.stderr
    reported = json.loads(proc.stdout)["local"]
    states = show_sls(tmp_path, "lxc.guests", LINUX["Debian-12"], pillar)
    assert set(reported) == set(EXAMPLE["lxc"]["guests"])
    for name, guest in reported.items():
        built = {
            k: v
            for item in states[f"lxc-guest-{name}-present"]["sparks_lxc"]
            if isinstance(item, dict)
            for k, v in item.items()
        }
        assert (guest["template"], guest["release"]) == (built["template"], built["release"]), name
        assert guest["state"] == "ABSENT"
    assert "template" not in EXAMPLE["lxc"]["guests"]["db1"] and reported["db1"]["template"] == "debian"


def test_unknown_guest_key_is_refused(tmp_path):
    pillar = {"lxc": {"guests": {"web1": {"address": "10.213.77.11", "ram": "1G"}}}}
    proc = salt_call(tmp_path, {"sparks": pillar}, "state.show_sls", "lxc")
    assert proc.returncode != 0
    assert "sparks:lxc:guests:web1:ram: unknown key" in proc.stdout + proc.stderr
