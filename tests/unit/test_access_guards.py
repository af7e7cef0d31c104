"""The two lock-out guards in isolation: `sparks_accounts.way_in` (no way in over SSH) and `sparks_firewall.ssh_kept`
(a connected SSH client left out). The machine's accounts, keys, connections and sshd are faked; both are applied
for real in tests/integration/test_access.py."""

import ipaddress
import struct
import types

import pytest

from tests.support.loadmod import load

sparks_accounts = load("_states", "sparks_accounts")
sparks_firewall = load("_states", "sparks_firewall")
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyForUnitTestsOnly alice@laptop"


@pytest.fixture
def machine(monkeypatch):
    """Accounts as pwd/grp and the key files would report them: {name: (home, shell, [key lines])}."""
    state = {"users": {"root": ("/root", "/bin/bash", [])}, "sudoers": set()}

    def getpwnam(name):
        if name not in state["users"]:
            raise KeyError(name)
        home, shell, _ = state["users"][name]
        return types.SimpleNamespace(pw_name=name, pw_dir=home, pw_shell=shell)

    def key_lines(home):
        return next(keys for user_home, _, keys in state["users"].values() if user_home == home)

    monkeypatch.setattr(sparks_accounts.pwd, "getpwnam", getpwnam)
    monkeypatch.setattr(sparks_accounts, "_key_lines", key_lines)
    monkeypatch.setattr(sparks_accounts, "_sudoers_now", lambda group: state["sudoers"])
    return state


def way_in(users, password_authentication=False, permit_root_login="prohibit-password"):
    return sparks_accounts.way_in("check", users, "sudo", password_authentication, permit_root_login)


@pytest.mark.parametrize(
    "line, expected",
    [
        (KEY, True),
        ('restrict,command="/usr/lib/openssh/sftp-server" ' + KEY, True),
        ('command="echo a b" ecdsa-sha2-nistp256 AAAA x', True),
        ("# ssh-ed25519 AAAA commented out", False),
        ("", False),
        ("not a key", False),
    ],
)
def test_key_lines_are_recognised_with_options(line, expected):
    assert sparks_accounts.has_key([line]) is expected


def test_root_with_a_key_is_a_way_in_unless_root_login_is_off(machine):
    machine["users"]["root"] = ("/root", "/bin/bash", [KEY])
    assert way_in({})["result"] is True
    refused = way_in({}, permit_root_login="no")
    assert refused["result"] is False and refused["changes"] == {}
    assert (
        "sparks:accounts:sshd:permit_root_login" in refused["comment"] and "Nothing was changed" in refused["comment"]
    )


def test_a_pillar_user_needs_a_key_sudo_and_a_shell(machine):
    alice = {"present": True, "sudo": True, "ssh_keys": [KEY], "shell": "/bin/bash"}
    assert way_in({"alice": alice}, permit_root_login="no")["comment"] == "Ways in after this run: alice (key, sudo)"
    for change in ({"sudo": False}, {"ssh_keys": []}, {"present": False}, {"shell": "/usr/sbin/nologin"}):
        assert way_in({"alice": {**alice, **change}}, permit_root_login="no")["result"] is False, change


def test_users_outside_pillar_count_as_they_are_but_pillar_decides_for_its_own(machine):
    machine["users"]["bob"] = ("/home/bob", "/bin/bash", [KEY])
    machine["sudoers"] = {"bob"}
    assert way_in({}, permit_root_login="no")["comment"] == "Ways in after this run: bob (key, sudo; not in pillar)"
    # Pillar removing bob (or taking his sudo away) is judged by pillar, not by what bob is now.
    assert way_in({"bob": {"present": False}}, permit_root_login="no")["result"] is False


def test_password_logins_left_on_are_a_way_in(machine):
    assert way_in({}, password_authentication=True, permit_root_login="no")["result"] is True


# ----------------------------------------------------------------------------------------------------- firewall
def proc_hex(address, port):
    """``address:port`` as /proc/net/tcp{,6} print them: each 32-bit word of the address in host order, in hex."""
    packed = ipaddress.ip_address(address).packed
    words = struct.unpack(f"<{len(packed) // 4}I", packed)
    return "".join(f"{word:08X}" for word in words) + f":{port:04X}"


def proc_line(local, remote, state):
    return f"   0: {proc_hex(*local)} {proc_hex(*remote)} {state} 00000000:00000000 00:00000000 00000000  0 0 1 1"


HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
TCP = [
    proc_line(("0.0.0.0", 22), ("0.0.0.0", 0), "0A"),  # the listener
    proc_line(("192.168.231.10", 22), ("192.168.231.1", 53924), "01"),
    proc_line(("192.168.231.10", 80), ("192.168.231.11", 53926), "01"),  # not SSH
    proc_line(("192.168.231.10", 22), ("192.168.231.12", 53928), "06"),  # TIME_WAIT
]
TCP6 = [
    proc_line(("::ffff:192.168.231.10", 22), ("::ffff:192.168.231.13", 53930), "01"),
    proc_line(("fe80::1", 22), ("fe80::2", 53932), "01"),
]


def test_established_ssh_peers_are_read_from_proc(tmp_path):
    (tmp_path / "tcp").write_text("\n".join([HEADER, *TCP]) + "\n")
    (tmp_path / "tcp6").write_text("\n".join([HEADER, *TCP6]) + "\n")
    peers = sparks_firewall.established_peers({22}, (tmp_path / "tcp", tmp_path / "tcp6"))
    # Established to port 22 only: not the listener (0A), not port 80, not TIME_WAIT (06); IPv4-mapped made IPv4.
    assert peers == {
        ipaddress.ip_address("192.168.231.1"),
        ipaddress.ip_address("192.168.231.13"),
        ipaddress.ip_address("fe80::2"),
    }


def test_left_out_peers():
    peers = {ipaddress.ip_address("192.168.231.1"), ipaddress.ip_address("2001:db8::5")}
    assert sparks_firewall.left_out(peers, ["192.168.0.0/16"], public=False) == ["2001:db8::5"]
    assert sparks_firewall.left_out(peers, ["192.168.0.0/16", "2001:db8::/32"], public=False) == []
    assert sparks_firewall.left_out(peers, [], public=True) == []


@pytest.fixture
def sshd(monkeypatch):
    def _sshd(ports=(22,), peers=(), own=None, retcode=0):
        stdout = "\n".join(f"port {port}" for port in ports) + "\npermitrootlogin without-password\n"
        run = lambda cmd, **kwargs: {"retcode": retcode, "stdout": stdout, "stderr": "sshd: bad config"}  # noqa: E731
        monkeypatch.setattr(sparks_firewall, "__salt__", {"cmd.run_all": run}, raising=False)
        monkeypatch.setattr(sparks_firewall, "established_peers", lambda p: {ipaddress.ip_address(a) for a in peers})
        if own:
            monkeypatch.setenv("SSH_CONNECTION", f"{own} 50000 192.168.231.10 22")
        else:
            monkeypatch.delenv("SSH_CONNECTION", raising=False)

    return _sshd


def test_ssh_kept_refuses_a_port_sshd_does_not_listen_on(sshd):
    sshd(ports=(22,))
    ret = sparks_firewall.ssh_kept("check", port=2222, sources=[], public=True)
    assert ret["result"] is False and "sparks:firewall:ssh:port" in ret["comment"] and ret["changes"] == {}


def test_ssh_kept_refuses_sources_leaving_out_this_runs_own_session(sshd):
    sshd(peers=["10.0.0.7"], own="192.168.231.1")
    ret = sparks_firewall.ssh_kept("check", port=22, sources=["10.0.0.0/8"], public=False)
    assert ret["result"] is False
    assert "(192.168.231.1)" in ret["comment"] and "sparks:firewall:ssh:sources" in ret["comment"]
    ok = sparks_firewall.ssh_kept("check", port=22, sources=["10.0.0.0/8", "192.168.231.1"], public=False)
    assert ok["result"] is True


def test_ssh_kept_refuses_when_sshd_config_cannot_be_read(sshd):
    sshd(retcode=255)
    ret = sparks_firewall.ssh_kept("check", port=22, sources=[], public=True)
    assert ret["result"] is False and "sshd: bad config" in ret["comment"]
