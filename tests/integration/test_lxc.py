"""The `lxc` role (LXC host) applied for real, then `lxc_base` applied by salt-ssh to the guests it created.

Where: on the machine running the tests, as issue 4 allows. LXC guests cannot start inside our systemd-nspawn
targets (tried: lxc-start aborts with "Failed to setup legacy device cgroup controller limits", nspawn gives the
container no devices cgroup; lxc-create took 215 s there), so this machine is the LXC host, driven masterless
with `salt-call --local` and the repository's configuration, the way `bootstrap/1nstall.py` does.

What it leaves: the LXC packages stay installed (`lxc`, `lxc-templates`, `dnsmasq-base`, ...), with
/etc/default/lxc-net on pillar.example's subnet (never LXC's default 10.0.3.0/24) and LXC's template cache in
/var/cache/lxc (a later run creates guests in seconds from it). Everything else is undone after the tests,
even when they fail: guests stopped and destroyed, lxc-net stopped (its bridge, dnsmasq and firewall rules
gone), its leases file removed.

Flow: pillar.example's `lxc` section (its bridge, subnet, two guests) with this run's SSH key; the role applied;
both guests running with python3 and their static addresses; `sparks_lxc.roster` (our module) gives the roster
salt-ssh then uses to apply `lxc_base` to both; a second apply of `lxc` changes nothing, and a dry run says so.
"""

import contextlib
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.saltrun import SaltResult, SaltSSH, example_pillar, repo_config

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
# LXC's own default network: in use elsewhere on these machines, so never ours.
FORBIDDEN = ipaddress.ip_network("10.0.3.0/24")
# The test harness's bridges (tests/support/targets.py).
HARNESS = ipaddress.ip_network("192.168.224.0/20")


def sh(command, check=False, timeout=120):
    result = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{command!r} exited {result.returncode}: {result.stderr}{result.stdout}")
    return result


class SaltCall:
    """Masterless salt-call on this machine with the repository's states, modules and a pillar of our own."""

    def __init__(self, work_dir):
        self.work_dir = Path(work_dir)
        self.config_dir = self.work_dir / "config"
        self.pillar_dir = self.work_dir / "pillar"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.pillar_dir.mkdir(parents=True, exist_ok=True)
        conf = repo_config(self.work_dir, self.pillar_dir)
        conf.update({"file_client": "local", "id": "lxc-host"})
        (self.config_dir / "minion").write_text(yaml.safe_dump(conf))

    def set_pillar(self, data):
        (self.pillar_dir / "local.sls").write_text(yaml.safe_dump(data))

    def run(self, fun, *args, timeout=900):
        cmd = [
            str(BIN / "salt-call"),
            "-c",
            str(self.config_dir),
            "--local",
            "--out=json",
            "--no-color",
            "--log-level=quiet",
            "--retcode-passthrough",
            fun,
            *args,
        ]
        started = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.work_dir)
        try:
            data = json.loads(proc.stdout) if proc.stdout.strip() else {}
        except json.JSONDecodeError:
            data = {}
        return SaltResult(proc.returncode, data, proc.stdout, proc.stderr, time.monotonic() - started)


def lxc_pillar(public_key):
    """pillar.example's `lxc` section, with this run's key instead of the placeholder one."""
    return example_pillar("lxc", lxc={"authorized_keys": [public_key]})


def preflight(net):
    """Refuse to run on a subnet that is forbidden or already present on this machine."""
    subnet = ipaddress.ip_network(net["subnet"])
    assert not subnet.overlaps(FORBIDDEN), f"{subnet} overlaps LXC's default {FORBIDDEN}"
    assert not subnet.overlaps(HARNESS), f"{subnet} overlaps the test harness's bridges {HARNESS}"
    routes = json.loads(sh("ip -j -4 route show", check=True).stdout or "[]")
    for route in routes:
        if route.get("dst", "default") != "default" and route.get("dev") != net["bridge"]:
            if ipaddress.ip_network(route["dst"], strict=False).overlaps(subnet):
                pytest.fail(f"{subnet} is already routed here ({route}); the test would disturb it")


def cleanup(pillar):
    """Undo everything but the packages and LXC's template cache, without Salt (it may be what failed)."""
    lxc = pillar["sparks"]["lxc"]
    if shutil.which("lxc-info"):
        for name in lxc.get("guests", {}):
            if sh(f"lxc-info -n {name}").returncode == 0:
                sh(f"lxc-stop -n {name} -k")
                sh(f"lxc-destroy -n {name}", timeout=300)
    bridge = lxc["net"]["bridge"]
    if os.path.exists("/usr/libexec/lxc/lxc-net"):
        sh("/usr/libexec/lxc/lxc-net stop")
    if Path(f"/sys/class/net/{bridge}").exists():
        sh(f"ip link del {bridge}")
    # lxc-net's firewall rules (nftables tables `lxc`, or iptables rules when nft is absent) are removed by its
    # stop; make sure even after a failed start.
    if shutil.which("nft"):
        sh("nft delete table inet lxc; nft delete table ip lxc")
    else:
        subnet = lxc["net"]["subnet"]
        for rule in (
            f"-t nat -D POSTROUTING -s {subnet} ! -d {subnet} -j MASQUERADE",
            f"-D FORWARD -i {bridge} -j ACCEPT",
            f"-D FORWARD -o {bridge} -j ACCEPT",
        ):
            while sh(f"iptables -w {rule}").returncode == 0:
                pass
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"/var/lib/misc/dnsmasq.{bridge}.leases")
    with contextlib.suppress(FileNotFoundError):
        os.unlink("/run/lxc/network_up")


@pytest.fixture(scope="module")
def lxc_host(tmp_path_factory):
    """This machine as LXC host with pillar.example's guests; torn down after the module, whatever happened."""
    work = tmp_path_factory.mktemp("lxc")
    key = work / "id_ed25519"
    sh(f"ssh-keygen -q -t ed25519 -N '' -f {key}", check=True)
    pillar = lxc_pillar(key.with_suffix(".pub").read_text().strip())
    preflight(pillar["sparks"]["lxc"]["net"])
    salt = SaltCall(work / "salt-call")
    salt.set_pillar(pillar)
    try:
        first = salt.run("state.apply", "lxc", timeout=1200)
        yield salt, first, pillar, key
    finally:
        cleanup(pillar)


def guests(pillar):
    return pillar["sparks"]["lxc"]["guests"]


def test_first_apply_creates_and_starts_the_guests(lxc_host):
    salt, first, pillar, _ = lxc_host
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-3000:]
    assert first.failed("local") == {}
    changed = first.changed("local")
    assert {f"lxc-guest-{name}-present" for name in guests(pillar)} <= set(changed)
    for name in guests(pillar):
        assert sh(f"lxc-info -n {name} -s -H", check=True).stdout.strip() == "RUNNING"


def test_lxc_net_runs_on_the_pillar_subnet(lxc_host):
    _, _, pillar, _ = lxc_host
    net = pillar["sparks"]["lxc"]["net"]
    prefix = net["subnet"].split("/")[1]
    assert f"{net['address']}/{prefix}" in sh(f"ip -o -4 addr show dev {net['bridge']}", check=True).stdout
    assert "10.0.3." not in sh("ip -o -4 addr show", check=True).stdout
    assert f'LXC_NETWORK="{net["subnet"]}"' in Path("/etc/default/lxc-net").read_text()


def test_guests_have_python3_their_address_and_settings(lxc_host):
    _, _, pillar, _ = lxc_host
    for name, guest in guests(pillar).items():
        assert sh(f"lxc-attach -n {name} -- python3 -c 'print(42)'", check=True).stdout.strip() == "42"
        addresses = sh(f"lxc-attach -n {name} -- ip -o -4 addr show dev eth0", check=True).stdout
        assert f"{guest['address']}/" in addresses
        config = Path(f"/var/lib/lxc/{name}/config").read_text()
        assert "lxc.start.auto = 1" in config
        assert f"= {guest['memory_limit']}" in config


def test_roster_from_our_module_lets_salt_ssh_apply_lxc_base(lxc_host, tmp_path):
    salt, _, pillar, key = lxc_host
    options = json.dumps(["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "LogLevel=ERROR"])
    ret = salt.run(
        "sparks_lxc.roster",
        f"priv={key}",
        f"ssh_options={options}",
        "set_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    )
    roster = ret.data["local"]
    assert sorted(roster) == sorted(guests(pillar))
    assert {name: entry["host"] for name, entry in roster.items()} == {
        name: guest["address"] for name, guest in guests(pillar).items()
    }

    ssh = SaltSSH(tmp_path / "salt-ssh", roster=roster)
    ssh.set_pillar(example_pillar("lxc_base"))
    applied = ssh.run(list(roster), "state.apply", "lxc_base", timeout=900)
    assert sorted(applied.data) == sorted(roster), applied.stdout[-3000:] + applied.stderr[-3000:]
    for name in roster:
        assert applied.failed(name) == {}, json.dumps(applied.failed(name), indent=1)[:3000]
        status = sh(f"lxc-attach -n {name} -- dpkg-query -W -f='${{Status}}' nullmailer bsd-mailx").stdout
        assert status.count("install ok installed") == 2, status
        assert "fr_FR.utf8" in sh(f"lxc-attach -n {name} -- locale -a", check=True).stdout
    assert applied.returncode == 0


def test_second_apply_changes_nothing_and_dry_run_agrees(lxc_host):
    salt, _, _, _ = lxc_host
    dry = salt.run("state.apply", "lxc", "test=True")
    assert dry.failed("local") == {}
    assert {sid: r for sid, r in dry.states("local").items() if r["result"] is None} == {}
    again = salt.run("state.apply", "lxc")
    assert again.returncode == 0, again.stdout[-3000:]
    assert again.changed("local") == {}


def test_changed_lxc_net_setting_restarts_lxc_net_only(lxc_host):
    salt, _, pillar, _ = lxc_host
    lxc = pillar["sparks"]["lxc"]
    changed = {**pillar["sparks"]["lxc"], "net": {**lxc["net"], "dhcp_range": "10.213.77.210,10.213.77.240"}}
    net = changed["net"]
    assert net["subnet"] == lxc["net"]["subnet"]
    salt.set_pillar({"sparks": {"lxc": changed}})
    ret = salt.run("state.apply", "lxc")
    assert ret.returncode == 0, ret.stdout[-3000:]
    assert set(ret.changed("local")) == {"lxc-net-config-file-managed", "lxc-net-bridge-running"}
    assert ret.changed("local")["lxc-net-bridge-running"]["lxc-net"]["action"] == "restart"
    assert "--dhcp-range 10.213.77.210,10.213.77.240" in sh("ps -ww -eo args | grep '^dnsmasq'").stdout
    for name in guests(pillar):
        assert sh(f"lxc-info -n {name} -s -H", check=True).stdout.strip() == "RUNNING"
    assert salt.run("state.apply", "lxc").changed("local") == {}


def test_clean_destroys_the_guests_and_stops_lxc_net(lxc_host):
    """`lxc.clean` (without its package removal: the packages stay on this machine) undoes the rest."""
    salt, _, pillar, _ = lxc_host
    salt.set_pillar(pillar)
    ret = salt.run("state.apply", "lxc.clean", 'exclude=[{"id": "lxc-clean-packages-removed"}]', timeout=600)
    assert ret.returncode == 0, ret.stdout[-3000:]
    assert "lxc-clean-packages-removed" not in ret.states("local")
    bridge = pillar["sparks"]["lxc"]["net"]["bridge"]
    for name in guests(pillar):
        assert sh(f"lxc-info -n {name}").returncode != 0
        assert not Path(f"/var/lib/lxc/{name}").exists()
    assert not Path(f"/sys/class/net/{bridge}").exists()
    # Disabled, not deleted: lxc-net's built-in default is 10.0.3.0/24.
    assert 'USE_LXC_BRIDGE="false"' in Path("/etc/default/lxc-net").read_text()
    assert "table inet lxc" not in sh("nft list tables").stdout
