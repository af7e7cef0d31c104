"""sparks_lxc states with the LXC tools faked: a converged guest changes nothing, test=True is truthful and
writes nothing, config drift restarts a running guest, lxc-net restarts only when the running one differs."""

from pathlib import Path

import pytest

from tests.support.loadmod import load

sparks_lxc = load("_states", "sparks_lxc")
KEY = "ssh-ed25519 AAAAtest admin@example"
ARGS = {
    "address": "10.213.77.11/24",
    "gateway": "10.213.77.1",
    "subnet": "10.213.77.0/24",
    "bridge": "lxcbr0",
    "memory_limit": "512M",
    "authorized_keys": [KEY],
    "packages": ["python3"],
}


class FakeLXC:
    """lxc-config / lxc-info / dpkg-query / lxc-start / lxc-stop answered from a temporary LXC path."""

    def __init__(self, root):
        self.root = Path(root)
        self.state = "RUNNING"
        self.calls = []

    def __call__(self, cmd, **kwargs):
        self.calls.append(cmd)
        ok = {"retcode": 0, "stdout": "", "stderr": ""}
        if cmd[0] == "lxc-config":
            return {**ok, "stdout": str(self.root)}
        if cmd[0] == "lxc-info":
            return {**ok, "stdout": self.state} if (self.root / cmd[2]).is_dir() else {**ok, "retcode": 1}
        if cmd[0] == "dpkg-query":
            return {**ok, "stdout": "install ok installed"}
        if cmd[0] == "lxc-stop":
            self.state = "STOPPED"
        if cmd[0] == "lxc-start":
            self.state = "RUNNING"
        return ok

    def mutating(self):
        return [c for c in self.calls if c[0] in ("lxc-create", "lxc-start", "lxc-stop", "lxc-attach")]


@pytest.fixture
def configure_loader_modules():
    return {sparks_lxc: {"__salt__": {}, "__opts__": {"test": False}}}


@pytest.fixture
def lxc(tmp_path, monkeypatch):
    fake = FakeLXC(tmp_path)
    sparks_lxc.__salt__["cmd.run_all"] = fake
    monkeypatch.setattr(sparks_lxc.salt.utils.path, "which", lambda name: f"/usr/bin/{name}")
    guest = tmp_path / "web1"
    (guest / "rootfs").mkdir(parents=True)
    (guest / "config").write_text(
        f"lxc.net.0.type = veth\nlxc.net.0.link = lxcbr0\nlxc.net.0.flags = up\n"
        f"lxc.rootfs.path = dir:{guest / 'rootfs'}\n"
    )
    return fake


def converge(lxc):
    first = sparks_lxc.present("web1", **ARGS)
    assert first["result"] is True, first
    lxc.calls.clear()


def test_drift_restarts_the_running_guest_then_nothing_changes(lxc):
    ret = sparks_lxc.present("web1", **ARGS)
    assert ret["result"] is True
    assert set(ret["changes"]) == {"config", "files", "state"}
    assert ret["changes"]["state"]["restarted"] is True
    config = (lxc.root / "web1/config").read_text()
    assert "lxc.start.auto = 1" in config
    assert sparks_lxc._memory_key() + " = 512M" in config
    rootfs = lxc.root / "web1/rootfs"
    assert "address 10.213.77.11/24" in (rootfs / "etc/network/interfaces").read_text()
    assert (rootfs / "root/.ssh/authorized_keys").read_text() == KEY + "\n"
    assert (rootfs / "root/.ssh/authorized_keys").stat().st_mode & 0o777 == 0o600
    assert "bookworm-security" in (rootfs / "etc/apt/sources.list").read_text()

    lxc.calls.clear()
    again = sparks_lxc.present("web1", **ARGS)
    assert again == {"name": "web1", "result": True, "changes": {}, "comment": "web1 is running and as declared"}
    assert lxc.mutating() == []


def test_dry_run_reports_and_writes_nothing(lxc):
    converge(lxc)
    sparks_lxc.__opts__["test"] = True
    before = (lxc.root / "web1/config").read_text()
    ret = sparks_lxc.present("web1", **{**ARGS, "memory_limit": "1G", "authorized_keys": [KEY, KEY + "2"]})
    assert ret["result"] is None
    assert set(ret["changes"]) == {"config", "files", "state"}
    assert ret["changes"]["files"] == ["root/.ssh/authorized_keys"]
    assert (lxc.root / "web1/config").read_text() == before
    assert lxc.mutating() == []
    assert sparks_lxc.present("web1", **ARGS)["changes"] == {}


def test_new_keys_alone_do_not_restart(lxc):
    converge(lxc)
    ret = sparks_lxc.present("web1", **{**ARGS, "authorized_keys": [KEY, KEY + "2"]})
    assert set(ret["changes"]) == {"files"}
    assert lxc.mutating() == []


def test_missing_guest_dry_run(lxc):
    sparks_lxc.__opts__["test"] = True
    ret = sparks_lxc.present("db1", **{**ARGS, "address": "10.213.77.12/24"})
    assert ret["result"] is None and ret["changes"]["created"] == "debian bookworm"
    assert lxc.mutating() == []


@pytest.mark.parametrize(
    "result, how",
    [
        (
            {"retcode": 1, "stdout": "Failed to download the rootfs, aborting.", "stderr": "lxc-create: db1: Error"},
            "exited 1",
        ),
        ({"retcode": 0, "stdout": "Copying rootfs...", "stderr": ""}, "exited 0 but left no"),
    ],
    ids=["non-zero-exit", "exit-0-without-config"],
)
def test_failed_lxc_create_names_the_command_its_exit_and_output(lxc, result, how):
    """The template's failure (stdout) and LXC's (stderr) reach the comment; no later step runs on a missing guest."""
    fake_run = lxc.__call__

    def run(cmd, **kwargs):
        if cmd[0] == "lxc-create":
            lxc.calls.append(cmd)
            return {"retcode": 0, "stdout": "", "stderr": "", **result}
        return fake_run(cmd, **kwargs)

    sparks_lxc.__salt__["cmd.run_all"] = run
    ret = sparks_lxc.present("db1", **{**ARGS, "address": "10.213.77.12/24", "release": "trixie"})
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"].startswith(f"lxc-create -n db1 -t debian -- -r trixie {how}")
    for stream in ("stdout", "stderr"):
        if result[stream]:
            assert f"{stream} (last 20 lines):\n{result[stream]}" in ret["comment"]
    assert [call[0] for call in lxc.mutating()] == ["lxc-create"]
    assert not (lxc.root / "db1").exists()


def test_address_outside_the_subnet_fails(lxc):
    ret = sparks_lxc.present("web1", **{**ARGS, "address": "10.0.3.5/24"})
    assert ret["result"] is False and "outside" in ret["comment"]


def test_net_differences(monkeypatch, tmp_path):
    flag = tmp_path / "network_up"
    monkeypatch.setattr(sparks_lxc, "LXC_NET_UP_FLAG", str(flag))
    monkeypatch.setattr(sparks_lxc, "_bridge_addresses", lambda bridge: ["10.213.77.1/24"])
    args = [
        "dnsmasq",
        "--listen-address",
        "10.213.77.1",
        "--dhcp-range",
        "10.213.77.200,10.213.77.250",
        "--dhcp-lease-max=51",
        "--interface=lxcbr0",
    ]
    monkeypatch.setattr(sparks_lxc, "_dnsmasq_args", lambda: args)
    wanted = ("lxcbr0", "10.213.77.1/24", "10.213.77.200,10.213.77.250", 51, "")
    assert sparks_lxc._net_differences(*wanted) == ["lxc-net is down"]
    flag.touch()
    assert sparks_lxc._net_differences(*wanted) == []
    assert sparks_lxc._net_differences("lxcbr0", "10.213.77.1/24", "10.213.77.210,10.213.77.240", 51, "") == [
        "dnsmasq runs without --dhcp-range 10.213.77.210,10.213.77.240"
    ]
    assert sparks_lxc._net_differences("lxcbr0", "10.213.78.1/24", *wanted[2:]) == [
        "lxcbr0 has 10.213.77.1/24, not 10.213.78.1/24"
    ]
