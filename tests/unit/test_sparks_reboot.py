"""sparks_reboot in isolation: the module's reading of Debian's flag and needrestart's report (faked), and the rolling
runner's order and stops against a fake fleet (a LocalClient stand-in whose minions "reboot" when asked). Both run
for real in tests/integration/test_base.py and test_reboots.py."""

import io

import pytest

from tests.support.loadmod import load

module = load("_modules", "sparks_reboot")
runner = load("_runners", "sparks_reboot")

NEEDRESTART = """NEEDRESTART-VER: 3.6
NEEDRESTART-KCUR: 6.1.0-17-amd64
NEEDRESTART-KEXP: 6.1.0-18-amd64
NEEDRESTART-KSTA: 3
NEEDRESTART-SVC: dbus.service
NEEDRESTART-SVC: systemd-logind.service
"""


@pytest.fixture
def flags(tmp_path, monkeypatch):
    monkeypatch.setattr(module, "FLAG", str(tmp_path / "reboot-required"))
    monkeypatch.setattr(module, "FLAG_PACKAGES", str(tmp_path / "reboot-required.pkgs"))
    monkeypatch.setattr(module, "boot", lambda: "boot-1")

    def needrestart(stdout="NEEDRESTART-VER: 3.6\n", present=True):
        monkeypatch.setattr(module.salt.utils.path, "which", lambda name: "/usr/sbin/" + name if present else None)
        run = lambda cmd, **kwargs: {"retcode": 0, "stdout": stdout, "stderr": ""}  # noqa: E731
        monkeypatch.setattr(module, "__salt__", {"cmd.run_all": run}, raising=False)

    return tmp_path, needrestart


def test_nothing_pending_means_no_reboot(flags):
    _, needrestart = flags
    needrestart()
    assert module.status() == {"required": False, "reasons": [], "services": [], "boot": "boot-1"}


def test_debians_flag_and_its_packages(flags):
    folder, needrestart = flags
    needrestart()
    (folder / "reboot-required").write_text("*** System restart required ***\n")
    (folder / "reboot-required.pkgs").write_text("libc6\nlinux-image-6.1.0-18-amd64\nlibc6\n")
    assert module.status()["reasons"] == [f"{folder}/reboot-required (packages: libc6, linux-image-6.1.0-18-amd64)"]
    assert module.required() is True


def test_a_pending_kernel_from_needrestart_and_services_listed_apart(flags):
    _, needrestart = flags
    needrestart(NEEDRESTART)
    status = module.status()
    assert status["reasons"] == ["kernel 6.1.0-17-amd64 is running, 6.1.0-18-amd64 is installed"]
    assert status["services"] == ["dbus.service", "systemd-logind.service"]


def test_without_needrestart_only_the_flag_counts(flags):
    _, needrestart = flags
    needrestart(present=False)
    assert module.status()["required"] is False


def test_boot_id_reads_pid1_start_time(monkeypatch, tmp_path):
    files = {
        "/proc/sys/kernel/random/boot_id": "be6f4c00-637f\n",
        "/proc/1/stat": "1 (systemd (odd) name) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 613181 2 3\n",
    }
    monkeypatch.setattr("builtins.open", lambda path, **kwargs: io.StringIO(files[path]))
    assert module.boot() == "be6f4c00-637f:613181"


# ----------------------------------------------------------------------------------------------------- runner
class FakeFleet:
    """Minions answering LocalClient.cmd. A reboot takes them away for ``down_polls`` boot polls, then they come
    back with a new boot id; ``unhealthy`` ones come back degraded; every call is logged in order."""

    def __init__(self, needing, unhealthy=(), down_polls=2, never_back=()):
        self.minions = {name: {"boot": 1, "required": name in needing, "down": 0} for name in ("web1", "web2", "web3")}
        self.unhealthy, self.down_polls, self.never_back = set(unhealthy), down_polls, set(never_back)
        self.log = []

    def cmd(self, tgt, fun, arg=(), kwarg=None, timeout=None, tgt_type="glob", full_return=False, **options):
        if fun == "test.ping":
            return {name: True for name in self.minions}
        minion = self.minions[tgt]
        self.log.append((tgt, fun))
        if minion["down"]:
            minion["down"] -= 1
            if not minion["down"] and tgt not in self.never_back:
                minion["boot"] += 1
                minion["required"] = False
            return {}
        answers = {
            "sparks_reboot.boot": lambda: minion["boot"],
            "sparks_reboot.required": lambda: minion["required"],
            "state.highstate": lambda: {"file_|-x_|-x_|-managed": {"__id__": "x", "result": True, "comment": ""}},
            "sparks_reboot.healthy": lambda: {
                "healthy": tgt not in self.unhealthy,
                "state": "degraded" if tgt in self.unhealthy else "running",
                "failed": ["broken.service"] if tgt in self.unhealthy else [],
            },
        }
        if fun == "sparks_reboot.reboot":
            rebooting = minion["required"] or not kwarg["only_if_required"]
            if rebooting:
                minion["down"] = self.down_polls + 1
            ret = {"rebooting": rebooting, "reasons": ["flag"] if rebooting else [], "boot": minion["boot"]}
        else:
            ret = answers[fun]()
        return {tgt: {"ret": ret, "retcode": 0}}


@pytest.fixture
def fleet(monkeypatch):
    def _fleet(**kwargs):
        fake = FakeFleet(**kwargs)
        monkeypatch.setattr(runner, "_client", lambda: fake)
        monkeypatch.setattr(runner.time, "sleep", lambda seconds: None)
        return fake

    return _fleet


def rolling(**kwargs):
    return runner.rolling("web*", poll=0, **kwargs)


def test_one_at_a_time_each_back_converged_and_healthy_before_the_next(fleet):
    fake = fleet(needing={"web1", "web3"})
    ret = rolling()
    assert ret["result"] is True and ret["retcode"] == 0
    assert ret["comment"] == "2 of 3 rebooted, one at a time; all back and healthy"
    assert [ret["nodes"][name]["rebooted"] for name in ("web1", "web2", "web3")] == [True, False, True]
    # Every call to web1 (reboot, wait, highstate, health) comes before the first call to web2.
    order = [name for name, _ in fake.log]
    assert order == sorted(order)
    web1 = [fun for name, fun in fake.log if name == "web1"]
    assert web1[0] == "sparks_reboot.reboot" and web1[-3:] == [
        "state.highstate",
        "sparks_reboot.healthy",
        "sparks_reboot.required",
    ]


def test_an_unhealthy_node_stops_the_roll_and_the_rest_is_untouched(fleet):
    fake = fleet(needing={"web1", "web2", "web3"}, unhealthy={"web2"})
    ret = rolling()
    assert ret["result"] is False and ret["retcode"] == 1
    assert ret["comment"] == "stopped at web2: not healthy"
    assert ret["nodes"]["web2"]["health"]["failed"] == ["broken.service"]
    assert ret["untouched"] == ["web3"]
    assert not [call for call in fake.log if call[0] == "web3"]


def test_a_node_that_does_not_come_back_stops_the_roll(fleet):
    fleet(needing={"web1"}, never_back={"web1"}, down_polls=1_000_000)
    ret = rolling(boot_timeout=0)
    assert ret["comment"] == "stopped at web1: not back within 0 s" and ret["untouched"] == ["web2", "web3"]


def test_forced_reboots_every_node(fleet):
    fleet(needing=set())
    ret = rolling(only_if_required=False)
    assert all(node["rebooted"] for node in ret["nodes"].values())
