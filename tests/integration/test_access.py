"""`accounts` and `firewall`, with `base`, applied for real in one salt-ssh call to an edge machine with
pillar.example's sections (only the SSH keys are the test's own, and the database port's named host is this test
run's host), on Debian 13 and 12, and checked from the outside: this host, and a second, untouched target
(`probe1`) standing for the rest of the world.

The edge machine's roles include django and db_postgres, so the firewall opens their ports; stand-in listeners
(python3 -m http.server) answer on them, since what is tested is the firewall, not those services. The checks run
in file order on one module-scoped pair of targets; those that change pillar put the example back afterwards.
"""

import copy
import os
import socket
import subprocess

import pytest

from tests.support.converge import assert_converged
from tests.support.saltrun import SaltSSH, example_pillar

pytestmark = pytest.mark.integration

SLS = "base,accounts,firewall"
ROLES = ["base", "accounts", "firewall", "django", "db_postgres"]
PASSWORD = "Sparks-test-Passw0rd"
LISTENERS = {80: "web (public)", 5432: "postgresql (named host only)", 6379: "redis (no rule)"}


def ssh_options(key=None):
    options = [
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=5",
    ]
    if key:
        options += ["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", str(key)]
    return options


def ssh_with_key(key, user, address, command="true"):
    return subprocess.run(
        ["ssh", *ssh_options(key), f"{user}@{address}", command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ssh_with_password(tmp_path, user, address):
    """A real password login attempt: ssh reads the password from an askpass program, as from a person."""
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho '{PASSWORD}'\n")
    askpass.chmod(0o700)
    options = ["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive"]
    options += ["-o", "NumberOfPasswordPrompts=1"]
    env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force")
    return subprocess.run(
        ["ssh", *ssh_options(), *options, f"{user}@{address}", "true"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def offered_methods(address, user="alice"):
    """The authentication methods sshd offers before any is tried."""
    out = subprocess.run(
        [
            "ssh",
            "-v",
            *ssh_options(),
            "-o",
            "BatchMode=yes",
            "-o",
            "PreferredAuthentications=none",
            f"{user}@{address}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stderr
    lines = [line for line in out.splitlines() if "Authentications that can continue" in line]
    return lines[-1].rsplit(":", 1)[1].strip().split(",")


def host_connects(address, port):
    """ "open" when a TCP connection is accepted, "dropped" when nothing answers, "refused" when refused."""
    try:
        with socket.create_connection((address, port), timeout=3):
            return "open"
    except TimeoutError:
        return "dropped"
    except ConnectionRefusedError:
        return "refused"


def probe_connects(probe, address, port):
    ret = probe.run(f"timeout 3 bash -c '</dev/tcp/{address}/{port}'")
    return {0: "open", 124: "dropped"}.get(ret.returncode, "refused")


def keygen(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    return {name: (folder / name, keygen(folder / name)) for name in ("alice", "offsite")}


def edge_pillar(keys, gateway, **firewall_changes):
    """pillar.example's base, accounts and firewall sections with the test's keys; postgresql from this host."""
    data = copy.deepcopy(example_pillar("base", "accounts", "firewall"))
    sparks = data["sparks"]
    sparks["roles"] = ROLES
    users = sparks["accounts"]["users"]
    users["alice"]["ssh_keys"] = [keys["alice"][1]]
    users["offsite"]["ssh_keys"] = [
        users["offsite"]["ssh_keys"][0].rsplit(" ssh-ed25519 ", 1)[0] + " " + keys["offsite"][1]
    ]
    sparks["firewall"]["role_rules"]["db_postgres"][0]["sources"] = [gateway]
    sparks["firewall"].update(firewall_changes)
    return data


@pytest.fixture(scope="module")
def edge(target_run, platform, salt_ssh, keys):
    """edge1 with base + accounts + firewall applied once; probe1 untouched. Listeners stand in for services."""
    edge, probe = target_run.boot("edge1", "probe1", platform=platform)
    edge.run("useradd -m carol", check=True)  # pillar.example removes her
    pillar = edge_pillar(keys, target_run.network.gateway)
    salt_ssh.set_pillar(pillar)
    first = salt_ssh.run("edge1", "state.apply", SLS)
    for port in LISTENERS:
        edge.run(f"systemd-run -q --unit=sparks-listener-{port} -p WorkingDirectory=/tmp python3 -m http.server {port}")
    yield {"edge": edge, "probe": probe, "first": first, "pillar": pillar, "gateway": target_run.network.gateway}
    salt_ssh.set_pillar({})
    target_run.shutdown(edge, probe)


def apply(salt_ssh, env, data, sls=SLS):
    """Apply ``data`` instead of the example pillar, then put the example pillar back."""
    salt_ssh.set_pillar(data)
    try:
        return salt_ssh.run(env["edge"].name, "state.apply", sls)
    finally:
        salt_ssh.set_pillar(env["pillar"])


def snapshot(target):
    """What a refused run must leave as it was: accounts, keys, sshd's and the firewall's files, the live ruleset."""
    files = target.run(
        "cat /etc/passwd /etc/group /home/alice/.ssh/authorized_keys /etc/ssh/sshd_config.d/*.conf /etc/nftables.conf",
        check=True,
    ).stdout
    return files, target.run("nft list ruleset", check=True).stdout


def test_first_apply_succeeds(edge):
    first, name = edge["first"], edge["edge"].name
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert first.failed(name) == {}
    changed = first.changed(name)
    for state in (
        "accounts-user-alice-present",
        "accounts-user-alice-authorized-keys-managed",
        "accounts-user-carol-absent",
        "accounts-sshd-dropin-managed",
        "firewall-ruleset-file-managed",
        "firewall-service-running",
        "firewall-fail2ban-restarted",
    ):
        assert state in changed, state


def test_alice_logs_in_with_her_key_and_sudoes(edge, keys):
    address = edge["edge"].address
    ret = ssh_with_key(keys["alice"][0], "alice", address, "sudo -n id -un && id -nG")
    assert ret.returncode == 0, ret.stderr
    whoami, groups = ret.stdout.split("\n", 1)
    assert whoami == "root"
    assert {"alice", "adm", "sudo"} == set(groups.split())
    # The file holds exactly pillar's keys: one added by hand is gone at the next apply (checked below).
    assert edge["edge"].read("/home/alice/.ssh/authorized_keys").splitlines()[1:] == [keys["alice"][1]]


def test_password_logins_are_refused(edge, tmp_path):
    target, probe = edge["edge"], edge["probe"]
    target.run(f"echo 'alice:{PASSWORD}' | chpasswd", check=True)
    # Control: the same attempt logs in on an untouched Debian, which takes passwords.
    probe.run(f"id bob >/dev/null 2>&1 || useradd -m bob; echo 'bob:{PASSWORD}' | chpasswd", check=True)
    assert ssh_with_password(tmp_path, "bob", probe.address).returncode == 0
    refused = ssh_with_password(tmp_path, "alice", target.address)
    assert refused.returncode == 255 and "Permission denied (publickey)" in refused.stderr
    assert offered_methods(target.address) == ["publickey"]


def test_root_logs_in_by_key_only(edge, tmp_path, target_run):
    target = edge["edge"]
    assert ssh_with_key(target_run.ssh_key, "root", target.address).returncode == 0  # salt-ssh's own way in
    target.run(f"echo 'root:{PASSWORD}' | chpasswd", check=True)
    assert ssh_with_password(tmp_path, "root", target.address).returncode == 255
    assert "permitrootlogin without-password" in target.run("sshd -T", check=True).stdout  # prohibit-password


def test_absent_user_is_removed_and_the_sftp_account_is_sftp_only(edge, keys):
    target = edge["edge"]
    assert target.run("id carol").returncode != 0
    key, _ = keys["offsite"]
    sftp = subprocess.run(
        ["sftp", *ssh_options(key), f"offsite@{target.address}"],
        input="pwd\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert sftp.returncode == 0 and "/home/offsite" in sftp.stdout, sftp.stderr
    shell = ssh_with_key(key, "offsite", target.address, "echo shell-works")
    assert "shell-works" not in shell.stdout  # the forced command runs sftp-server instead


def test_firewall_lets_in_what_the_roles_open_and_drops_the_rest(edge):
    target, probe, host = edge["edge"], edge["probe"], edge["gateway"]
    assert host_connects(target.address, 22) == "open"
    assert probe_connects(probe, target.address, 22) == "open"  # 192.168.0.0/16 is in ssh:sources
    assert host_connects(target.address, 80) == "open" and probe_connects(probe, target.address, 80) == "open"
    assert host_connects(target.address, 5432) == "open"  # this host is the rule's named source
    assert probe_connects(probe, target.address, 5432) == "dropped"
    assert host_connects(target.address, 6379) == "dropped" and probe_connects(probe, target.address, 6379) == "dropped"
    # The listeners are there: the firewall, not a missing service, keeps them out.
    assert target.run("timeout 3 bash -c '</dev/tcp/127.0.0.1/6379'").returncode == 0
    ruleset = target.run("nft list table inet sparks", check=True).stdout
    assert "policy drop;" in ruleset and f"ip saddr {host} tcp dport 5432 accept" in ruleset


def test_a_banned_address_is_dropped(edge):
    target, probe = edge["edge"], edge["probe"]
    target.run(f"fail2ban-client set sshd banip {probe.address}", check=True)
    try:
        # fail2ban acts on its own thread: wait until the address is in its nftables set.
        target.run(
            f"for i in $(seq 50); do nft list set inet f2b-table addr-set-sshd | grep -q '{probe.address}' && exit 0;"
            " sleep 0.1; done; exit 1",
            check=True,
        )
        assert probe_connects(probe, target.address, 22) == "dropped"
        assert probe_connects(probe, target.address, 80) == "open"  # the sshd jail bans SSH only
        assert host_connects(target.address, 22) == "open"
    finally:
        target.run(f"fail2ban-client set sshd unbanip {probe.address}", check=True)
    assert probe_connects(probe, target.address, 22) == "open"


def test_second_apply_changes_nothing(edge, salt_ssh):
    target = edge["edge"]
    target.run("echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAddedByHand x@y' >>/home/alice/.ssh/authorized_keys")
    repaired = salt_ssh.run(target.name, "state.apply", SLS)
    # Only the drift just made by hand is repaired.
    assert list(repaired.changed(target.name)) == ["accounts-user-alice-authorized-keys-managed"]
    again = salt_ssh.run(target.name, "state.apply", SLS)
    assert_converged(repaired, again, target.name)


@pytest.mark.platforms("debian13")
def test_a_run_that_would_leave_no_way_in_is_refused_and_changes_nothing(edge, salt_ssh):
    target = edge["edge"]
    before = snapshot(target)
    data = copy.deepcopy(edge["pillar"])
    accounts = data["sparks"]["accounts"]
    accounts["sshd"]["permit_root_login"] = "no"
    accounts["users"]["alice"]["sudo"] = False
    ret = apply(salt_ssh, edge, data, "accounts")
    assert ret.returncode != 0
    failed = ret.failed(target.name)
    guard = failed.pop("accounts-ssh-way-in-checked")
    assert "no way in" in guard["comment"] and "sparks:accounts:sshd:permit_root_login" in guard["comment"]
    assert all(r["comment"].startswith("One or more requisite failed") for r in failed.values())
    assert snapshot(target) == before


@pytest.mark.platforms("debian13")
def test_sshd_settings_sshd_refuses_never_replace_the_dropin(edge, salt_ssh):
    target = edge["edge"]
    before = target.read("/etc/ssh/sshd_config.d/10-sparks.conf")
    data = copy.deepcopy(edge["pillar"])
    data["sparks"]["accounts"]["sshd"]["settings"]["MaxAuthTries"] = "lots"
    ret = apply(salt_ssh, edge, data, "accounts")
    assert ret.returncode != 0
    comment = ret.failed(target.name)["accounts-sshd-dropin-managed"]["comment"]
    assert "check_cmd" in comment and "sshd refuses this configuration" in comment
    assert target.read("/etc/ssh/sshd_config.d/10-sparks.conf") == before
    assert target.run("sshd -t").returncode == 0


@pytest.mark.platforms("debian13")
def test_a_ruleset_nft_refuses_is_never_loaded(edge, salt_ssh):
    target = edge["edge"]
    before = snapshot(target)
    data = copy.deepcopy(edge["pillar"])
    data["sparks"]["firewall"]["extra_rules"] = ["tcp dport 9100 acept"]
    ret = apply(salt_ssh, edge, data, "firewall")
    assert ret.returncode != 0
    comment = ret.failed(target.name)["firewall-ruleset-file-managed"]["comment"]
    assert "check_cmd" in comment and "syntax error" in comment
    assert snapshot(target) == before


@pytest.mark.platforms("debian13")
def test_a_ruleset_keeping_out_the_connected_admin_is_refused(edge, salt_ssh):
    target = edge["edge"]
    before = snapshot(target)
    data = copy.deepcopy(edge["pillar"])
    data["sparks"]["firewall"]["ssh"] = {"port": 22, "sources": ["10.99.0.0/16"], "public": False}
    ret = apply(salt_ssh, edge, data, "firewall")
    assert ret.returncode != 0
    comment = ret.failed(target.name)["firewall-ssh-clients-kept"]["comment"]
    assert edge["gateway"] in comment and "sparks:firewall:ssh:sources" in comment
    assert snapshot(target) == before
    assert host_connects(target.address, 22) == "open"


# One test for both cases: a parametrized test may be reordered by pytest around the module's other tests.
@pytest.mark.platforms("debian13")
def test_bad_pillar_is_refused_before_anything_changes(edge, salt_ssh):
    target = edge["edge"]
    before = snapshot(target)
    for section, change, message in [
        (
            "firewall",
            {"ssh": {"sources": ["admin.example.org"]}},
            "sparks:firewall:ssh:sources[0]: expected an IP address or network",
        ),
        (
            "accounts",
            {"sshd": {"permit_root_login": False}},  # what a bare `no` is in YAML
            (
                "sparks:accounts:sshd:permit_root_login: expected one of yes, prohibit-password, "
                "forced-commands-only, no, got a boolean"
            ),
        ),
    ]:
        ret = apply(salt_ssh, edge, {"sparks": {section: change}})
        assert ret.returncode != 0
        assert message in ret.stdout, ret.stdout[-2000:]
    assert snapshot(target) == before


@pytest.mark.platforms("debian13")
def test_root_login_off_leaves_alice_as_the_way_in_for_salt_too(edge, salt_ssh, keys, target_run, tmp_path):
    """Root's SSH login off: alice (key, sudo) is then how salt-ssh gets in, and how root's login comes back."""
    target = edge["edge"]
    data = copy.deepcopy(edge["pillar"])
    data["sparks"]["accounts"]["sshd"]["permit_root_login"] = "no"
    ret = apply(salt_ssh, edge, data, "accounts")
    assert ret.returncode == 0, ret.stdout[-3000:]
    assert list(ret.changed(target.name)) == ["accounts-sshd-dropin-managed", "accounts-sshd-service-reloaded"]
    assert ssh_with_key(target_run.ssh_key, "root", target.address).returncode == 255
    assert ssh_with_key(keys["alice"][0], "alice", target.address, "sudo -n true").returncode == 0
    # salt-ssh as alice with sudo, as an admin would run it from now on: the same state, no changes.
    as_alice = SaltSSH(tmp_path / "salt-ssh-alice")
    entry = {**target.roster_entry(), "user": "alice", "priv": str(keys["alice"][0]), "sudo": True}
    as_alice.set_roster({target.name: entry})
    as_alice.set_pillar(data)
    again = as_alice.run(target.name, "state.apply", "accounts")
    assert_converged(ret, again, target.name)
    # Back to the example's policy, through alice.
    as_alice.set_pillar(edge["pillar"])
    back = as_alice.run(target.name, "state.apply", "accounts")
    assert list(back.changed(target.name)) == ["accounts-sshd-dropin-managed", "accounts-sshd-service-reloaded"]
    assert ssh_with_key(target_run.ssh_key, "root", target.address).returncode == 0
