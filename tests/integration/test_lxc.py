"""The `lxc` role (LXC host) applied for real, then `lxc_base` applied by salt-ssh to the guests it created.

Where: on the machine running the tests, as issue 4 allows. LXC guests cannot start inside our systemd-nspawn
targets (tried: lxc-start aborts with "Failed to setup legacy device cgroup controller limits", nspawn gives the
container no devices cgroup; lxc-create took 215 s there), so this machine is the LXC host, driven masterless
with `salt-call --local` and the repository's configuration, the way `bootstrap/1nstall.py` does.

The guests are one per Debian release, as pillar.example declares them: web1 bookworm (Debian 12), db1 trixie
(Debian 13), both built by this host's (Debian 12's) lxc-templates debian template.

The debian template's cache (a debootstrap of each release, ~300 MB each) is a cache of the test run: it lives
under the suite's cache root, `<$SPARKS_CACHE_DIR>/lxc` (the template honours `LXC_CACHE_PATH`, which salt-call
passes on to lxc-create), so an empty cache root is a cold run here too: a debootstrap per release, about a
minute each on an idle machine.

What it leaves on this machine, pass or fail: the packages the formula installs (`lxc`, `lxc-templates`,
`debootstrap`, `dnsmasq-base`, `rsync`, `iptables`, `xz-utils`), /etc/default/lxc-net disabled
(`USE_LXC_BRIDGE="false"`, what `lxc.clean` leaves: without the file lxc-net would come up on 10.0.3.0/24), the
template's empty lock file /var/lock/subsys/lxc-debian, and `net.ipv4.ip_forward = 1` (lxc-net's start sets it and
its stop leaves it; the target harness needs it on as well). Everything else is undone after the tests, even
when they fail: guests stopped and destroyed, lxc-net stopped (its bridge, dnsmasq and firewall rules gone), its
leases file removed.

Flow: pillar.example's `lxc` section (its bridge, subnet, two guests) with this run's SSH key; the role applied;
both guests running with python3, their static addresses and their release's apt sources; `sparks_lxc.roster`
(our module) gives the roster salt-ssh then uses to apply `lxc_base` to both, then `lxc_server` and `lxc_purge`
(the guest roles no other test applies); a second apply of `lxc` changes nothing, and a dry run says so.
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

from tests.support.cache import cache_dir
from tests.support.converge import assert_converged
from tests.support.saltrun import REPO_ROOT, SaltResult, SaltSSH, example_pillar, repo_config

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
# LXC's own default network: in use elsewhere on these machines, so never ours.
FORBIDDEN = ipaddress.ip_network("10.0.3.0/24")
# The test harness's bridges (tests/support/targets.py).
HARNESS = ipaddress.ip_network("192.168.224.0/20")
# What lxc.clean leaves in /etc/default/lxc-net; cleanup() leaves the same when the test stops before it.
LXC_NET_DISABLED = 'USE_LXC_BRIDGE="false"\n'
SSH_OPTIONS = ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "LogLevel=ERROR"]
SET_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


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
        # The debian template keeps its debootstraps in $LXC_CACHE_PATH/debian; salt-call's commands inherit it.
        self.env = dict(os.environ, LXC_CACHE_PATH=str(template_cache()))

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
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.work_dir, env=self.env
        )
        try:
            data = json.loads(proc.stdout) if proc.stdout.strip() else {}
        except json.JSONDecodeError:
            data = {}
        return SaltResult(proc.returncode, data, proc.stdout, proc.stderr, time.monotonic() - started)


def template_cache():
    """The LXC template cache of the test run, under the suite's cache root (created on first use)."""
    return cache_dir("lxc")


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
    """Undo everything but the packages and the template cache, without Salt (it may be what failed)."""
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
        for table, chain, rule in lxc_net_iptables_rules(lxc["net"]):
            while sh(f"iptables -w -t {table} -D {chain} {rule}").returncode == 0:
                pass
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"/var/lib/misc/dnsmasq.{bridge}.leases")
    with contextlib.suppress(FileNotFoundError):
        os.unlink("/run/lxc/network_up")
    config = Path(lxc["net"].get("config_file", "/etc/default/lxc-net"))
    if config.exists() and LXC_NET_DISABLED not in config.read_text():
        config.write_text(
            "# Left by sparks' test_lxc: lxc-net stays down until the lxc formula runs.\n" + LXC_NET_DISABLED
        )


def lxc_net_iptables_rules(net):
    """(table, chain, rule) of what lxc-net's start adds when nftables is absent (lxc-net's start_iptables)."""
    bridge, subnet = net["bridge"], net["subnet"]
    rules = [
        ("filter", "INPUT", f"-i {bridge} -p {proto} --dport {port} -j ACCEPT")
        for port in (67, 53)
        for proto in ("udp", "tcp")
    ]
    rules += [("filter", "FORWARD", f"-i {bridge} -j ACCEPT"), ("filter", "FORWARD", f"-o {bridge} -j ACCEPT")]
    rules += [("nat", "POSTROUTING", f"-s {subnet} ! -d {subnet} -j MASQUERADE")]
    rules += [("mangle", "POSTROUTING", f"-o {bridge} -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill")]
    return rules


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


@pytest.fixture(scope="module")
def roster(lxc_host):
    """The guests' salt-ssh roster, from our module (what the README tells users to run)."""
    salt, _, _, key = lxc_host
    ret = salt.run("sparks_lxc.roster", f"priv={key}", f"ssh_options={json.dumps(SSH_OPTIONS)}", f"set_path={SET_PATH}")
    return ret.data["local"]


def attach(name, command, check=True, timeout=120):
    return sh(f"lxc-attach -n {name} -- {command}", check=check, timeout=timeout)


def installed(name, *packages):
    """Those of ``packages`` that dpkg in guest ``name`` has installed (or removed with config files left)."""
    out = attach(name, "dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n'").stdout
    return {line.split()[1] for line in out.splitlines() if line[:2] in ("ii", "rc")} & set(packages)


def postgres_major(release):
    """The PostgreSQL major db_postgres installs on a Debian release (its osfinger parameter file)."""
    number = {"bookworm": 12, "trixie": 13}[release]
    layer = REPO_ROOT / f"formulas/db_postgres/parameters/osfinger/Debian-{number}.yaml"
    return yaml.safe_load(layer.read_text())["version"]


def test_first_apply_creates_and_starts_the_guests(lxc_host):
    salt, first, pillar, _ = lxc_host
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-3000:]
    assert first.failed("local") == {}
    changed = first.changed("local")
    assert {f"lxc-guest-{name}-present" for name in guests(pillar)} <= set(changed)
    for name in guests(pillar):
        assert sh(f"lxc-info -n {name} -s -H", check=True).stdout.strip() == "RUNNING"
    # The debian template built each release into the run's cache, not LXC's default /var/cache/lxc.
    built = {path.name for path in (template_cache() / "debian").iterdir()}
    assert {f"rootfs-{guest['release']}-amd64" for guest in guests(pillar).values()} <= built


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


def test_guests_run_their_release_with_its_apt_sources(lxc_host):
    """Each guest is the Debian release its pillar names, and apt in it reads that release's suites only.

    The template's own security line (``<release>/updates``, gone since bullseye) is replaced by sparks_lxc."""
    _, _, pillar, _ = lxc_host
    lxc = pillar["sparks"]["lxc"]
    mirror = lxc.get("mirror") or "http://deb.debian.org/debian"
    security = lxc.get("security_mirror") or "http://deb.debian.org/debian-security"
    for name, guest in guests(pillar).items():
        release = guest["release"]
        assert f"VERSION_CODENAME={release}\n" in attach(name, "cat /etc/os-release").stdout
        sources = Path(f"/var/lib/lxc/{name}/rootfs/etc/apt/sources.list").read_text().splitlines()
        assert sources[1:] == [
            f"deb {mirror} {release} main",
            f"deb {mirror} {release}-updates main",
            f"deb {security} {release}-security main",
        ]
        assert attach(name, "ls /etc/apt/sources.list.d").stdout.split() == []
        update = attach(name, "apt-get update -q --error-on=any", check=False, timeout=300)
        assert update.returncode == 0, update.stdout[-2000:] + update.stderr[-2000:]
        assert "W:" not in update.stdout + update.stderr, update.stderr


def test_roster_from_our_module_lets_salt_ssh_apply_lxc_base(lxc_host, roster, tmp_path):
    _, _, pillar, _ = lxc_host
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


def test_lxc_server_and_lxc_purge_in_both_guests(lxc_host, roster, tmp_path):
    """`lxc_server` (lxc_base + db_postgres by default: each release's own PostgreSQL) and `lxc_purge` (man-db and
    manpages purged, then what only they needed autoremoved) applied with salt-ssh, then again with zero changes."""
    _, _, pillar, _ = lxc_host
    for name in roster:
        # The template installs neither: give lxc_purge something to purge (groff-base etc. come along, as automatic).
        attach(
            name,
            "env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends man-db manpages",
            timeout=600,
        )
        assert installed(name, "man-db", "manpages", "groff-base") == {"man-db", "manpages", "groff-base"}
    ssh = SaltSSH(tmp_path / "salt-ssh", roster=roster)
    ssh.set_pillar(example_pillar("lxc_base", "lxc_server", "lxc_purge", "db_postgres"))
    applied = ssh.run(list(roster), "state.apply", "lxc_server,lxc_purge", timeout=900)
    assert sorted(applied.data) == sorted(roster), applied.stdout[-3000:] + applied.stderr[-3000:]
    for name, guest in guests(pillar).items():
        assert applied.failed(name) == {}, json.dumps(applied.failed(name), indent=1)[:3000]
        assert {"db-postgres-package-installed", "lxc-purge-packages-purged", "lxc-purge-autoremoved"} <= set(
            applied.changed(name)
        )
        clusters = attach(name, "pg_lsclusters --no-header").stdout.split()
        assert clusters[:4] == [str(postgres_major(guest["release"])), "main", "5432", "online"], (name, clusters)
        assert attach(name, "runuser -u postgres -- psql -Atc 'SELECT 6*7'").stdout.strip() == "42"
        assert installed(name, "man-db", "manpages", "groff-base") == set(), name
    again = ssh.run(list(roster), "state.apply", "lxc_server,lxc_purge", timeout=900)
    for name in roster:
        assert again.failed(name) == {} and again.changed(name) == {}, (name, again.changed(name))
    assert again.returncode == 0


def test_second_apply_changes_nothing_and_dry_run_agrees(lxc_host):
    salt, first, _, _ = lxc_host
    dry = salt.run("state.apply", "lxc", "test=True")
    assert dry.failed("local") == {}
    assert {sid: r for sid, r in dry.states("local").items() if r["result"] is None} == {}
    again = salt.run("state.apply", "lxc")
    assert_converged(first, again)


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
    assert LXC_NET_DISABLED in Path("/etc/default/lxc-net").read_text()
    # lxc-net's firewall rules are gone with it (nftables tables, or iptables rules where nft is absent).
    if shutil.which("nft"):
        assert "table inet lxc" not in sh("nft list tables", check=True).stdout
    else:
        for table, chain, rule in lxc_net_iptables_rules(pillar["sparks"]["lxc"]["net"]):
            assert sh(f"iptables -w -t {table} -C {chain} {rule}").returncode != 0, (table, chain, rule)
