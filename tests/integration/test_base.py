"""The `base` role applied for real with salt-ssh to fresh Debian 13 and Debian 12 targets, and checked there."""

import re

import pytest
import yaml

from tests.support.converge import assert_converged
from tests.support.saltrun import REPO_ROOT, example_pillar

pytestmark = pytest.mark.integration
DEFAULTS = yaml.safe_load((REPO_ROOT / "formulas/base/parameters/defaults.yaml").read_text())
EXAMPLE = example_pillar("base")["sparks"]["base"]


def snapshot(target):
    """What a run could change on a target: its installed packages and a checksum of every file in /etc."""
    etc = target.run("find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum", check=True).stdout
    return target.packages(), etc


@pytest.fixture(scope="module")
def based(target_run, platform, salt_ssh):
    """One target with `base` applied once (shared by the checks below, which only read it)."""
    (target,) = target_run.boot("base1", platform=platform)
    salt_ssh.set_pillar(example_pillar("base"))
    first = salt_ssh.run("base1", "state.apply", "base")
    yield target, first
    salt_ssh.set_pillar({})
    target_run.shutdown(target)


def test_first_apply_succeeds_and_changes_the_machine(based):
    target, first = based
    assert first.returncode == 0, first.stderr
    assert first.failed(target.name) == {}
    assert "base-packages-installed" in first.changed(target.name)


def test_every_listed_package_is_installed(based):
    target, _ = based
    wanted = set(DEFAULTS["packages"] + DEFAULTS["admin_packages"])
    wanted |= {"unattended-upgrades", "locales", "systemd-timesyncd", "needrestart"}
    assert wanted - target.packages() == set()


def test_admin_group_sudoes_without_password(based):
    target, _ = based
    dropin = target.run("stat -c '%a %U' /etc/sudoers.d/sparks && visudo -c", check=True).stdout
    assert dropin.startswith("440 root")
    dropin = target.read("/etc/sudoers.d/sparks")
    assert "%sudo ALL=(ALL:ALL) NOPASSWD: ALL" in dropin
    assert 'Defaults env_keep += "POWERLINE_SHELL"' in dropin  # the rule pillar.example adds
    target.run("id alice >/dev/null 2>&1 || useradd -m -G sudo alice", check=True)
    assert target.run("runuser -u alice -- sudo -n true").returncode == 0
    target.run("id bob >/dev/null 2>&1 || useradd -m bob", check=True)
    assert target.run("runuser -u bob -- sudo -n true").returncode != 0


def test_unattended_upgrades_run_daily(based):
    target, _ = based
    config = target.run("apt-config dump", check=True).stdout
    assert 'APT::Periodic::Update-Package-Lists "1";' in config
    assert 'APT::Periodic::Unattended-Upgrade "1";' in config
    assert 'Unattended-Upgrade::Mail "root";' in config  # pillar.example's setting
    timers = target.run("systemctl is-enabled apt-daily.timer apt-daily-upgrade.timer", check=True).stdout
    assert timers.split() == ["enabled", "enabled"]
    # unattended-upgrade itself accepts the configuration (a dry run parses every file).
    assert target.run("unattended-upgrade --dry-run", timeout=300).returncode == 0


def test_locale_and_fail2ban(based):
    target, _ = based
    assert "en_US.utf8" in target.run("locale -a", check=True).stdout
    assert "LANG=en_US.UTF-8" in target.read("/etc/default/locale")
    assert "Journal matches" in target.run("fail2ban-client status sshd", check=True).stdout


def test_time_synchronisation_is_set_up_and_left_to_the_host_in_a_container(based):
    target, _ = based
    config = target.run("systemd-analyze cat-config systemd/timesyncd.conf", check=True).stdout
    assert "NTP=" + " ".join(EXAMPLE["time"]["servers"]) in config
    unit = target.run("systemctl show -p UnitFileState -p ConditionResult -p ActiveState systemd-timesyncd").stdout
    assert "UnitFileState=enabled" in unit  # unmasked (the test image masks it) and enabled
    # What cannot be checked here: that the clock follows those servers. A container's clock is its host's, and
    # systemd itself refuses to run timesyncd in one (ConditionVirtualization=!container).
    assert target.run("systemd-detect-virt --container").returncode == 0
    assert "ConditionResult=no" in unit and "ActiveState=inactive" in unit


def test_journald_keeps_its_size_and_rate_limits(based):
    target, _ = based
    limits = EXAMPLE["journald"]
    config = target.run("systemd-analyze cat-config systemd/journald.conf", check=True).stdout
    assert f"SystemMaxUse={limits['system_max_use']}" in config
    assert f"RateLimitBurst={limits['rate_limit_burst']}" in config
    # journald was restarted with them: it says so when it opens the persistent journal.
    started = target.run("journalctl -b -u systemd-journald -o cat --no-pager", check=True).stdout
    opened = [line for line in started.splitlines() if line.startswith("System Journal (/var/log/journal/")]
    number, unit = re.fullmatch(r"(\d+)([KMG])", limits["system_max_use"]).groups()
    assert opened and re.search(rf"max {number}(\.0)?{unit}", opened[-1]), opened  # Debian 12 says 512.0M
    # A unit flooding the journal keeps only its burst per interval (journald scales the burst up with the free
    # disk space, by a factor of at most a few): the rest is dropped, not written.
    lines = 100_000
    target.run(f"systemd-run --wait -q --unit=sparks-log-flood seq {lines}", check=True, timeout=120)
    # journald reads the unit's stream on its own time: count once the count stops growing.
    kept = target.run(
        "journalctl --sync; last=-1; for i in $(seq 50); do"
        " now=$(journalctl -u sparks-log-flood -o cat --no-pager | grep -c '^[0-9]');"
        ' [ "$now" = "$last" ] && break; last=$now; sleep 0.3; done; echo $now',
        timeout=120,
    ).stdout.strip()
    assert limits["rate_limit_burst"] <= int(kept) <= 10 * limits["rate_limit_burst"] < lines


def main_pid(target, unit):
    return target.run(f"systemctl show -p MainPID --value {unit}", check=True).stdout.strip()


def zlib_user_running(target, unit):
    """A service ``unit`` mapping zlib, as every daemon linked with it does; its MainPID."""
    library = target.run("dpkg -L zlib1g | grep 'libz.so.1$' | head -1", check=True).stdout.strip()
    target.run(f"systemd-run -q --unit={unit} -p Environment=LD_PRELOAD={library} sleep infinity", check=True)
    return main_pid(target, unit)


def upgrade_zlib(target):
    """What an upgrade does to a library: dpkg writes a new file and renames it over the old one. Then apt's
    DPkg::Post-Invoke hook runs needrestart, as it does after every unattended upgrade."""
    return target.run("apt-get install -y -q --reinstall zlib1g", check=True, timeout=300).stdout


def test_services_using_a_replaced_library_are_restarted(based):
    target, _ = based
    assert EXAMPLE["restarts"]["mode"] == "automatic"
    before = zlib_user_running(target, "sparks-zlib-user")
    output = upgrade_zlib(target)
    assert "sparks-zlib-user.service" in output, output[-2000:]
    assert main_pid(target, "sparks-zlib-user") not in (before, "0")


def test_reboot_required_follows_the_flag_a_kernel_upgrade_leaves(based, salt_ssh):
    target, _ = based
    assert salt_ssh.run(target.name, "sparks_reboot.required").data[target.name] is False
    # unattended-upgrades' kernel hook, run as a new kernel package's postinst runs it: it writes Debian's flag.
    kernel = "linux-image-6.99.0-sparks-test"
    target.run(
        f"DPKG_MAINTSCRIPT_PACKAGE={kernel} DPKG_MAINTSCRIPT_NAME=postinst "
        "/etc/kernel/postinst.d/unattended-upgrades 6.99.0-sparks-test /boot/vmlinuz-6.99.0-sparks-test",
        check=True,
    )
    try:
        status = salt_ssh.run(target.name, "sparks_reboot.status").data[target.name]
        assert status["required"] is True
        assert status["reasons"] == [f"/run/reboot-required (packages: {kernel})"]
    finally:
        target.run("rm -f /run/reboot-required /run/reboot-required.pkgs")
    assert salt_ssh.run(target.name, "sparks_reboot.required").data[target.name] is False


def test_second_apply_changes_nothing(based, salt_ssh):
    target, first = based
    again = salt_ssh.run(target.name, "state.apply", "base")
    assert_converged(first, again, target.name)


# The policy's other value: one more apply each way, and needrestart's logic does not depend on the release.
@pytest.mark.platforms("debian13")
def test_restart_policy_list_only_reports(based, salt_ssh):
    target, _ = based
    salt_ssh.set_pillar(example_pillar("base", base={"restarts": {**EXAMPLE["restarts"], "mode": "list"}}))
    try:
        listed = salt_ssh.run(target.name, "state.apply", "base")
        assert list(listed.changed(target.name)) == ["base-restarts-needrestart-config-managed"]
        before = zlib_user_running(target, "sparks-zlib-listed")
        upgrade_zlib(target)
        assert main_pid(target, "sparks-zlib-listed") == before
        status = salt_ssh.run(target.name, "sparks_reboot.status").data[target.name]
        assert "sparks-zlib-listed.service" in status["services"] and status["required"] is False
    finally:
        salt_ssh.set_pillar(example_pillar("base"))
        back = salt_ssh.run(target.name, "state.apply", "base")
    assert list(back.changed(target.name)) == ["base-restarts-needrestart-config-managed"]


# Refusals of bad input: the same checks (visudo, our pillar checker on the salt-ssh side) on both releases, and
# each costs an apply (and the bad-pillar cases a boot each), so Debian 13 only.
@pytest.mark.platforms("debian13")
def test_sudoers_rule_that_fails_visudo_is_refused_and_old_file_stays(based, salt_ssh):
    target, _ = based
    before = target.read("/etc/sudoers.d/sparks")
    salt_ssh.set_pillar({"sparks": {"base": {"sudo": {"rules": ["alice ALL=(ALL NOPASSWD: ALL"]}}}})
    try:
        ret = salt_ssh.run(target.name, "state.apply", "base.sudo")
    finally:
        salt_ssh.set_pillar({})
    failed = ret.failed(target.name)
    assert list(failed) == ["base-sudo-dropin-managed"]
    assert "check_cmd" in failed["base-sudo-dropin-managed"]["comment"]
    assert target.read("/etc/sudoers.d/sparks") == before
    assert target.run("visudo -c").returncode == 0
    assert ret.returncode != 0


@pytest.mark.platforms("debian13")
@pytest.mark.parametrize(
    "pillar, message",
    [
        ({"packages": "htop vim"}, "sparks:base:packages: expected a list, got a string ('htop vim')"),
        ({"no_such_switch": True}, "sparks:base:no_such_switch: unknown key"),
        ({"sudo": {"nopasswd": "yes"}}, "sparks:base:sudo:nopasswd: expected a boolean, got a string ('yes')"),
    ],
    ids=["list-given-as-string", "unknown-key", "wrong-type-nested"],
)
def test_bad_pillar_is_refused_before_anything_changes(boot, salt_ssh, pillar, message):
    (target,) = boot("bad1")
    before = snapshot(target)
    salt_ssh.set_pillar({"sparks": {"base": pillar}})
    ret = salt_ssh.run(target.name, "state.apply", "base")
    assert ret.returncode != 0
    assert message in ret.stdout
    assert snapshot(target) == before


# Each formula's clean state, applied once for real and then again with zero changes: its logic (the same package
# names and paths from the map) does not depend on the release, so Debian 13 only. Last in the module: it undoes
# what the checks above read.
@pytest.mark.platforms("debian13")
def test_clean_removes_the_dropins_and_packages_and_keeps_sudo(based, salt_ssh):
    target, _ = based
    ret = salt_ssh.run(target.name, "state.apply", "base.clean")
    assert ret.returncode == 0, ret.stdout[-3000:] + ret.stderr[-3000:]
    assert ret.failed(target.name) == {}
    assert set(ret.changed(target.name)) == {"base-clean-config-absent", "base-clean-packages-removed"}
    for path in (
        "/etc/sudoers.d/sparks",
        "/etc/apt/apt.conf.d/52sparks-unattended-upgrades",
        "/etc/fail2ban/jail.d/sparks.local",
    ):
        assert not (target.root / path.lstrip("/")).exists(), path
    removed = set(DEFAULTS["packages"] + DEFAULTS["admin_packages"]) - {"sudo"}
    assert removed & target.packages() == set()
    assert "sudo" in target.packages()  # never removed: it may be how the admins get in
    assert target.run("visudo -c").returncode == 0
    again = salt_ssh.run(target.name, "state.apply", "base.clean")
    assert_converged(ret, again, target.name)
