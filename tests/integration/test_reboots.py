"""A rolling reboot of a role through a salt-master: two minions flagged for a reboot (as a kernel upgrade flags them),
rolled through by `salt-run sparks_reboot.rolling` one at a time, each back, converged and healthy before the next.

The master is pytest-salt-factories' daemon with this repository's configuration (our runner included), listening
on the test bridge; the targets are salt-minions with the role `base` as a grain. A reboot asked for inside a target
ends its systemd-nspawn, and the harness boots it again on the same disk, as a machine's firmware would
(tests/support/targets.py). One node of each Debian release: the flag, the check and the reboot are each release's
own (its unattended-upgrades hook, its systemd).
"""

import json

import pytest

from tests.support import leaks
from tests.support.fleet import wait_for_ping
from tests.support.saltrun import repo_config

pytestmark = [pytest.mark.integration]
NODES = {"reb1": "debian12", "reb2": "debian13"}  # rolled in this order
KERNEL = "linux-image-6.99.0-sparks-test"


@pytest.fixture(scope="module")
def master(salt_factories, target_run, tmp_path_factory):
    conf = repo_config(tmp_path_factory.mktemp("master"))
    overrides = {key: conf[key] for key in conf if key != "root_dir"}
    overrides.update(interface=target_run.network.gateway, auto_accept=True, open_mode=False)
    factory = salt_factories.salt_master_daemon("sparks-reboot-master", overrides=overrides)
    leaks.watch_master(factory)
    with factory.started(start_timeout=120):
        yield factory


@pytest.fixture(scope="module")
def fleet(master, target_run):
    """Two minions with the role base, converged once by a highstate."""

    def minion_conf(target):
        return {
            "master": target_run.network.gateway,
            "master_port": master.config["ret_port"],
            "publish_port": master.config["publish_port"],
            "grains": {"roles": ["base"]},
            "enable_fqdns_grains": False,
        }

    targets = [
        target
        for name, platform in NODES.items()
        for target in target_run.boot(name, platform=platform, minion_config=minion_conf)
    ]
    salt = master.salt_cli(timeout=900)
    wait_for_ping(salt, "*", list(NODES))
    first = salt.run("state.highstate", minion_tgt="*", _timeout=900)
    assert first.returncode == 0, first.stdout[-3000:]
    yield {t.name: t for t in targets}, salt, master.salt_run_cli(timeout=1200)
    target_run.shutdown(*targets)


def flag_for_reboot(target):
    """What a new kernel's postinst does on Debian: unattended-upgrades' hook writes the reboot flag."""
    target.run(
        f"DPKG_MAINTSCRIPT_PACKAGE={KERNEL} DPKG_MAINTSCRIPT_NAME=postinst /etc/kernel/postinst.d/unattended-upgrades",
        check=True,
    )


def boots(target):
    """The machine's boots as its journal lists them (oldest first): first and last entry times, in µs."""
    out = target.run("journalctl --list-boots -o json --no-pager", check=True).stdout
    return [(boot["first_entry"], boot["last_entry"]) for boot in json.loads(out)]


def test_both_nodes_report_the_reboot_they_need(fleet):
    targets, salt, _ = fleet
    for target in targets.values():
        flag_for_reboot(target)
    ret = salt.run("-G", "sparks_reboot.required", minion_tgt="roles:base", _timeout=120)
    assert ret.data == {name: True for name in NODES}


def test_rolling_reboot_takes_one_node_at_a_time_each_back_and_healthy(fleet):
    targets, salt, run = fleet
    before = {name: boots(target) for name, target in targets.items()}
    ret = run.run("sparks_reboot.rolling", "tgt=roles:base", "tgt_type=grain", "poll=2", _timeout=1200)
    assert ret.returncode == 0, ret.stdout[-3000:] + ret.stderr[-3000:]
    report = ret.data
    assert report["result"] is True, report
    for name in NODES:
        node = report["nodes"][name]
        assert node["ok"] and node["rebooted"], node
        assert node["reasons"] == [f"/run/reboot-required (packages: {KERNEL})"]
    after = {name: boots(target) for name, target in targets.items()}
    for name in NODES:
        assert len(after[name]) == len(before[name]) + 1, name  # exactly one reboot each
    # One at a time: reb2 went down (the last entry of its previous boot) only after reb1 was up again (the first
    # entry of its new boot). Both clocks are the host's.
    reb1_back = after["reb1"][-1][0]
    reb2_down = after["reb2"][-2][1]
    assert reb1_back < reb2_down
    # Both back, converged and no longer flagged.
    again = salt.run("state.highstate", "test=True", minion_tgt="*", _timeout=900)
    assert again.returncode == 0
    for name in NODES:
        assert {i: r["changes"] for i, r in again.data[name].items() if r["changes"]} == {}, name
    still = salt.run("sparks_reboot.required", minion_tgt="*", _timeout=120)
    assert still.data == {name: False for name in NODES}


def test_a_node_that_comes_back_unhealthy_stops_the_roll(fleet):
    targets, _, run = fleet
    for target in targets.values():
        flag_for_reboot(target)
    # reb1 will boot with a failed unit: degraded, not healthy.
    targets["reb1"].run(
        "printf '[Service]\\nType=oneshot\\nExecStart=/bin/false\\n[Install]\\nWantedBy=multi-user.target\\n'"
        " >/etc/systemd/system/sparks-broken.service && systemctl enable -q sparks-broken.service",
        check=True,
    )
    reb2_boots = boots(targets["reb2"])
    try:
        ret = run.run("sparks_reboot.rolling", "tgt=roles:base", "tgt_type=grain", "poll=2", _timeout=1200)
        assert ret.returncode != 0
        report = ret.data
        assert report["result"] is False and report["comment"] == "stopped at reb1: not healthy"
        assert report["nodes"]["reb1"]["health"]["failed"] == ["sparks-broken.service"]
        assert report["untouched"] == ["reb2"]
        assert len(boots(targets["reb2"])) == len(reb2_boots)  # not rebooted
        assert targets["reb2"].run("test -e /run/reboot-required").returncode == 0
    finally:
        targets["reb1"].run("systemctl disable -q sparks-broken.service; systemctl reset-failed")
